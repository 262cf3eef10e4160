"""The native explicit-state engine: the same breadth-first search as
`checker.engines.explicit`, run by C generated from the system (`checker.native`).

It returns the same `Exploration`: the C search counts states, transitions, depth and
deadlocks and keeps, for every state, its parent and the action that found it. Traces are
rebuilt here by replaying those action indices through the Python compiled successor
function, so they are exactly the traces the Python engine returns (and are checked to
end in the state the C search stored). The C search returns to Python before every
CHECK_EVERY-th state, where the Python engine looks at the clock: Python then reports
progress, applies the time limit and lets Ctrl-C through.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Sequence

from dmabuf_mc.checker.compile import Compiled
from dmabuf_mc.checker.engines.explicit import (
    ALL_REFUTED,
    INTERRUPTED,
    NO_LIMITS,
    Exploration,
    Limits,
    Stats,
    depth_limit,
    path_trace,
    state_limit,
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


def library(model: Compiled) -> ctypes.CDLL:
    """The model's compiled search (built or taken from the cache), with its signatures
    declared; raises NativeUnavailable when there is no working C compiler or what it
    built does not load."""
    i64, handle = ctypes.c_int64, ctypes.c_void_p
    signatures = (
        ("mc_new", handle, [i64, i64, ctypes.c_int, ctypes.POINTER(ctypes.c_uint8)]),
        ("mc_run", ctypes.c_int, [handle, ctypes.c_int]),
        ("mc_free", None, [handle]),
        ("mc_found", i64, [handle, ctypes.c_int]),
        ("mc_premise", ctypes.c_int, [handle, ctypes.c_int]),
        ("mc_fired", ctypes.c_int, [handle, ctypes.c_int]),
        ("mc_parent", i64, [handle, i64]),
        ("mc_action", ctypes.c_int, [handle, i64]),
        ("mc_state", None, [handle, i64, ctypes.POINTER(ctypes.c_uint64)]),
    )
    lib = build(c_source(model), [name for name, _, _ in signatures])
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
) -> Exploration:
    """Breadth-first search from the initial state in C, checking the named properties."""
    lib = library(model)
    names = [p.name for p in model.ts.properties]
    want = (ctypes.c_uint8 * max(1, len(names)))(*(int(n in properties) for n in names))
    max_states = -1 if limits.max_states is None else limits.max_states
    max_depth = -1 if limits.max_depth is None else limits.max_depth
    start = time.perf_counter()
    handle = lib.mc_new(max_states, max_depth, int(stop_when_refuted), want)
    if not handle:  # a limit like the others: nothing explored, every verdict UNKNOWN
        return Exploration(Stats(0, 0, 0, time.perf_counter() - start), out_of_memory(0), {}, None, 0,
                           frozenset(), frozenset())
    try:
        return _search(lib, handle, model, names, limits, progress, start)
    finally:
        lib.mc_free(handle)


def _search(
    lib: ctypes.CDLL,
    handle: int,
    model: Compiled,
    names: list[str],
    limits: Limits,
    progress: Callable[[Stats], None] | None,
    start: float,
) -> Exploration:
    n = ctypes.cast(handle, ctypes.POINTER(_Counters)).contents
    stops = {MC_DONE: None, MC_REFUTED: ALL_REFUTED, MC_DEPTH: depth_limit(limits), MC_STATES: state_limit(limits)}
    resume = 0
    try:
        while (status := lib.mc_run(handle, resume)) == MC_YIELD:
            resume = 1
            now = time.perf_counter()
            if limits.timeout is not None and now - start > limits.timeout:
                stopped: str | None = time_limit(limits)
                break
            if progress is not None:
                progress(Stats(n.states, n.transitions, n.depth, now - start, n.states - n.next))
        else:
            stopped = out_of_memory(n.states) if status == MC_NOMEM else stops[status]
    except KeyboardInterrupt:
        stopped = INTERRUPTED
    deepest = n.depth + 1 if n.states > n.level_end else n.depth
    stats = Stats(n.states, n.transitions, deepest, time.perf_counter() - start)
    found = {k: lib.mc_found(handle, k) for k in range(len(names))}

    def trace_to(idx: int, violates: str) -> Trace:
        return _trace(lib, handle, model, idx, violates)

    return Exploration(
        stats=stats,
        stopped=stopped,
        counterexamples={names[k]: trace_to(idx, names[k]) for k, idx in found.items() if idx >= 0},
        deadlock=trace_to(n.first_deadlock, DEADLOCK) if n.first_deadlock >= 0 else None,
        deadlocks=n.deadlocks,
        premises_seen=frozenset(name for k, name in enumerate(names) if lib.mc_premise(handle, k)),
        actions_fired=frozenset(a for a in range(len(model.ts.actions)) if lib.mc_fired(handle, a)),
    )


def _trace(lib: ctypes.CDLL, handle: int, model: Compiled, idx: int, violates: str) -> Trace:
    """The path to stored state `idx`: its action indices from the C parent links, its
    states from the Python successor function."""
    actions = []
    k = idx
    while k > 0:
        actions.append(lib.mc_action(handle, k))
        k = lib.mc_parent(handle, k)
    actions.reverse()
    path = [model.initial]
    for a in actions:
        acts, outs = model.successors(path[-1])
        path.append(outs[acts.index(a)])
    buf = (ctypes.c_uint64 * words(model))()
    lib.mc_state(handle, idx, buf)
    if path[-1] != sum(w << (WORD * i) for i, w in enumerate(buf)):
        raise AssertionError(f"native engine: the path to state {idx} does not end in the state it stored")
    return path_trace(model, path, actions, violates)
