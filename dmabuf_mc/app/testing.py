"""Properties as tests in a user's own CI: check, prove or fuzz a configuration under a
policy and fail with the replayed trace. The pytest plugin (`dmabuf_mc.app.pytest_plugin`)
is the usual way in; these functions are what it calls.

    from dmabuf_mc.app.testing import random_histories
    test_my_heaps = random_histories(["heap-bracketed", "my-config.toml"], properties=["device-reads-latest"])
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from dmabuf_mc.checker.check import check, fuzz_check
from dmabuf_mc.checker.engines.explicit import Limits
from dmabuf_mc.checker.prover import prove
from dmabuf_mc.checker.render import run_text
from dmabuf_mc.checker.verdict import PropertyResult, Verdict
from dmabuf_mc.model import catalog
from dmabuf_mc.model.provenance import resolve
from dmabuf_mc.model.versions import kernel_line
from dmabuf_mc.model.view import view

MODES = ("check", "prove", "fuzz")


@dataclass(frozen=True)
class Settings:
    """Limits on work, so a test takes as long on every machine: `check` stops at
    `max_states` or `max_depth` (then UNKNOWN, a failure), `prove` unrolls to `prove_depth`,
    `fuzz` runs `examples` histories of up to `steps` calls from `seed`."""

    max_states: int | None = 1_000_000
    max_depth: int | None = None
    prove_engine: str = "pdr"
    prove_depth: int = 30
    examples: int = 50
    steps: int = 200
    seed: int = 0


class ModelCheckFailed(AssertionError):
    """A property is violated, the policy refuses the configuration, or a check or proof
    could not decide: the message is the report with every replayed trace."""

    def __init__(self, run: str, report: str) -> None:
        super().__init__(f"{run}\n{report}")
        self.report = report


VARIANT_TAIL = re.compile(r"(\[[^\]]*\])*$")


def relative_to(name: str, base: Path) -> str:
    """`name` as the command line takes it, with a file path read relative to `base` (a
    test's directory) rather than the working directory. Built-in names, `sweep:` names
    and a policy's `[RULE=VALUE]`/`[-OBLIGATION]` variants are kept as they are."""
    start = next(VARIANT_TAIL.finditer(name)).start()  # the pattern matches at the end of every string
    stem, variants = name[:start], name[start:]
    path = base / stem
    return str(path) + variants if stem and not Path(stem).is_absolute() and path.is_file() else name


def verify(config: str, policy: str = "baseline", mode: str = "check", properties: Sequence[str] = (),
           without: Sequence[str] = (), settings: Settings = Settings()) -> tuple[PropertyResult, ...]:
    """Check, prove or fuzz `config` under `policy` (named as on the command line); raise
    ModelCheckFailed with the report when anything is violated or refused, or, for check
    and prove, left undecided. Random histories prove nothing, so `fuzz` passes when they
    find no violation."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
    prov = resolve(config, catalog.policy(policy))
    cfg, ts = prov.system()
    cells = partial(view, cfg)
    if mode == "check":
        run = check(ts, properties, without, Limits(settings.max_states, settings.max_depth))
    elif mode == "prove":
        with tempfile.TemporaryDirectory(prefix="dmabuf-mc-certificates-") as certificates:
            run = prove(ts, settings.prove_engine, properties, without, settings.prove_depth, None,
                        Path(certificates), prov.record())
    else:
        run = fuzz_check(ts, properties, without, settings.examples, settings.steps, settings.seed)
    results, text = run.results, run_text(run, cells)
    failing = (Verdict.REFUTED, Verdict.REFUSED) + (() if mode == "fuzz" else (Verdict.UNKNOWN,))
    if any(r.verdict in failing for r in results):
        raise ModelCheckFailed(f"{mode} {config} under {policy}", f"{kernel_line(cfg)}\n{text}")
    return results


def check_random_histories(config: str, policy: str = "baseline", properties: Sequence[str] = (),
                           examples: int = 50, seed: int = 0) -> None:
    """Raise ModelCheckFailed (an AssertionError) with the trace if random histories
    violate a property."""
    verify(config, policy, "fuzz", properties, settings=Settings(examples=examples, seed=seed))


def random_histories(configs: Sequence[str], policy: str = "baseline", properties: Sequence[str] = (),
                     examples: int = 50, seed: int = 0) -> Callable[[str], None]:
    """A pytest test function, parametrised over `configs`."""
    import pytest

    @pytest.mark.parametrize("config", list(configs))
    def test(config: str) -> None:
        check_random_histories(config, policy, properties, examples, seed)

    return test
