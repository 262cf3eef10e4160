"""Counterexamples in the Informal Trace Format (ITF) of Apalache and Quint, so their
trace viewers and model-based-testing drivers read our traces
(https://apalache-mc.org/docs/adr/015adr-trace.html).

Each state is an object of the model's variables, every value its label (an ITF string),
plus Quint's `mbt::actionTaken`: the kernel call that led to the state ("init" for the
first), so a test driver can replay the calls. `#meta` names the system, the property
violated, the obligations dropped and where the system came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dmabuf_mc.checker.trace import Trace

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
ACTION_TAKEN = "mbt::actionTaken"
"""Quint's name for the action that led to a state (quint: src/itf.ts)."""
INIT = "init"


def trace_itf(trace: Trace, origin: Mapping[str, Any], tool: str) -> dict[str, Any]:
    """The trace as one ITF trace object (a violation at its last state)."""
    names = [v.name for v in trace.ts.variables]
    taken = [INIT] + [trace.ts.actions[a].label for a in trace.actions]
    return {
        "#meta": {
            "format": "ITF",
            "format-description": FORMAT_DESCRIPTION,
            "source": trace.ts.name,
            "description": f"{tool}: a counterexample to {trace.violates}",
            "violates": trace.violates,
            "without": sorted(trace.dropped),
            **origin,
        },
        "vars": [*names, ACTION_TAKEN],
        "states": [
            {"#meta": {"index": k}, **trace.labels(k), ACTION_TAKEN: taken[k]}
            for k in range(len(trace.states))
        ],
    }
