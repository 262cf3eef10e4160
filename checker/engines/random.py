"""Random histories with Hypothesis, driving the compiled successor function directly.

A history is a walk from the initial state: a byte string from Hypothesis says, step by
step, which enabled successor to take, so Hypothesis generates and shrinks choices while
the walk runs at the compiled model's speed. Every state a history (or a shrink attempt)
enters is remembered; when the runs are over, each trace is the shortest path to a
violation through those visited states (a BFS over the visited subgraph, the last step
allowed to leave it), never longer than the shrunk history and usually as short as BFS's.

Two things keep uniform walks from missing a violation that needs one order among many
(vmap-fence-wait's stale read: a speculative fill between begin_cpu_access's invalidate and
the device's write, then the fence signalled and waited for, 10 steps, about one walk in
1,800): a walk prefers successors no history has entered yet, so the histories spread over
the state space instead of retracing its likeliest paths, and a walk that reaches the end
of the buffer's life starts again from the initial state, so it spends its whole step
budget (most walks used to end within 20 steps).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass

from hypothesis import HealthCheck, Verbosity, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from dmabuf_mc.checker.compile import Compiled
from dmabuf_mc.checker.engines.explicit import path_trace
from dmabuf_mc.checker.trace import Trace

REPORT_EVERY = 1.0
"""Seconds between progress reports."""


class PropertyViolated(AssertionError):
    """Raised inside a history when it enters a state violating a wanted property."""


@dataclass(frozen=True)
class Walked:
    """How far the random histories got: for a progress line."""

    histories: int
    steps: int
    visited: int
    refuted: int
    seconds: float


@dataclass(frozen=True)
class FuzzResult:
    counterexamples: dict[str, Trace]
    examples: int
    steps: int
    seed: int
    states_seen: frozenset[int]
    interrupted: bool = False
    """Ctrl-C ended the run: the properties without a trace were not fully tried."""


class _Walker:
    """Runs histories over the compiled model, remembering every state they enter."""

    def __init__(self, model: Compiled, steps: int, progress: Callable[[Walked], None] | None) -> None:
        self.model = model
        self.steps = steps
        self.progress = progress
        self.visited: set[int] = {model.initial}
        self.shortest = steps
        """The fewest choices a history used to reach a violation in this run (restarts
        included): the shrinker only keeps histories that are shorter still, so a walk past
        it stops there."""
        self.histories = 0
        self.stepped = 0
        self.violated = 0
        """The properties (bits) some history has violated."""
        self.start = time.perf_counter()
        self.next_report = self.start + REPORT_EVERY

    def walk(self, choices: bytes, wanted: int) -> None:
        """One history, a byte per step choosing which enabled successor to take (modulo
        their number), among those no history has entered yet if there are any; raises
        PropertyViolated on entering a state that violates a wanted property. At a state
        with no successor (the buffer's life is over) the walk starts again from the
        initial state."""
        successors, observe, visited = self.model.successors, self.model.observe, self.visited
        self.histories += 1
        s = self.model.initial
        for i in range(min(self.shortest, len(choices))):
            outs = successors(s)[1]
            if not outs:
                s = self.model.initial
                continue
            fresh = [t for t in outs if t not in visited]
            if fresh:
                outs = fresh
            s = outs[choices[i] % len(outs)]
            self.stepped += 1
            visited.add(s)
            bits = observe(s) & wanted
            if bits:
                self.violated |= bits
                self.shortest = i + 1
                raise PropertyViolated
        if self.progress is not None:
            now = time.perf_counter()
            if now >= self.next_report:
                self.progress(Walked(self.histories, self.stepped, len(visited), self.violated.bit_count(),
                                     now - self.start))
                self.next_report = now + REPORT_EVERY


def run_histories(walker: _Walker, wanted: int, config: settings, seed_value: int) -> bool:
    """One Hypothesis run of random histories: whether one violated a wanted property (the
    states it and the shrinker's attempts entered are in `walker.visited`)."""
    walker.shortest = walker.steps

    # Half the histories are short (Hypothesis's sizes), half run the whole way; a long one
    # shrinks by switching to the first branch, where the unused tail can be cut off.
    @seed(seed_value)
    @config
    @given(st.one_of(st.binary(max_size=walker.steps), st.binary(min_size=walker.steps, max_size=walker.steps)))
    def history(choices: bytes) -> None:
        walker.walk(choices, wanted)

    try:
        history()
    except PropertyViolated:
        return True
    except Flaky:
        # Replayed at the end, the failing history may take another way, since it prefers
        # states not entered before and has entered its own since: the violation it saw
        # stands. A Flaky with no violation seen is a bug, not an answer.
        if walker.violated & wanted:
            return True
        raise
    return False


def shortest_within(model: Compiled, visited: set[int], wanted: int) -> dict[int, tuple[list[int], list[int]]]:
    """Breadth-first search from the initial state through `visited` states only: for each
    wanted property violated in a visited state or one step past one, the shortest path to
    such a state (states, actions)."""
    successors, observe = model.successors, model.observe
    parent: dict[int, tuple[int, int]] = {}
    found: dict[int, int] = {}
    pending = wanted

    def note(s: int) -> None:
        nonlocal pending
        bad = observe(s) & pending
        while bad:
            bit = bad & -bad
            found[bit.bit_length() - 1] = s
            pending &= ~bit
            bad &= ~bit

    frontier = [model.initial]
    reached = {model.initial}
    note(model.initial)
    while frontier and pending:
        nxt = []
        for s in frontier:
            acts, outs = successors(s)
            for a, t in zip(acts, outs, strict=True):
                if t in reached:
                    continue
                if t in visited:
                    nxt.append(t)
                elif not observe(t) & pending:
                    continue  # a step past the visited states counts only as a violation's last
                reached.add(t)
                parent[t] = (s, a)
                note(t)
        frontier = nxt

    def path_to(s: int) -> tuple[list[int], list[int]]:
        states, actions = [s], []
        while s in parent:
            s, a = parent[s]
            states.append(s)
            actions.append(a)
        return states[::-1], actions[::-1]

    return {k: path_to(s) for k, s in found.items()}


def fuzz(model: Compiled, properties: Sequence[str], examples: int = 100, steps: int = 200,
         seed_value: int = 0, progress: Callable[[Walked], None] | None = None) -> FuzzResult:
    """Random histories checking the named properties; one trace per violated property, the
    shortest through the states the histories visited. The same seed gives the same run."""
    names = [p.name for p in model.ts.properties]
    pending = 0
    for p in properties:
        pending |= 1 << names.index(p)
    wanted = pending
    walker = _Walker(model, steps, progress)
    config = settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                      suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
                      verbosity=Verbosity.quiet)
    interrupted = False
    try:
        # once with no property too: the walk alone is worth its states_seen
        while run_histories(walker, pending, config, seed_value):
            pending &= ~walker.violated
            if not pending:
                break
    except KeyboardInterrupt:
        interrupted = True
    # every trace from the final visited set: later runs may have found shorter paths
    paths: dict[int, tuple[list[int], list[int]]] = {}
    with suppress(KeyboardInterrupt):
        paths = shortest_within(model, walker.visited, wanted)
    traces = {names[k]: path_trace(model, states, actions, names[k]) for k, (states, actions) in paths.items()}
    return FuzzResult(dict(sorted(traces.items())), examples, steps, seed_value, frozenset(walker.visited),
                      interrupted)
