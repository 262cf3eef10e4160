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

from checker.compile import Compiled
from checker.trace import DEADLOCK, Trace


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
CHECK_EVERY = 2048


def explore(
    model: Compiled,
    properties: Sequence[str],
    limits: Limits = NO_LIMITS,
    progress: Callable[[Stats], None] | None = None,
    stop_when_refuted: bool = True,
) -> Exploration:
    """Breadth-first search from the initial state, checking the named properties."""
    ts = model.ts
    names = [p.name for p in ts.properties]
    wanted = 0
    for p in properties:
        wanted |= 1 << names.index(p)
    pending = wanted
    successors, violations, premises, is_final = model.successors, model.violations, model.premises, model.is_final

    start = time.perf_counter()
    states = [model.initial]
    seen = {model.initial}
    parent = array("q", [-1])
    via = array("l", [-1])
    found: dict[int, int] = {}
    first_deadlock = -1
    deadlocks = 0
    premise_bits = 0
    fired = bytearray(len(ts.actions))
    transitions = 0
    depth = 0
    level_end = 1
    stopped: str | None = None
    next_report = start + 1.0

    def record(idx: int) -> None:
        nonlocal pending, premise_bits
        premise_bits |= premises(states[idx])
        bad = violations(states[idx]) & pending
        while bad:
            bit = bad & -bad
            found[bit.bit_length() - 1] = idx
            pending &= ~bit
            bad &= ~bit

    record(0)
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
                stopped = f"depth limit {limits.max_depth} reached"
                break
            if i % CHECK_EVERY == 0:
                now = time.perf_counter()
                if limits.timeout is not None and now - start > limits.timeout:
                    stopped = f"time limit {limits.timeout:g}s reached"
                    break
                if progress is not None and now >= next_report:
                    progress(Stats(len(states), transitions, depth, now - start))
                    next_report = now + 1.0
            s = states[i]
            succ = successors(s)
            if not succ and not is_final(s):
                deadlocks += 1
                if first_deadlock < 0:
                    first_deadlock = i
            it = iter(succ)
            for a, t in zip(it, it, strict=True):
                transitions += 1
                fired[a] = 1
                if t in seen:
                    continue
                seen.add(t)
                states.append(t)
                parent.append(i)
                via.append(a)
                record(len(states) - 1)
            i += 1
            if limits.max_states is not None and len(states) >= limits.max_states and i < len(states):
                stopped = f"state limit {limits.max_states} reached"
                break
    except KeyboardInterrupt:
        stopped = "interrupted"

    def trace_to(idx: int, violates: str) -> Trace:
        path = []
        while idx >= 0:
            path.append(idx)
            idx = parent[idx]
        path.reverse()
        return Trace(
            ts=ts,
            states=tuple(tuple(model.unpack(states[k]).values()) for k in path),
            actions=tuple(via[k] for k in path[1:]),
            violates=violates,
            dropped=model.dropped,
        )

    stats = Stats(len(states), transitions, depth, time.perf_counter() - start)
    return Exploration(
        stats=stats,
        stopped=stopped,
        counterexamples={names[b]: trace_to(idx, names[b]) for b, idx in sorted(found.items())},
        deadlock=trace_to(first_deadlock, DEADLOCK) if first_deadlock >= 0 else None,
        deadlocks=deadlocks,
        premises_seen=frozenset(names[b] for b in range(len(names)) if premise_bits >> b & 1),
        actions_fired=frozenset(a for a in range(len(fired)) if fired[a]),
    )
