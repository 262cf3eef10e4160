"""Unbounded proofs: k-induction with simple-path strengthening, and PDR/IC3 through
Z3's Spacer engine on constrained Horn clauses. A proof is PROVED only after its
certificate is re-checked by `checker.certificate`; a violation is reported with the
shortest trace, found by BMC (Spacer finds reachability slowly and gives no trace).
When Z3 gives up (a time or resource limit, Ctrl-C) the result says so and how far the
engine got; it is never an exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from dmabuf_mc.checker.certificate import check_invariant, check_k_induction, invariant_to_smt2
from dmabuf_mc.checker.engines.bmc import SEED, SolverGaveUp, bmc, gave_up, solver
from dmabuf_mc.checker.interrupt import requested
from dmabuf_mc.checker.symbolic import Encoding, differ
from dmabuf_mc.checker.trace import Trace
from dmabuf_mc.checker.ts import TransitionSystem

PROBE_DEPTH = 12  # PDR first looks for shallow violations with BMC: much faster there


@dataclass(frozen=True)
class ProofResult:
    """PROVED (invariant or k, re-checked), REFUTED (trace) or neither (`stopped` says why)."""

    proved: bool
    trace: Trace | None
    engine: str
    k: int
    invariant: z3.BoolRef | None
    stopped: str | None
    seconds: float


def _left(start: float, timeout: float | None) -> float | None:
    return None if timeout is None else max(0.001, timeout - (time.perf_counter() - start))


def kinduction(
    ts: TransitionSystem, prop: str, max_k: int, dropped: frozenset[str] = frozenset(), timeout: float | None = None
) -> ProofResult:
    """Try k = 1..max_k: base case by BMC, step case on loop-free paths."""
    start = time.perf_counter()
    enc = Encoding(ts, dropped)
    names = [v.name for v in ts.variables]
    path = [enc.state("t0")]
    step = solver()
    step.add(enc.typed(path[0]))
    k = 0
    try:
        for k in range(1, max_k + 1):
            base = bmc(ts, prop, k - 1, dropped, _left(start, timeout))
            if base.trace is not None:
                return ProofResult(False, base.trace, "kind", k, None, None, time.perf_counter() - start)
            if base.depth < k - 1:
                raise SolverGaveUp(base.stopped)
            path.append(enc.state(f"t{k}"))
            step.add(enc.typed(path[k]), enc.trans(path[k - 1], path[k]), enc.holds(prop, path[k - 1]))
            step.add(*(differ(path[j], path[k], names) for j in range(k)))
            left = _left(start, timeout)
            if left is not None:
                step.set("timeout", int(left * 1000))
            try:
                step.push()
                step.add(z3.Not(enc.holds(prop, path[k])))
                result = step.check()
                step.pop()
            except z3.Z3Exception as e:  # stopped outside the query itself (Ctrl-C during a push)
                raise gave_up(e) or e from None
            if result == z3.unsat:
                failures = check_k_induction(enc, prop, k, _left(start, timeout))
                if failures:
                    raise AssertionError(f"k-induction certificate does not re-check: {failures}")
                return ProofResult(True, None, "kind", k, None, None, time.perf_counter() - start)
            if result == z3.unknown:
                raise SolverGaveUp(f"solver gave up ({step.reason_unknown()})")
    except SolverGaveUp as e:
        return ProofResult(False, None, "kind", k, None, f"{e} at k={k}", time.perf_counter() - start)
    return ProofResult(False, None, "kind", max_k, None, f"k bound {max_k} reached", time.perf_counter() - start)


def pdr(
    ts: TransitionSystem, prop: str, max_depth: int, dropped: frozenset[str] = frozenset(),
    timeout: float | None = None,
) -> ProofResult:
    """A BMC probe for shallow violations, then Spacer; when Z3 gives up, the result says
    to which depth the probe found no violation."""
    start = time.perf_counter()
    probe = bmc(ts, prop, min(PROBE_DEPTH, max_depth), dropped, _left(start, timeout))
    if probe.trace is not None:
        return ProofResult(False, probe.trace, "pdr", probe.depth, None, None, time.perf_counter() - start)
    try:
        try:
            return _spacer(ts, prop, max_depth, dropped, timeout, start)
        except z3.Z3Exception as e:  # stopped outside the query itself (Ctrl-C while rules are added)
            raise gave_up(e) or e from None
    except SolverGaveUp as e:
        covered = f"; no violation within {probe.depth} steps (BMC)" if probe.depth >= 0 else ""
        return ProofResult(False, None, "pdr", probe.depth, None, f"{e}{covered}", time.perf_counter() - start)


def _query(fp: z3.Fixedpoint, goal: z3.BoolRef) -> z3.CheckSatResult:
    """Spacer's answer, sat or unsat; SolverGaveUp when it gives up or is stopped."""
    try:
        result = fp.query(goal)
    except z3.Z3Exception as e:
        stopped = gave_up(e)
        if stopped is None:
            raise
        raise stopped from None
    if result == z3.unknown:
        raise SolverGaveUp(f"Spacer gave up ({fp.reason_unknown()})")
    return result


def _spacer(
    ts: TransitionSystem, prop: str, max_depth: int, dropped: frozenset[str], timeout: float | None, start: float
) -> ProofResult:
    """Spacer on Inv(s) <- Init(s); Inv(t) <- Inv(s) & step_a(s, t); query Inv(s) & !P(s)."""
    enc = Encoding(ts, dropped)
    s, t = enc.state("s"), enc.state("t")
    sv, tv = [s[v.name] for v in ts.variables], [t[v.name] for v in ts.variables]
    inv = z3.Function("Inv", *[z3.IntSort()] * len(sv), z3.BoolSort())
    fp = z3.Fixedpoint()
    fp.set("engine", "spacer")
    fp.set("spacer.random_seed", SEED)
    # Keep every argument of Inv: slicing drops constant ones, and the invariant read
    # back would then miss facts the proof used.
    fp.set("xform.slice", False)
    fp.set("xform.inline_linear", False)
    fp.set("xform.inline_eager", False)
    left = _left(start, timeout)
    if left is not None:
        fp.set("timeout", int(left * 1000))
    fp.register_relation(inv)
    fp.declare_var(*sv, *tv)
    fp.rule(inv(*sv), enc.init(s))
    for a in range(len(ts.actions)):
        fp.rule(inv(*tv), z3.And(inv(*sv), enc.step(a, s, t)))
    if _query(fp, z3.And(inv(*sv), z3.Not(enc.holds(prop, s)))) == z3.sat:
        found = bmc(ts, prop, max_depth, dropped, _left(start, timeout))
        stopped = None if found.trace is not None else f"reachable, but no trace within {found.stopped}"
        return ProofResult(False, found.trace, "pdr", found.depth, None, stopped, time.perf_counter() - start)
    bare = {v.name: z3.Int(v.name) for v in ts.variables}
    invariant = z3.substitute_vars(fp.get_cover_delta(-1, inv), *[bare[v.name] for v in ts.variables])
    if requested():  # cancelled while the invariant was read back: not an answer
        raise SolverGaveUp("solver gave up (canceled)")
    failures = check_invariant(enc, prop, invariant_to_smt2(invariant), _left(start, timeout))
    if failures:
        raise AssertionError(f"Spacer's invariant does not re-check: {failures}")
    return ProofResult(True, None, "pdr", 0, invariant, None, time.perf_counter() - start)
