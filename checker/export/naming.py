"""Identifiers for the variables of a system in languages that are stricter than our names.

`cache[0]` or `attached[display]` are not identifiers in Promela or TLA+; each variable gets
a readable one (`cache_0`, `attached_display`), made unique and kept clear of the target's
reserved words, so that an exported model can be read against our traces.
"""

from __future__ import annotations

import re

from dmabuf_mc.checker.ts import TransitionSystem


def unique(names: list[str], taken: set[str]) -> list[str]:
    """A distinct identifier for each name, in order, none of them in `taken` (which
    grows by the ones given out)."""
    out = []
    for i, raw in enumerate(names):
        name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", raw)).strip("_") or "v"
        if not name[0].isalpha():
            name = f"v_{name}"
        if name in taken:
            name = f"{name}_{i}"
        taken.add(name)
        out.append(name)
    return out


def identifiers(ts: TransitionSystem, reserved: frozenset[str]) -> dict[str, str]:
    """A distinct identifier for every variable, none of them reserved."""
    return dict(zip((v.name for v in ts.variables), unique([v.name for v in ts.variables], set(reserved)),
                    strict=True))


def comment(ts: TransitionSystem, var: str) -> str:
    """What a variable's codes mean, for a comment beside its declaration."""
    v = ts.var(var)
    return f"{v.name}: " + ", ".join(f"{code} {label}" for code, label in enumerate(v.domain.labels)) + (
        " (transient: reset every step it is not set)" if v.transient else "")
