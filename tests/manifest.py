"""The built-in configurations' state spaces as a committed manifest, so that any change
to the model's state space shows in review: states, transitions, depth and the verdict of
every property under the baseline, per built-in.

Regenerate after an intended model change with `.venv/bin/python -m tests.manifest`, and
say in the commit why the numbers moved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import explore
from dmabuf_mc.checker.engines.native import explore_native
from dmabuf_mc.checker.native.toolchain import compiler
from dmabuf_mc.model.build import build
from dmabuf_mc.model.config import builtin_names, load
from dmabuf_mc.model.policy import BASELINE

MANIFEST = Path(__file__).parent / "data" / "builtins-manifest.json"
full_search = explore_native if compiler() else explore
"""Either explicit engine: they see the same states (tests/checker/test_native.py)."""


def measure() -> dict[str, Any]:
    """Per built-in: its kernel, state counts, depth and each property's verdict."""
    out: dict[str, Any] = {}
    for name in builtin_names():
        cfg = load(name)
        ts = build(cfg, BASELINE)
        every = [p.name for p in ts.properties]  # the opt-in ones too
        report = check(ts, every, ())
        full = full_search(compile_system(ts), every, stop_when_refuted=False).stats
        out[name] = {
            "kernel": str(cfg.kernel.version),
            "states": full.states,
            "transitions": full.transitions,
            "depth": full.depth,
            "verdicts": {r.name: r.verdict.value for r in report.results},
        }
    return out


if __name__ == "__main__":
    MANIFEST.write_text(json.dumps(measure(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {MANIFEST}")
