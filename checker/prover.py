"""Run a symbolic engine per property and turn its answer into replayed results,
saving a certificate for every proof."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from dmabuf_mc.checker.artefact import fingerprint
from dmabuf_mc.checker.certificate import Certificate, invariant_to_smt2, save
from dmabuf_mc.checker.check import validate_names
from dmabuf_mc.checker.engines.bmc import bmc
from dmabuf_mc.checker.engines.prove import ProofResult, kinduction, pdr
from dmabuf_mc.checker.interrupt import ctrl_c_stops_z3
from dmabuf_mc.checker.ir import TRUE, not_
from dmabuf_mc.checker.run import Run
from dmabuf_mc.checker.trace import replay
from dmabuf_mc.checker.ts import Property, TransitionSystem
from dmabuf_mc.checker.verdict import Coverage, PropertyResult, Verdict, refuted

ENGINES = ("pdr", "kind", "bmc")


class CannotWrite(Exception):
    """A certificate could not be written where it was asked for: the message says where and why."""


def prove(
    ts: TransitionSystem,
    engine: str,
    properties: Sequence[str],
    without: Sequence[str],
    depth: int,
    timeout: float | None,
    certificates: Path,
    origin: Mapping[str, Any],
    progress: Callable[[int, int, str], None] | None = None,
) -> Run:
    """Each property PROVED (certificate saved), REFUTED (replayed trace) or UNKNOWN; on
    Ctrl-C, the answers so far and UNKNOWN for the rest (the run says it was interrupted:
    what it did not reach says nothing about the model). CannotWrite if a certificate
    cannot be saved under `certificates`.

    `progress` is told (properties answered, properties, the one starting) before each.
    `origin` is what the application records about the configuration and policy (the
    `config` and `policy` fields), written into the certificate so that `certify` can
    rebuild the same system.
    """
    start = time.perf_counter()
    wanted = validate_names(ts, properties, without)
    results: list[PropertyResult] = []
    proofs = partial(Run, command="prove", system=ts.name, engine=engine, engine_reason="",
                     dropped=tuple(sorted(without)), limits={"depth": depth, "timeout": timeout}, origin=origin)
    try:
        with ctrl_c_stops_z3() as checkpoint:
            for name in wanted:
                if progress is not None:
                    progress(len(results), len(wanted), name)
                results.append(_prove_one(ts, engine, name, frozenset(without), depth, timeout, certificates, origin))
                checkpoint()
    except KeyboardInterrupt:
        note = "interrupted before an answer"
        results += [PropertyResult(n, ts.property(n).doc, Verdict.UNKNOWN, note=note) for n in wanted[len(results):]]
        return proofs(results=tuple(results), interrupted=True, seconds=time.perf_counter() - start)
    return proofs(results=tuple(results), seconds=time.perf_counter() - start)


def _prove_one(
    ts: TransitionSystem,
    engine: str,
    name: str,
    dropped: frozenset[str],
    depth: int,
    timeout: float | None,
    certificates: Path,
    origin: Mapping[str, Any],
) -> PropertyResult:
    """One property through one engine: REFUTED, PROVED with its certificate saved, or UNKNOWN."""
    doc = ts.property(name).doc
    res = _run(ts, engine, name, dropped, depth, timeout)
    if res.trace is not None:
        return replace(refuted(name, doc, res.trace), seconds=res.seconds)
    if not res.proved:
        return PropertyResult(name, doc, Verdict.UNKNOWN, note=f"{res.stopped} ({res.seconds:.1f}s)",
                              bound=res.k, seconds=res.seconds)
    cert = Certificate(
        system=ts.name, origin=origin, without=tuple(sorted(dropped)), property=name, engine=res.engine, k=res.k,
        invariant_smt2=invariant_to_smt2(res.invariant) if res.invariant is not None else "",
        fingerprint=fingerprint(ts),
    )
    try:
        path = save(cert, ts, certificates)
    except OSError as e:
        raise CannotWrite(f"cannot write a certificate under {certificates}: {e.strerror or e}") from e
    how = "inductive invariant" if res.engine == "pdr" else f"{res.k}-induction"
    return PropertyResult(name, doc, Verdict.PROVED, note=f"{how}, re-checked; {path}", certificate=str(path),
                          bound=res.k if res.engine == "kind" else None, seconds=res.seconds)


def _run(ts: TransitionSystem, engine: str, name: str, dropped: frozenset[str], depth: int,
         timeout: float | None) -> ProofResult:
    """The engine's answer for one property, as a ProofResult whatever the engine."""
    if engine == "bmc":
        found = bmc(ts, name, depth, dropped, timeout)
        return ProofResult(False, found.trace, "bmc", found.depth, None, found.stopped, found.seconds)
    if engine == "kind":
        return kinduction(ts, name, depth, dropped, timeout)
    return pdr(ts, name, depth, dropped, timeout)


def coverage(ts: TransitionSystem, engine: str, properties: Sequence[str], without: Sequence[str], depth: int,
             timeout: float | None) -> Coverage:
    """`--strict` for a symbolic run: for every checked property's premise and every action,
    a witness (a replayed trace to a state where the premise holds or the action is
    enabled) or a proof that there is none; what the engine cannot settle is undecided."""
    dropped = frozenset(without)
    wanted = validate_names(ts, properties, without)
    goals = {f"premise of {p.name}": (p.name, not_(p.premise)) for p in ts.properties
             if p.name in wanted and p.premise != TRUE}
    goals |= {f"enabled {a.label}": (a.label, not_(a.enabled(dropped))) for a in ts.actions}
    witnesses = replace(ts, properties=tuple(Property(name, "", never) for name, (_, never) in goals.items()))
    vacuous: list[str] = []
    never_enabled: list[str] = []
    undecided: list[str] = []
    settled = 0
    try:
        with ctrl_c_stops_z3() as checkpoint:
            for name, (subject, _) in goals.items():
                res = _run(witnesses, engine, name, dropped, depth, timeout)
                if res.trace is not None:
                    replay(res.trace)
                elif res.proved:
                    (vacuous if name.startswith("premise") else never_enabled).append(subject)
                else:
                    undecided.append(f"{name}: {res.stopped}")
                settled += 1
                checkpoint()
    except KeyboardInterrupt:  # what is proved stands; the rest is undecided
        left = len(goals) - settled
        undecided.append(f"interrupted after {settled} of {len(goals)} premises and actions; {left} not looked at")
    return Coverage(tuple(vacuous), tuple(never_enabled), tuple(undecided))
