"""Random histories with Hypothesis: a RuleBasedStateMachine built from a compiled system.

One rule per action instance, its guard as the precondition; the properties are the
machine's invariant. Histories run hundreds of steps, far past the BMC bound, and a
failure is shrunk by Hypothesis and then minimised by deleting steps while the shorter
history still runs and still violates (1-minimal), so what is printed is short.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass

from hypothesis import HealthCheck, seed, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from dmabuf_mc.checker.compile import Compiled
from dmabuf_mc.checker.trace import Trace


class PropertyViolated(AssertionError):
    """Raised inside the state machine when a property fails."""


@dataclass(frozen=True)
class FuzzResult:
    counterexamples: dict[str, Trace]
    examples: int
    steps: int
    seed: int
    states_seen: frozenset[int]
    interrupted: bool = False
    """Ctrl-C ended the run: the properties without a trace were not fully tried."""


def run_history(model: Compiled, actions: Sequence[int], wanted: int) -> tuple[list[int], int] | None:
    """Run `actions` from the initial state; the states up to the first violation of a
    wanted property and its bit set, or None if a step is disabled or nothing fails."""
    states = [model.initial]
    for a in actions:
        acts, outs = model.successors(states[-1])
        if a not in acts:
            return None
        states.append(outs[acts.index(a)])
        bits = model.observe(states[-1]) & wanted
        if bits:
            return states, bits
    return None


def minimise(model: Compiled, actions: list[int], wanted: int) -> list[int]:
    """Delete steps one at a time while the history still runs into a violation."""
    k = 0
    while k < len(actions):
        shorter = actions[:k] + actions[k + 1 :]
        ran = run_history(model, shorter, wanted)
        if ran is not None:
            actions = shorter[: len(ran[0]) - 1]
        else:
            k += 1
    return actions


Progress = Callable[[int, int], None] | None
"""Told (histories started, distinct states seen) as each history starts."""


def _machine(model: Compiled, wanted: int, found: list[list[int]], seen: set[int], started: Callable[[], None]) -> type:
    """The state machine class: rules named after the action instances."""

    def init(self: RuleBasedStateMachine) -> None:
        RuleBasedStateMachine.__init__(self)
        started()
        self.state = model.initial
        self.history = []
        self.enabled = dict(zip(*model.successors(self.state), strict=True))

    def holds(self: RuleBasedStateMachine) -> None:
        seen.add(self.state)
        if model.observe(self.state) & wanted:
            found.append(list(self.history))
            raise PropertyViolated(f"after {len(self.history)} steps")

    namespace = {"__init__": init, "properties_hold": invariant()(holds)}
    for a, act in enumerate(model.ts.actions):

        def fire(self: RuleBasedStateMachine, a: int = a) -> None:
            self.state = self.enabled[a]
            self.history.append(a)
            self.enabled = dict(zip(*model.successors(self.state), strict=True))

        fire.__name__ = re.sub(r"\W+", "_", act.label).strip("_")
        namespace[fire.__name__] = rule()(precondition(lambda self, a=a: a in self.enabled)(fire))

    def released(self: RuleBasedStateMachine) -> None:
        """Nothing is enabled once the buffer's history is over: stutter."""

    namespace["released"] = rule()(precondition(lambda self: not self.enabled)(released))
    return type("DriverHistories", (RuleBasedStateMachine,), namespace)


def fuzz(model: Compiled, properties: Sequence[str], examples: int = 100, steps: int = 200,
         seed_value: int = 0, progress: Progress = None) -> FuzzResult:
    """Random histories checking the named properties; one shrunk trace per violated one."""
    names = [p.name for p in model.ts.properties]
    pending = {names.index(p) for p in properties}
    seen: set[int] = set()
    histories = 0

    def started() -> None:
        nonlocal histories
        histories += 1
        if progress is not None:
            progress(histories, len(seen))
    traces: dict[str, Trace] = {}
    config = settings(max_examples=examples, stateful_step_count=steps, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck), print_blob=False,
                      report_multiple_bugs=False)
    interrupted = False
    try:
        while True:  # once with no property too: the walk alone is worth its states_seen
            k, trace = _one_violation(model, pending, names, config, seed_value, seen, started)
            if trace is None:
                break
            traces[names[k]] = trace
            pending.discard(k)
            if not pending:
                break
    except KeyboardInterrupt:
        interrupted = True
    return FuzzResult(dict(sorted(traces.items())), examples, steps, seed_value, frozenset(seen), interrupted)


def _one_violation(model: Compiled, pending: set[int], names: list[str], config: settings, seed_value: int,
                   seen: set[int], started: Callable[[], None]) -> tuple[int, Trace | None]:
    """One run of the state machine over the pending properties: the first one it violates
    and its minimised trace, or (-1, None) when every history keeps them all."""
    wanted = sum(1 << k for k in pending)
    found: list[list[int]] = []
    machine = seed(seed_value)(_machine(model, wanted, found, seen, started))
    with suppress(PropertyViolated):  # the history it found is in `found`
        run_state_machine_as_test(machine, settings=config)
    if not found:
        return -1, None
    history = minimise(model, found[-1], wanted)
    states, bits = run_history(model, history, wanted)  # type: ignore[misc]
    k = (bits & -bits).bit_length() - 1
    trace = Trace(model.ts, tuple(tuple(model.unpack(s).values()) for s in states), tuple(history), names[k],
                  model.dropped)
    return k, trace
