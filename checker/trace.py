"""Traces: the one counterexample value every engine returns, and its replay.

A trace is a sequence of states (variable codes in the system's order) joined by action
instances. Replay re-executes it with the IR interpreter — not the compiled code that
found it — and checks that every step was enabled, every state follows, and the last
state really violates what the trace claims. Only replayed traces are shown to users.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from dmabuf_mc.checker.interp import evaluate, successor
from dmabuf_mc.checker.ts import Action, TransitionSystem

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


class NotEnabled(ReplayError):
    """A step takes an action that is not enabled there: `action` and `why` not."""

    def __init__(self, step: int, action: Action, why: str) -> None:
        super().__init__(step, f"{action.label} is not enabled: {why}")
        self.action = action
        self.why = why


def why_disabled(act: Action, state: Mapping[str, int], dropped: frozenset[str] = frozenset()) -> str | None:
    """Why `act` is not enabled in `state` with the obligations in `dropped` not imposed:
    which obligations fail, or else its guard (None: it is enabled)."""
    if evaluate(act.enabled(dropped), state):
        return None
    failed = [o.name for o in act.obligations if o.name not in dropped and not evaluate(o.holds, state)]
    return f"obligation {', '.join(failed)} does not hold" if failed else "its guard does not hold"


def run(
    ts: TransitionSystem, actions: Iterable[int], dropped: frozenset[str] = frozenset()
) -> Iterator[dict[str, int]]:
    """The states `actions` (indices into `ts.actions`, taken one at a time) lead to from
    the initial state, the initial state first, each keyed in `ts.variables` order;
    NotEnabled at the first action that is not enabled where it is taken."""
    state = {v.name: ts.init[v.name] for v in ts.variables}
    yield state
    for k, a in enumerate(actions, start=1):
        act = ts.actions[a]
        why = why_disabled(act, state, dropped)
        if why is not None:
            raise NotEnabled(k, act, why)
        state = successor(ts, act, state)
        yield state


def codes(ts: TransitionSystem, state: Mapping[str, int]) -> tuple[int, ...]:
    """A valuation as a trace state: the codes in `ts.variables` order."""
    return tuple(state[v.name] for v in ts.variables)


def replay(trace: Trace) -> int:
    """Re-execute `trace` against its system; return the step at which the violation shows.

    Raises ReplayError when a step is not enabled, a state differs from what the model
    computes, or the end state does not violate the claimed property.
    """
    ts = trace.ts
    states = run(ts, trace.actions, trace.dropped)
    state = next(states)
    if state != trace.valuation(0):
        raise ReplayError(0, "the first state is not the initial state")
    for k, state in enumerate(states, start=1):
        if state != trace.valuation(k):
            raise ReplayError(k, f"{ts.actions[trace.actions[k - 1]].label} does not lead to the recorded state")
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
