"""The native explicit-state engine: the same breadth-first search as
`checker.engines.explicit`, run by C generated from the system (`checker.native`).

It returns the same `Exploration`: the C search counts states, transitions, depth and
deadlocks and keeps, for every state, its parent. Traces are rebuilt here from the stored
states along the parent links through the Python compiled successor function, exactly as
the Python engine rebuilds them, so both return the same traces. The C search returns to
Python before every CHECK_EVERY-th state, where the Python engine looks at the clock:
Python then reports progress, applies the time limit, writes checkpoints and lets Ctrl-C
through. It takes the Python engine's options too: `canon` (symmetry reduction, compiled
into the C as the same canonical form) and checkpoints in the same `Frontier`, so a
search saved by one engine resumes in the other.
"""

from __future__ import annotations

import ctypes
import time
from array import array
from collections.abc import Callable, Sequence
from contextlib import nullcontext

from dmabuf_mc.checker.checkpoint import Frontier, ctrl_c_between_states
from dmabuf_mc.checker.compile import Compiled
from dmabuf_mc.checker.engines.explicit import (
    ALL_REFUTED,
    INTERRUPTED,
    NO_LIMITS,
    Exploration,
    Limits,
    Stats,
    depth_limit,
    state_limit,
    stored_trace,
    time_limit,
)
from dmabuf_mc.checker.native.csource import WORD, c_source, words
from dmabuf_mc.checker.native.toolchain import build
from dmabuf_mc.checker.trace import DEADLOCK, Trace

MC_YIELD, MC_DONE, MC_REFUTED, MC_DEPTH, MC_STATES, MC_NOMEM = range(6)


def out_of_memory(states: int) -> str:
    """The stop reason when the C search cannot allocate: a resource limit (UNKNOWN), what
    was stored so far is still searched and reported."""
    return f"out of memory after {states:,} states"


class _Counters(ctypes.Structure):
    """Mirrors `Counters` at the start of the C `Search`."""

    _fields_ = [(name, ctypes.c_int64) for name in (
        "states", "next", "transitions", "depth", "level_end", "deadlocks", "first_deadlock",
        "pending", "unseen", "unfired",
    )]


def library(model: Compiled, symmetric: bool = False) -> ctypes.CDLL:
    """The model's compiled search (built or taken from the cache), with its signatures
    declared, storing orbit representatives if `symmetric`; raises NativeUnavailable when
    there is no working C compiler or what it built does not load."""
    i64, handle, u8p = ctypes.c_int64, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8)
    u64p, i32p = ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_int32)
    signatures = (
        ("mc_new", handle, [i64, i64, ctypes.c_int, u8p]),
        ("mc_run", ctypes.c_int, [handle, ctypes.c_int]),
        ("mc_free", None, [handle]),
        ("mc_load", ctypes.c_int, [handle, u64p, i32p, i64, ctypes.POINTER(i64), u8p, u8p, u8p]),
        ("mc_dump", None, [handle, u64p, i32p]),
        ("mc_found", i64, [handle, ctypes.c_int]),
        ("mc_want", ctypes.c_int, [handle, ctypes.c_int]),
        ("mc_premise", ctypes.c_int, [handle, ctypes.c_int]),
        ("mc_fired", ctypes.c_int, [handle, ctypes.c_int]),
        ("mc_parent", i64, [handle, i64]),
        ("mc_state", None, [handle, i64, u64p]),
    )
    lib = build(c_source(model, symmetric), [name for name, _, _ in signatures])
    for name, restype, argtypes in signatures:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def explore_native(
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
    """Breadth-first search from the initial state in C, checking the named properties;
    `resume`, `checkpoint`, `checkpoint_every` and `canon` mean what they mean to
    `checker.engines.explicit.explore` (`canon` must be `checker.symmetry`'s: the C
    computes the same canonical form)."""
    lib = library(model, symmetric=canon is not None)
    names = [p.name for p in model.ts.properties]
    want = (ctypes.c_uint8 * max(1, len(names)))(*(int(n in properties) for n in names))
    max_states = -1 if limits.max_states is None else limits.max_states
    max_depth = -1 if limits.max_depth is None else limits.max_depth
    start = time.perf_counter()
    handle = lib.mc_new(max_states, max_depth, int(stop_when_refuted), want)
    if handle and resume is not None and not _load(lib, handle, model, resume):
        lib.mc_free(handle)
        handle = None
    if not handle:  # a limit like the others: nothing explored, every verdict UNKNOWN
        return Exploration(Stats(0, 0, 0, time.perf_counter() - start), out_of_memory(0), {}, None, 0,
                           frozenset(), frozenset())
    try:
        with nullcontext(lambda: False) if checkpoint is None else ctrl_c_between_states() as pressed:
            search = _Search(lib, handle, model, names, canon, 0.0 if resume is None else resume.seconds, start)
            return search.run(limits, progress, checkpoint, checkpoint_every, pressed)
    finally:
        lib.mc_free(handle)


def _load(lib: ctypes.CDLL, handle: int, model: Compiled, frontier: Frontier) -> bool:
    """Put a checkpoint's search into the C one; False if memory ran out."""
    n_props, n_actions, w = len(model.ts.properties), len(model.ts.actions), words(model)
    flat = array("Q", (s >> (WORD * k) & ((1 << WORD) - 1) for s in frontier.states for k in range(w)))
    parent = array("i", frontier.parent)
    found = dict(frontier.found)
    unfired = set(frontier.unfired)

    def flags(values: Sequence[int]) -> ctypes.Array[ctypes.c_uint8]:
        return (ctypes.c_uint8 * max(1, len(values)))(*values)

    ok = lib.mc_load(
        handle,
        (ctypes.c_uint64 * len(flat)).from_buffer(flat),
        (ctypes.c_int32 * len(parent)).from_buffer(parent),
        len(frontier.states),
        (ctypes.c_int64 * max(1, n_props))(*(found.get(k, -1) for k in range(n_props))),
        flags([frontier.pending >> k & 1 for k in range(n_props)]),
        flags([1 - (frontier.unseen_premises >> (n_props + k) & 1) for k in range(n_props)]),
        flags([int(a not in unfired) for a in range(n_actions)]),
    )
    if not ok:
        return False
    n = ctypes.cast(handle, ctypes.POINTER(_Counters)).contents
    for key in ("next", "depth", "level_end", "transitions", "deadlocks", "first_deadlock"):
        setattr(n, key, getattr(frontier, key))
    return True


class _Search:
    """One C search, driven from Python between chunks of CHECK_EVERY states."""

    def __init__(self, lib: ctypes.CDLL, handle: int, model: Compiled, names: list[str],
                 canon: Callable[[int], int] | None, earlier: float, start: float) -> None:
        self.lib, self.handle, self.model, self.names, self.canon = lib, handle, model, names, canon
        self.earlier, self.start = earlier, start
        self.n = ctypes.cast(handle, ctypes.POINTER(_Counters)).contents

    def seconds(self) -> float:
        """Seconds spent searching, before the checkpoint resumed from too."""
        return self.earlier + time.perf_counter() - self.start

    def run(
        self,
        limits: Limits,
        progress: Callable[[Stats], None] | None,
        checkpoint: Callable[[Frontier], None] | None,
        checkpoint_every: float | None,
        pressed: Callable[[], bool],
    ) -> Exploration:
        lib, handle, n = self.lib, self.handle, self.n
        stops = {MC_DONE: None, MC_REFUTED: ALL_REFUTED, MC_DEPTH: depth_limit(limits), MC_STATES: state_limit(limits)}
        stopped: str | None = None
        next_checkpoint = self.start + (checkpoint_every or 0.0)
        if 0 < n.next < n.states and limits.max_states is not None and n.states >= limits.max_states:
            stopped = state_limit(limits)  # where a resumed search took up its last one
        try:
            resume = 0
            while stopped is None and (status := lib.mc_run(handle, resume)) == MC_YIELD:
                resume = 1
                now = time.perf_counter()
                if pressed():
                    stopped = INTERRUPTED
                elif limits.timeout is not None and now - self.start > limits.timeout:
                    stopped = time_limit(limits)
                else:
                    if progress is not None:
                        progress(Stats(n.states, n.transitions, n.depth, self.seconds(), n.states - n.next))
                    if checkpoint is not None and checkpoint_every is not None and now >= next_checkpoint:
                        checkpoint(self.frontier())
                        next_checkpoint = time.perf_counter() + checkpoint_every
            if stopped is None:
                stopped = out_of_memory(n.states) if status == MC_NOMEM else stops[status]
        except KeyboardInterrupt:
            stopped = INTERRUPTED
        if checkpoint is not None and stopped not in (None, ALL_REFUTED):
            checkpoint(self.frontier())
        return self.exploration(stopped)

    def exploration(self, stopped: str | None) -> Exploration:
        lib, handle, n, names = self.lib, self.handle, self.n, self.names
        deepest = n.depth + 1 if n.states > n.level_end else n.depth
        stats = Stats(n.states, n.transitions, deepest, self.seconds())
        found = {k: lib.mc_found(handle, k) for k in range(len(names))}
        return Exploration(
            stats=stats,
            stopped=stopped,
            counterexamples={names[k]: self.trace(idx, names[k]) for k, idx in found.items() if idx >= 0},
            deadlock=self.trace(n.first_deadlock, DEADLOCK) if n.first_deadlock >= 0 else None,
            deadlocks=n.deadlocks,
            premises_seen=frozenset(name for k, name in enumerate(names) if lib.mc_premise(handle, k)),
            actions_fired=frozenset(a for a in range(len(self.model.ts.actions)) if lib.mc_fired(handle, a)),
        )

    def state(self, idx: int) -> int:
        buf = (ctypes.c_uint64 * words(self.model))()
        self.lib.mc_state(self.handle, idx, buf)
        return sum(w << (WORD * i) for i, w in enumerate(buf))

    def trace(self, idx: int, violates: str) -> Trace:
        """The path to stored state `idx`, from its stored ancestors."""
        stored = []
        while idx >= 0:
            stored.append(self.state(idx))
            idx = self.lib.mc_parent(self.handle, idx)
        return stored_trace(self.model, stored[::-1], violates, self.canon)

    def frontier(self) -> Frontier:
        """The search as a checkpoint: the Python engine's, so either engine resumes it."""
        lib, handle, n, w = self.lib, self.handle, self.n, words(self.model)
        n_props = len(self.names)
        flat = (ctypes.c_uint64 * (n.states * w))()
        parent = (ctypes.c_int32 * n.states)()
        lib.mc_dump(handle, flat, parent)
        packed = list(flat)
        states = tuple(packed) if w == 1 else tuple(
            sum(x << (WORD * k) for k, x in enumerate(packed[i : i + w])) for i in range(0, len(packed), w))
        return Frontier(
            states=states,
            parent=tuple(parent),
            next=n.next, depth=n.depth, level_end=n.level_end, transitions=n.transitions, deadlocks=n.deadlocks,
            first_deadlock=n.first_deadlock,
            found=tuple((k, lib.mc_found(handle, k)) for k in range(n_props) if lib.mc_found(handle, k) >= 0),
            unfired=tuple(a for a in range(len(self.model.ts.actions)) if not lib.mc_fired(handle, a)),
            pending=sum(1 << k for k in range(n_props) if lib.mc_want(handle, k)),
            unseen_premises=sum(1 << (n_props + k) for k in range(n_props) if not lib.mc_premise(handle, k)),
            seconds=self.seconds(),
        )
