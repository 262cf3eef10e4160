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
from contextlib import nullcontext
from dataclasses import dataclass

from dmabuf_mc.checker.checkpoint import Frontier, ctrl_c_between_states
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


def stored_trace(model: Compiled, stored: Sequence[int], violates: str,
                 canon: Callable[[int], int] | None = None) -> Trace:
    """The trace along a stored path of the search, `stored` its states from the initial
    one: each step is the first action (in action order, as the search found it) from the
    real state to the next stored state, or with `canon` into its orbit, so a reduced
    search's trace names the processes the user configured."""
    real, actions = [stored[0]], []
    for b in stored[1:]:
        acts, outs = model.successors(real[-1])
        j = next((j for j, t in enumerate(outs) if (t if canon is None else canon(t)) == b), None)
        if j is None:
            raise AssertionError(f"no step of {model.ts.name} leads from a state of the search to the next one "
                                 "it stored")
        actions.append(acts[j])
        real.append(outs[j])
    return path_trace(model, real, actions, violates)


def explore(
    model: Compiled,
    properties: Sequence[str],
    limits: Limits = NO_LIMITS,
    progress: Callable[[Stats], None] | None = None,
    stop_when_refuted: bool = True,
    resume: Frontier | None = None,
    checkpoint: Callable[[Frontier], None] | None = None,
    checkpoint_every: float | None = None,
    canon: Callable[[int], int] | None = None,
) -> Exploration:
    """Breadth-first search from the initial state, checking the named properties.
    `progress` sees the statistics every CHECK_EVERY states expanded: an interval of work,
    so that what is shown of a search does not depend on the machine's speed.

    With `canon` (checker.symmetry), states are stored as their orbit's representative,
    so counts are of orbits; traces are rebuilt from the real initial state.

    With `resume`, the search goes on from a checkpoint as if it had never stopped. With
    `checkpoint`, it is called with the search's frontier every `checkpoint_every` seconds
    and when a limit or Ctrl-C stops the search (Ctrl-C is then held until the search is
    between two states)."""
    with nullcontext(lambda: False) if checkpoint is None else ctrl_c_between_states() as pressed:
        return _explore(model, properties, limits, progress, stop_when_refuted, resume, checkpoint,
                        checkpoint_every, pressed, canon)


def _explore(
    model: Compiled,
    properties: Sequence[str],
    limits: Limits,
    progress: Callable[[Stats], None] | None,
    stop_when_refuted: bool,
    resume: Frontier | None,
    checkpoint: Callable[[Frontier], None] | None,
    checkpoint_every: float | None,
    pressed: Callable[[], bool],
    canon: Callable[[int], int] | None,
) -> Exploration:
    ts = model.ts
    names = [p.name for p in ts.properties]
    n = len(names)
    wanted = 0
    for p in properties:
        wanted |= 1 << names.index(p)
    successors, observe, is_final = model.successors, model.observe, model.is_final

    start = time.perf_counter()
    fresh = resume is None
    if resume is None:
        resume = Frontier(states=(model.initial,), parent=(-1,), next=0, depth=0, level_end=1, transitions=0,
                          deadlocks=0, first_deadlock=-1, found=(), unfired=tuple(range(len(ts.actions))),
                          pending=wanted, unseen_premises=((1 << n) - 1) << n, seconds=0.0)
    earlier = resume.seconds
    states = list(resume.states)
    seen = set(states)
    parent = array("q", resume.parent)
    found: dict[int, int] = dict(resume.found)
    first_deadlock = resume.first_deadlock
    deadlocks = resume.deadlocks
    unfired = set(resume.unfired)
    transitions = resume.transitions
    depth = resume.depth
    level_end = resume.level_end
    pending = resume.pending
    unseen_premises = resume.unseen_premises
    stopped: str | None = None
    next_checkpoint = start + (checkpoint_every or 0.0)

    def record(idx: int, bits: int) -> None:
        """Note the first (so shortest) violation of each pending property."""
        nonlocal pending
        bad = bits & pending
        while bad:
            bit = bad & -bad
            found[bit.bit_length() - 1] = idx
            pending &= ~bit
            bad &= ~bit

    def frontier() -> Frontier:
        return Frontier(tuple(states), tuple(parent), i, depth, level_end, transitions, deadlocks, first_deadlock,
                        tuple(sorted(found.items())), tuple(sorted(unfired)), pending, unseen_premises,
                        earlier + time.perf_counter() - start)

    if fresh:
        bits = observe(model.initial)
        unseen_premises &= ~bits
        record(0, bits)
    i = resume.next

    def over_state_limit() -> bool:
        """Checked after each expansion, and where a resumed search took up its last one."""
        return limits.max_states is not None and len(states) >= limits.max_states and i < len(states)

    if i > 0 and over_state_limit():
        stopped = state_limit(limits)
    try:
        while stopped is None and i < len(states):
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
                if pressed():
                    stopped = INTERRUPTED
                    break
                if limits.timeout is not None and now - start > limits.timeout:
                    stopped = time_limit(limits)
                    break
                if progress is not None:
                    progress(Stats(len(states), transitions, depth, earlier + now - start, len(states) - i))
                if checkpoint is not None and checkpoint_every is not None and now >= next_checkpoint:
                    checkpoint(frontier())
                    next_checkpoint = time.perf_counter() + checkpoint_every
            s = states[i]
            acts, outs = successors(s)
            transitions += len(outs)
            if not outs and not is_final(s):
                deadlocks += 1
                if first_deadlock < 0:
                    first_deadlock = i
            if unfired:
                unfired.difference_update(acts)
            if canon is not None:
                outs = [canon(t) for t in outs]
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
            if over_state_limit():
                stopped = state_limit(limits)
                break
    except KeyboardInterrupt:
        stopped = INTERRUPTED
    if checkpoint is not None and stopped not in (None, ALL_REFUTED):
        checkpoint(frontier())

    def trace_to(idx: int, violates: str) -> Trace:
        path = []
        while idx >= 0:
            path.append(states[idx])
            idx = parent[idx]
        return stored_trace(model, path[::-1], violates, canon)

    deepest = depth + 1 if len(states) > level_end else depth
    stats = Stats(len(states), transitions, deepest, earlier + time.perf_counter() - start)
    return Exploration(
        stats=stats,
        stopped=stopped,
        counterexamples={names[b]: trace_to(idx, names[b]) for b, idx in sorted(found.items())},
        deadlock=trace_to(first_deadlock, DEADLOCK) if first_deadlock >= 0 else None,
        deadlocks=deadlocks,
        premises_seen=frozenset(names[k] for k in range(n) if not unseen_premises >> (n + k) & 1),
        actions_fired=frozenset(range(len(ts.actions))) - unfired,
    )
