"""Explicit-state breadth-first search over packed states.

States are stored once, in BFS order, in a list with parallel parent/action arrays, so
the first violation found for each property is a shortest counterexample and its trace
is read back by following parents. Exact counts of reachable states and transitions are
reported; a limit (states, depth, time) or Ctrl-C ends the search with a partial report.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from dmabuf_mc.checker.compile import Compiled
from dmabuf_mc.checker.trace import DEADLOCK, Trace


@dataclass(frozen=True)
class Limits:
    """Where to stop: None means no limit."""

    max_states: int | None = None
    max_depth: int | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Stats:
    states: int
    transitions: int
    depth: int
    seconds: float
    queue: int = 0
    """States found but not expanded yet (the BFS frontier); 0 once the search is over."""

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else float(self.states)


@dataclass(frozen=True)
class Exploration:
    """What one BFS saw.

    `stopped` is None when every reachable state was expanded; otherwise it says why the
    search ended early (a limit, an interrupt, or every checked property refuted).
    """

    stats: Stats
    stopped: str | None
    counterexamples: dict[str, Trace]
    deadlock: Trace | None
    deadlocks: int
    premises_seen: frozenset[str]
    actions_fired: frozenset[int]

    @property
    def complete(self) -> bool:
        return self.stopped is None


NO_LIMITS = Limits()
ALL_REFUTED = "every checked property was refuted"
INTERRUPTED = "interrupted"
CHECK_EVERY = 2048
# The stop reasons are shared with the native engine, so both engines report the same words.


def depth_limit(limits: Limits) -> str:
    return f"depth limit {limits.max_depth} reached"


def state_limit(limits: Limits) -> str:
    return f"state limit {limits.max_states} reached"


def time_limit(limits: Limits) -> str:
    return f"time limit {limits.timeout:g}s reached"


def path_trace(model: Compiled, path: Sequence[int], actions: Sequence[int], violates: str) -> Trace:
    """The trace through the packed states `path`, joined by `actions`."""
    return Trace(
        ts=model.ts,
        states=tuple(tuple(model.unpack(s).values()) for s in path),
        actions=tuple(actions),
        violates=violates,
        dropped=model.dropped,
    )


def explore(
    model: Compiled,
    properties: Sequence[str],
    limits: Limits = NO_LIMITS,
    progress: Callable[[Stats], None] | None = None,
    stop_when_refuted: bool = True,
) -> Exploration:
    """Breadth-first search from the initial state, checking the named properties.
    `progress` sees the statistics every CHECK_EVERY states expanded: an interval of work,
    so that what is shown of a search does not depend on the machine's speed."""
    ts = model.ts
    names = [p.name for p in ts.properties]
    n = len(names)
    wanted = 0
    for p in properties:
        wanted |= 1 << names.index(p)
    pending = wanted
    unseen_premises = ((1 << n) - 1) << n
    successors, observe, is_final = model.successors, model.observe, model.is_final

    start = time.perf_counter()
    states = [model.initial]
    seen = {model.initial}
    parent = array("q", [-1])
    found: dict[int, int] = {}
    first_deadlock = -1
    deadlocks = 0
    unfired = set(range(len(ts.actions)))
    transitions = 0
    depth = 0
    level_end = 1
    stopped: str | None = None

    def record(idx: int, bits: int) -> None:
        """Note the first (so shortest) violation of each pending property."""
        nonlocal pending
        bad = bits & pending
        while bad:
            bit = bad & -bad
            found[bit.bit_length() - 1] = idx
            pending &= ~bit
            bad &= ~bit

    bits = observe(model.initial)
    unseen_premises &= ~bits
    record(0, bits)
    i = 0
    try:
        while i < len(states):
            if i == level_end:
                depth += 1
                level_end = len(states)
            if stop_when_refuted and wanted and not pending:
                stopped = ALL_REFUTED
                break
            if limits.max_depth is not None and depth >= limits.max_depth:
                stopped = depth_limit(limits)
                break
            if i % CHECK_EVERY == 0:
                now = time.perf_counter()
                if limits.timeout is not None and now - start > limits.timeout:
                    stopped = time_limit(limits)
                    break
                if progress is not None:
                    progress(Stats(len(states), transitions, depth, now - start, len(states) - i))
            s = states[i]
            acts, outs = successors(s)
            transitions += len(outs)
            if not outs and not is_final(s):
                deadlocks += 1
                if first_deadlock < 0:
                    first_deadlock = i
            if unfired:
                unfired.difference_update(acts)
            for t in outs:
                if t in seen:
                    continue
                seen.add(t)
                states.append(t)
                parent.append(i)
                if pending or unseen_premises:
                    bits = observe(t)
                    unseen_premises &= ~bits
                    if bits & pending:
                        record(len(states) - 1, bits)
            i += 1
            if limits.max_states is not None and len(states) >= limits.max_states and i < len(states):
                stopped = state_limit(limits)
                break
    except KeyboardInterrupt:
        stopped = INTERRUPTED

    def trace_to(idx: int, violates: str) -> Trace:
        path = []
        while idx >= 0:
            path.append(idx)
            idx = parent[idx]
        path.reverse()
        actions = []
        for a, b in pairwise(path):
            acts, outs = successors(states[a])
            actions.append(acts[outs.index(states[b])])
        return path_trace(model, [states[k] for k in path], actions, violates)

    deepest = depth + 1 if len(states) > level_end else depth
    stats = Stats(len(states), transitions, deepest, time.perf_counter() - start)
    return Exploration(
        stats=stats,
        stopped=stopped,
        counterexamples={names[b]: trace_to(idx, names[b]) for b, idx in sorted(found.items())},
        deadlock=trace_to(first_deadlock, DEADLOCK) if first_deadlock >= 0 else None,
        deadlocks=deadlocks,
        premises_seen=frozenset(names[k] for k in range(n) if not unseen_premises >> (n + k) & 1),
        actions_fired=frozenset(range(len(ts.actions))) - unfired,
    )
