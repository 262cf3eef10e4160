"""Traces: the one counterexample value every engine returns, and its replay.

A trace is a sequence of states (variable codes in the system's order) joined by action
instances. Replay re-executes it with the IR interpreter — not the compiled code that
found it — and checks that every step was enabled, every state follows, and the last
state really violates what the trace claims. Only replayed traces are shown to users.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.interp import evaluate, successor
from checker.ts import TransitionSystem

DEADLOCK = "deadlock"


@dataclass(frozen=True)
class Trace:
    """States `states[0] .. states[n]` joined by `actions[0] .. actions[n-1]`.

    `violates` names the property the last state breaks, or `DEADLOCK` for a non-final
    state in which no action is enabled.
    """

    ts: TransitionSystem
    states: tuple[tuple[int, ...], ...]
    actions: tuple[int, ...]
    violates: str
    dropped: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.actions)

    def valuation(self, i: int) -> dict[str, int]:
        return {v.name: c for v, c in zip(self.ts.variables, self.states[i], strict=True)}

    def labels(self, i: int) -> dict[str, str]:
        """State `i` as variable name -> value label."""
        return {v.name: v.domain.labels[c] for v, c in zip(self.ts.variables, self.states[i], strict=True)}

    def action_labels(self) -> tuple[str, ...]:
        return tuple(self.ts.actions[a].label for a in self.actions)


class ReplayError(Exception):
    """A trace does not replay against the model: says at which step and why."""

    def __init__(self, step: int, reason: str) -> None:
        super().__init__(f"step {step}: {reason}")
        self.step = step
        self.reason = reason


def replay(trace: Trace) -> int:
    """Re-execute `trace` against its system; return the step at which the violation shows.

    Raises ReplayError when a step is not enabled, a state differs from what the model
    computes, or the end state does not violate the claimed property.
    """
    ts = trace.ts
    state = trace.valuation(0)
    if state != dict(ts.init):
        raise ReplayError(0, "the first state is not the initial state")
    for k, a in enumerate(trace.actions, start=1):
        act = ts.actions[a]
        if not evaluate(act.enabled(trace.dropped), state):
            failed = [o.name for o in act.obligations if o.name not in trace.dropped and not evaluate(o.holds, state)]
            why = f"obligation {', '.join(failed)} does not hold" if failed else "its guard does not hold"
            raise ReplayError(k, f"{act.label} is not enabled: {why}")
        state = successor(ts, act, state)
        if state != trace.valuation(k):
            raise ReplayError(k, f"{act.label} does not lead to the recorded state")
    last = len(trace.actions)
    if trace.violates == DEADLOCK:
        if evaluate(ts.final, state):
            raise ReplayError(last, "the last state is final, not a deadlock")
        if any(evaluate(a.enabled(trace.dropped), state) for a in ts.actions):
            raise ReplayError(last, "an action is enabled in the last state")
        return last
    prop = ts.property(trace.violates)
    if evaluate(prop.holds, state):
        raise ReplayError(last, f"{prop.name} holds in the last state")
    return last
