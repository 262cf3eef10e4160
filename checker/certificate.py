"""Proof certificates: an inductive invariant (or a k-induction claim), saved as a file
and re-checked by independent Z3 queries that trust nothing the prover said.

For an invariant INV (conjoined with the variables' domains, TYPED):
  init => TYPED & INV;  TYPED & INV & T => TYPED' & INV';  TYPED & INV => P.
For k-induction: no violation within k-1 steps of init, and any k+1-state path whose
first k states satisfy P (loop-free) ends in a state that satisfies P.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import z3

from dmabuf_mc.checker.artefact import (
    CERTIFICATE,
    ORIGIN,
    READABLE,
    VERSION,
    FieldError,
    Unreadable,
    field,
    read_json,
    readable,
    stamp,
    strings,
    write_atomic,
)
from dmabuf_mc.checker.engines.bmc import SolverGaveUp, bmc, solver
from dmabuf_mc.checker.symbolic import Encoding, differ
from dmabuf_mc.checker.ts import TransitionSystem

SCHEMA = CERTIFICATE
ENGINES = ("pdr", "kind")
MAX_K = 64
"""The largest k a k-induction certificate may claim: the re-check unrolls k steps and
compares every pair of states on the path, so a k much larger would not finish (a proof
that needs a larger k is better done by PDR)."""


class CertificateError(Exception):
    """A certificate file that cannot be read, or that does not check."""


@dataclass(frozen=True)
class Certificate:
    """A proof's claim, in a form independent queries re-check (`recheck`)."""

    system: str
    origin: Mapping[str, Any]
    """The `config` and `policy` fields, for the application to rebuild the system from."""
    without: tuple[str, ...]
    property: str
    engine: str  # "pdr" (inductive invariant) or "kind" (k-inductive property)
    k: int
    invariant_smt2: str  # over the state variables; "" for k-induction
    fingerprint: str | None
    """The model's when it was proved (None in version 1)."""


def invariant_to_smt2(inv: z3.BoolRef) -> str:
    s = z3.Solver()
    s.add(inv)
    return s.to_smt2()


def invariant_from_smt2(text: str, s: dict[str, z3.ArithRef]) -> z3.BoolRef:
    """Parse an invariant written over the bare variable names into the state `s`."""
    try:
        parsed = z3.And(*z3.parse_smt2_string(text))
    except z3.Z3Exception as e:
        raise CertificateError(f"invariant is not valid SMT-LIB: {_z3_message(e)}") from None
    names = {c.decl().name(): c for c in _constants(parsed)}
    unknown = sorted(set(names) - set(s))
    if unknown:
        raise CertificateError(f"invariant names variables the model does not have: {', '.join(unknown)}")
    return z3.substitute(parsed, *[(c, s[n]) for n, c in names.items()])


def _constants(e: z3.ExprRef) -> set[z3.ExprRef]:
    """The uninterpreted constants in `e`, each shared subterm visited once."""
    out: set[z3.ExprRef] = set()
    seen: set[int] = set()
    todo = [e]
    while todo:
        t = todo.pop()
        if t.get_id() in seen:
            continue
        seen.add(t.get_id())
        if z3.is_const(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.add(t)
        todo += t.children()
    return out


MAX_SHOWN = 100_000
"""The most subterms `claim` renders: a formula shares subterms (SMT-LIB `let`), and
written out as a tree it can grow exponentially."""


def _tree_size(e: z3.ExprRef, sizes: dict[int, int]) -> int:
    """How many subterms `e` has written out as a tree (capped just above MAX_SHOWN)."""
    if e.get_id() not in sizes:
        sizes[e.get_id()] = min(MAX_SHOWN + 1, 1 + sum(_tree_size(c, sizes) for c in e.children()))
    return sizes[e.get_id()]


def _unsat(formula: z3.BoolRef, timeout: float | None) -> bool:
    """Whether `formula` is unsatisfiable; SolverGaveUp when Z3 cannot tell."""
    s = solver(timeout)
    s.add(formula)
    r = s.check()
    if r == z3.unknown:
        raise SolverGaveUp(f"solver gave up re-checking the certificate ({s.reason_unknown()})")
    return r == z3.unsat


def check_invariant(enc: Encoding, prop: str, smt2: str, timeout: float | None = None) -> list[str]:
    """The failed obligations of an inductive-invariant certificate (empty: it checks)."""
    s, t = enc.state("s"), enc.state("t")
    inv_s, inv_t = invariant_from_smt2(smt2, s), invariant_from_smt2(smt2, t)
    failures = []
    if not _unsat(z3.And(enc.init(s), z3.Not(z3.And(enc.typed(s), inv_s))), timeout):
        failures.append("init => invariant fails")
    if not _unsat(z3.And(enc.typed(s), inv_s, enc.trans(s, t), z3.Not(z3.And(enc.typed(t), inv_t))), timeout):
        failures.append("invariant is not inductive (invariant & T => invariant' fails)")
    if not _unsat(z3.And(enc.typed(s), inv_s, z3.Not(enc.holds(prop, s))), timeout):
        failures.append(f"invariant => {prop} fails")
    return failures


def check_k_induction(enc: Encoding, prop: str, k: int, timeout: float | None = None) -> list[str]:
    """The failed obligations of a k-induction certificate (empty: it checks)."""
    failures = []
    if k > 1:
        base = bmc(enc.ts, prop, k - 1, enc.dropped, timeout)
        if base.trace is not None:
            failures.append(f"{prop} is violated within {k - 1} steps")
        elif base.depth < k - 1:
            raise SolverGaveUp(f"base case: {base.stopped}")
    path = [enc.state(f"k{i}") for i in range(k + 1)]
    names = [v.name for v in enc.ts.variables]
    step = [enc.typed(p) for p in path]
    step += [enc.trans(path[i], path[i + 1]) for i in range(k)]
    step += [enc.holds(prop, path[i]) for i in range(k)]
    step += [differ(path[i], path[j], names) for i in range(k + 1) for j in range(i + 1, k + 1)]
    if not _unsat(z3.And(*step, z3.Not(enc.holds(prop, path[k]))), timeout):
        failures.append(f"{prop} is not {k}-inductive")
    return failures


def recheck(cert: Certificate, ts: TransitionSystem, timeout: float | None = None) -> list[str]:
    """The certificate's failed obligations on `ts` (empty: it checks); CertificateError if
    it names a property or obligation `ts` does not have, SolverGaveUp if Z3 cannot tell."""
    if cert.property not in [p.name for p in ts.properties]:
        raise CertificateError(f"property: {ts.name} has no property {cert.property!r}")
    unknown = sorted(set(cert.without) - set(ts.obligation_names()))
    if unknown:
        raise CertificateError(f"without: {ts.name} has no obligation {unknown[0]!r}")
    enc = Encoding(ts, frozenset(cert.without))
    if cert.engine == "kind":
        return check_k_induction(enc, cert.property, cert.k, timeout)
    return check_invariant(enc, cert.property, cert.invariant_smt2, timeout)


def claim(cert: Certificate, ts: TransitionSystem) -> str:
    """What the certificate proves, in model terms, rendered from the formula it carries
    (never from the text stored beside it, which nothing checks)."""
    if cert.engine == "kind":
        return f"{cert.property} is {cert.k}-inductive"
    bare = {v.name: z3.Int(v.name) for v in ts.variables}
    inv = invariant_from_smt2(cert.invariant_smt2, bare)
    if _tree_size(inv, {}) > MAX_SHOWN:
        return f"an invariant of more than {MAX_SHOWN:,} subterms written out (not shown)"
    return describe(inv, ts)


def save(cert: Certificate, ts: TransitionSystem, directory: Path) -> Path:
    """Write the certificate atomically, under a name derived from what it proves and by
    which engine (stable: a PDR and a k-induction proof of one property are two files)."""
    directory.mkdir(parents=True, exist_ok=True)
    slug = "-".join([cert.system.replace("/", "-"), cert.property, *cert.without]).replace(".", "_")
    path = directory / f"{slug}.{cert.engine}.cert.json"
    doc = {"schema": SCHEMA, "version": VERSION, **stamp(ts), "system": cert.system, **cert.origin,
           "without": list(cert.without), "property": cert.property, "engine": cert.engine, "k": cert.k,
           "invariant_smt2": cert.invariant_smt2,
           "invariant_text": claim(cert, ts)}  # for people reading the file; certify renders its own
    write_atomic(path, json.dumps(doc, indent=2) + "\n")
    return path


def load(path: str) -> Certificate:
    """Parse and validate a certificate file; CertificateError names the field."""
    try:
        doc = read_json(path)
    except Unreadable as e:
        raise CertificateError(f"{path}: not a readable JSON certificate ({e.error})") from None
    if not readable(doc, SCHEMA):
        raise CertificateError(f"{path}: expected schema {SCHEMA} version {' or '.join(map(str, READABLE))}")
    try:
        without = strings(doc, "without")
        engine = field(doc, "engine", str)
        if engine not in ENGINES:
            raise CertificateError(f"{path}: engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
        for key in ORIGIN:
            if key not in doc:
                raise FieldError(key, "present")
        return Certificate(
            system=field(doc, "system", str),
            origin={key: doc[key] for key in ORIGIN},
            without=without,
            property=field(doc, "property", str),
            engine=engine,
            k=_k(path, engine, field(doc, "k", int)),
            invariant_smt2=_invariant(path, engine, field(doc, "invariant_smt2", str)),
            fingerprint=field(doc, "model_fingerprint", str) if doc["version"] >= 2 else None,
        )
    except FieldError as e:
        raise CertificateError(f"{path}: {e}") from None


MAX_INVARIANT = 2**20
"""The longest invariant read, in characters: a hundred times the largest PDR has written
for a built-in model; a longer one is refused before Z3 parses it."""
MAX_NESTING = 400
"""The deepest parenthesis nesting read in an invariant: PDR's have a let per shared
subterm, a few dozen deep; rendering walks the formula recursively."""


def _nesting(text: str) -> int:
    """The deepest parenthesis nesting in SMT-LIB text."""
    depth = deepest = 0
    for c in text:
        if c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
    return deepest


def _invariant(path: str, engine: str, text: str) -> str:
    """`invariant_smt2`, which for PDR must be SMT-LIB that Z3 parses, not too long nor
    nested too deeply (checked before Z3 reads it)."""
    if len(text) > MAX_INVARIANT:
        raise CertificateError(f"{path}: invariant_smt2: expected at most {MAX_INVARIANT:,} characters, got "
                               f"{len(text):,}")
    if _nesting(text) > MAX_NESTING:
        raise CertificateError(f"{path}: invariant_smt2: expected parentheses nested at most {MAX_NESTING} deep")
    if engine == "pdr":
        try:
            z3.parse_smt2_string(text)
        except z3.Z3Exception as e:
            raise CertificateError(f"{path}: invariant_smt2: expected SMT-LIB assertions ({_z3_message(e)})") from None
    return text


def _z3_message(e: z3.Z3Exception) -> str:
    """Z3's error message as text (it may come as bytes), on one line."""
    message = e.value.decode(errors="replace") if isinstance(e.value, bytes) else str(e.value)
    return " ".join(message.split())


def _k(path: str, engine: str, k: int) -> int:
    """`k`, which for k-induction must be from 1 to MAX_K (PDR does not use it)."""
    if engine == "kind" and not 1 <= k <= MAX_K:
        raise CertificateError(f"{path}: k: expected an integer from 1 to {MAX_K} for engine kind, got {k}")
    return k


def describe(inv: z3.BoolRef, ts: TransitionSystem) -> str:
    """The invariant in model terms: one conjunct a line, values shown by their labels."""
    domains = {v.name: v.domain for v in ts.variables}

    def term(e: z3.ExprRef) -> str:
        if z3.is_and(e):
            return "(" + " and ".join(term(c) for c in e.children()) + ")"
        if z3.is_or(e):
            return "(" + " or ".join(term(c) for c in e.children()) + ")"
        if z3.is_not(e):
            inner = e.children()[0]
            if z3.is_eq(inner):
                return term(inner).replace(" == ", " != ")
            for op, neg in ((z3.is_le, " > "), (z3.is_ge, " < "), (z3.is_lt, " >= "), (z3.is_gt, " <= ")):
                if op(inner):
                    return term(inner).replace(_OPS[op], neg)
            return f"not {term(inner)}"
        for op, text in _OPS.items():
            if op(e):
                a, b = e.children()
                return f"{_side(a, b, domains)}{text}{_side(b, a, domains)}"
        return str(e)

    shown = [term(c) for c in _conjuncts(inv) if not _domain_fact(c, domains)]
    return "\n".join(shown) or "true (the property holds in every well-typed state)"


def _conjuncts(e: z3.BoolRef) -> list[z3.BoolRef]:
    """The conjuncts of `e`, nested conjunctions flattened (a parsed invariant is one)."""
    return [c for child in e.children() for c in _conjuncts(child)] if z3.is_and(e) else [e]


def _domain_fact(e: z3.BoolRef, domains: dict) -> bool:
    """A one-variable conjunct true for every value of its domain: TYPED says it already."""
    consts = _constants(e)
    if len(consts) != 1:
        return False
    (c,) = consts
    size = domains[c.decl().name()].size
    return all(z3.is_true(z3.simplify(z3.substitute(e, (c, z3.IntVal(v))))) for v in range(size))


_OPS = {z3.is_eq: " == ", z3.is_le: " <= ", z3.is_ge: " >= ", z3.is_lt: " < ", z3.is_gt: " > "}


def _side(e: z3.ExprRef, other: z3.ExprRef, domains: dict) -> str:
    """A variable by its name, a constant compared with a variable by its label."""
    if z3.is_int_value(e) and z3.is_const(other) and other.decl().name() in domains:
        labels = domains[other.decl().name()].labels
        v = e.as_long()
        return labels[v] if 0 <= v < len(labels) else str(v)
    return e.decl().name() if z3.is_const(e) and not z3.is_int_value(e) else str(e)
