"""Run a symbolic engine per property and turn its answer into replayed results,
saving a certificate for every proof."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from checker.certificate import Certificate, describe, invariant_to_smt2, save
from checker.check import validate_names
from checker.engines.bmc import bmc
from checker.engines.prove import ProofResult, kinduction, pdr
from checker.ts import TransitionSystem
from checker.verdict import PropertyResult, Verdict, refuted

ENGINES = ("pdr", "kind", "bmc")


def prove(
    ts: TransitionSystem,
    engine: str,
    properties: Sequence[str],
    without: Sequence[str],
    depth: int,
    timeout: float | None,
    certificates: Path,
    provenance: tuple[str, str],
) -> tuple[PropertyResult, ...]:
    """Each property PROVED (certificate saved), REFUTED (replayed trace) or UNKNOWN.

    `provenance` is (configuration, policy) as the user named them, written into the
    certificate so that `certify` can rebuild the same system.
    """
    wanted = validate_names(ts, properties, without)
    dropped = frozenset(without)
    results = []
    for name in wanted:
        doc = ts.property(name).doc
        if engine == "bmc":
            found = bmc(ts, name, depth, dropped, timeout)
            res = ProofResult(False, found.trace, "bmc", found.depth, None, found.stopped, found.seconds)
        elif engine == "kind":
            res = kinduction(ts, name, depth, dropped, timeout)
        else:
            res = pdr(ts, name, depth, dropped, timeout)
        if res.trace is not None:
            results.append(refuted(name, doc, res.trace))
        elif res.proved:
            cert = Certificate(
                system=ts.name, config=provenance[0], policy=provenance[1], without=tuple(sorted(without)),
                property=name, engine=res.engine, k=res.k,
                invariant_smt2=invariant_to_smt2(res.invariant) if res.invariant is not None else "",
                invariant_text=describe(res.invariant, ts) if res.invariant is not None
                else f"{name} is {res.k}-inductive",
            )
            path = save(cert, certificates)
            how = "inductive invariant" if res.engine == "pdr" else f"{res.k}-induction"
            results.append(PropertyResult(name, doc, Verdict.PROVED, note=f"{how}, re-checked; {path}"))
        else:
            results.append(PropertyResult(name, doc, Verdict.UNKNOWN, note=f"{res.stopped} ({res.seconds:.1f}s)"))
    return tuple(results)
