"""Bounded model checking with Z3: is a violation reachable within k steps?

Incremental over k (push/pop on one solver): the first depth at which a violating state
is satisfiable is the length of a shortest counterexample, the same number BFS finds.
The Z3 model is decoded back into states, and each step's action is found with the IR
interpreter, so the result is the same Trace the explicit engine returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from dmabuf_mc.checker.interp import evaluate, successor
from dmabuf_mc.checker.interrupt import requested
from dmabuf_mc.checker.symbolic import Encoding
from dmabuf_mc.checker.trace import Trace
from dmabuf_mc.checker.ts import TransitionSystem

SEED = 0  # fixed solver seed: same inputs, same counterexample
GIVING_UP = ("canceled", "max. resource limit exceeded", "max. memory exceeded", "timeout")
"""What Z3 raises when a time, resource or memory limit or Ctrl-C stops it: no answer, not a bug."""


class SolverGaveUp(Exception):
    """Z3 answered unknown or was stopped by a limit or Ctrl-C: the question is undecided
    (UNKNOWN), which is neither a proof nor a refutation nor an error of the tool."""


def gave_up(e: z3.Z3Exception) -> SolverGaveUp | None:
    """The SolverGaveUp a Z3 exception means, or None for any other error (a bug). Once
    Ctrl-C cancels Z3, not only queries stop: a push raises "push canceled"."""
    reason = e.value.decode() if isinstance(e.value, bytes) else str(e.value)
    if reason in GIVING_UP or reason.endswith(" canceled"):
        return SolverGaveUp(f"solver gave up ({reason})")
    return None


@dataclass(frozen=True)
class BmcResult:
    """A counterexample, or the depth up to which none exists (`stopped` says why it ended)."""

    trace: Trace | None
    depth: int
    """With no trace: every depth up to this one is free of violations (-1: none checked)."""
    stopped: str | None
    seconds: float


def solver(timeout: float | None = None) -> z3.Solver:
    s = z3.Solver()
    s.set("random_seed", SEED)
    if timeout is not None:
        s.set("timeout", max(1, int(timeout * 1000)))
    return s


def decode(enc: Encoding, model: z3.ModelRef, path: list[dict], prop: str) -> Trace:
    """The trace a satisfying assignment describes, with actions found by the interpreter."""
    ts = enc.ts
    states = [enc.values(model, s) for s in path]
    actions = []
    for k in range(len(states) - 1):
        now = dict(zip((v.name for v in ts.variables), states[k], strict=True))
        nxt = dict(zip((v.name for v in ts.variables), states[k + 1], strict=True))
        for a, act in enumerate(ts.actions):
            if evaluate(act.enabled(enc.dropped), now) and successor(ts, act, now) == nxt:
                actions.append(a)
                break
        else:
            raise AssertionError(f"step {k + 1} of a Z3 model matches no action: encoding bug")
    return Trace(ts, tuple(states), tuple(actions), prop, enc.dropped)


def bmc(
    ts: TransitionSystem,
    prop: str,
    max_depth: int,
    dropped: frozenset[str] = frozenset(),
    timeout: float | None = None,
) -> BmcResult:
    """Search depths 0..max_depth in order for a state violating `prop`."""
    start = time.perf_counter()
    enc = Encoding(ts, dropped)
    path = [enc.state("0")]
    s = solver()
    s.add(enc.init(path[0]))
    for k in range(max_depth + 1):
        if timeout is not None:
            left = timeout - (time.perf_counter() - start)
            if left <= 0:
                return BmcResult(None, k - 1, f"time limit {timeout:g}s reached", time.perf_counter() - start)
            s.set("timeout", max(1, int(left * 1000)))
        try:
            s.push()
            s.add(z3.Not(enc.holds(prop, path[k])))
            result = s.check()
            model = s.model() if result == z3.sat else None
        except z3.Z3Exception as e:  # stopped outside the query itself (Ctrl-C during a push)
            stopped = gave_up(e)
            if stopped is None:
                raise
            return BmcResult(None, k - 1, f"{stopped} at depth {k}", time.perf_counter() - start)
        if model is not None:
            try:
                trace = decode(enc, model, path, prop)
            except (AssertionError, z3.Z3Exception):
                if not requested():
                    raise
            if requested():  # cancelled while the model was read back: not an answer
                return BmcResult(None, k - 1, f"solver gave up (canceled) at depth {k}", time.perf_counter() - start)
            return BmcResult(trace, k, None, time.perf_counter() - start)
        s.pop()
        if result == z3.unknown:
            return BmcResult(None, k - 1, f"solver gave up at depth {k} ({s.reason_unknown()})",
                             time.perf_counter() - start)
        if k < max_depth:
            path.append(enc.state(str(k + 1)))
            s.add(enc.trans(path[k], path[k + 1]))
    return BmcResult(None, max_depth, f"depth bound {max_depth} reached", time.perf_counter() - start)
