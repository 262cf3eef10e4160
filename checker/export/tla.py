"""The transition system as a TLA+ module and a TLC configuration.

`Init` is the initial valuation, `Next` has one disjunct per action instance (its guard,
obligations included unless dropped, then primed assignments, the transient resets of
`checker.export.step` included, and UNCHANGED for the rest), plus a stuttering step in a
final state so that TLC's deadlock is exactly ours. Each checked property is an
invariant of the .cfg. TLA+ keeps booleans and integers apart where the IR does not
(booleans are 0/1 there), so this printer is typed: every node is written either as a
formula or as an integer, converting where the context asks for the other.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from dmabuf_mc.checker.export.naming import comment, identifiers, unique
from dmabuf_mc.checker.export.step import assignments, checked
from dmabuf_mc.checker.ir import FALSE, Add, And, Const, Eq, Expr, Ite, Lt, Not, Or, Ref
from dmabuf_mc.checker.ts import Action, TransitionSystem

KEYWORDS = """
ASSUME ASSUMPTION AXIOM CASE CHOOSE CONSTANT CONSTANTS DOMAIN ELSE ENABLED EXCEPT EXTENDS IF IN INSTANCE LET
LOCAL MODULE OTHER SF_ SUBSET THEN THEOREM UNCHANGED UNION VARIABLE VARIABLES WF_ WITH BOOLEAN TRUE FALSE Nat
Int Init Next Spec vars TypeOK Final
"""
RESERVED = frozenset(KEYWORDS.split())
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Tla:
    """A module and the TLC configuration that checks it."""

    module: str
    cfg: str


class _Printer:
    """TLA+ for the IR of one system, variables under their exported identifiers."""

    def __init__(self, name: dict[str, str]) -> None:
        self.name = name

    def formula(self, e: Expr) -> str:
        """`e` as a TLA+ formula (nonzero is TRUE)."""
        if isinstance(e, Const):
            return "TRUE" if e.value else "FALSE"
        if isinstance(e, Not):
            return f"~{self.formula(e.arg)}" if not isinstance(e.arg, Eq) else \
                f"({self.integer(e.arg.lhs)} # {self.integer(e.arg.rhs)})"
        if isinstance(e, (And, Or)):
            op = " /\\ " if isinstance(e, And) else " \\/ "
            return "(" + op.join(self.formula(a) for a in e.args) + ")"
        if isinstance(e, Eq):
            return f"({self.integer(e.lhs)} = {self.integer(e.rhs)})"
        if isinstance(e, Lt):
            return f"({self.integer(e.lhs)} < {self.integer(e.rhs)})"
        if isinstance(e, Ite):
            return f"(IF {self.formula(e.cond)} THEN {self.formula(e.then)} ELSE {self.formula(e.other)})"
        return f"({self.integer(e)} # 0)"  # Ref, Add

    def integer(self, e: Expr) -> str:
        """`e` as a TLA+ integer (a formula is 1 or 0)."""
        if isinstance(e, Const):
            return str(e.value)
        if isinstance(e, Ref):
            return self.name[e.var]
        if isinstance(e, Add):
            return f"({self.integer(e.lhs)} + {self.integer(e.rhs)})"
        if isinstance(e, Ite):
            return f"(IF {self.formula(e.cond)} THEN {self.integer(e.then)} ELSE {self.integer(e.other)})"
        return f"(IF {self.formula(e)} THEN 1 ELSE 0)"  # Not, And, Or, Eq, Lt


def _action(ts: TransitionSystem, act: Action, p: _Printer, dropped: frozenset[str], name: str) -> list[str]:
    """One disjunct of Next: the guard, the primed assignments, the rest unchanged."""
    writes = assignments(ts, act)
    assigned = {var for var, _ in writes}
    kept = [p.name[v.name] for v in ts.variables if v.name not in assigned]
    lines = [f"\\* {act.label}", f"{name} ==", f"    /\\ {p.formula(act.enabled(dropped))}"]
    lines += [f"    /\\ {p.name[var]}' = {p.integer(e)}" for var, e in writes]
    if kept:
        lines.append(f"    /\\ UNCHANGED <<{', '.join(kept)}>>")
    return lines


def tla(ts: TransitionSystem, module: str, properties: Collection[str] | None = None,
        dropped: frozenset[str] = frozenset()) -> Tla:
    """Module `module` (the file must be `module`.tla) and its .cfg, checking the named
    properties (all for None) as invariants."""
    if not MODULE_NAME.match(module):
        raise ValueError(f"{module!r} is not a TLA+ module name (letters, digits and _)")
    p = _Printer(identifiers(ts, RESERVED))
    taken = set(RESERVED) | set(p.name.values())
    props = checked(ts, properties)
    actions = [act for act in ts.actions if act.enabled(dropped) != FALSE]
    act_names = unique([a.label for a in actions], taken)
    invariants = unique([f"Inv_{prop.name}" for prop in props], taken)
    names = [p.name[v.name] for v in ts.variables]
    lines = [f"---- MODULE {module} ----", f"\\* {ts.name}: exported by dmabuf-mc; check with TLC and {module}.cfg",
             "EXTENDS Naturals", "", f"VARIABLES {', '.join(names)}"]
    lines += [f"\\* {comment(ts, v.name)}" for v in ts.variables]
    lines += ["", f"vars == <<{', '.join(names)}>>", "",
              "TypeOK ==", *(f"    /\\ {p.name[v.name]} \\in 0..{v.domain.size - 1}" for v in ts.variables), "",
              "Init ==", *(f"    /\\ {p.name[v.name]} = {ts.init[v.name]}" for v in ts.variables), ""]
    for act, act_name in zip(actions, act_names, strict=True):
        lines += [*_action(ts, act, p, dropped, act_name), ""]
    lines += [f"Final == {p.formula(ts.final)}", "", "Next ==",
              *(f"    \\/ {d}" for d in act_names), "    \\/ (Final /\\ UNCHANGED vars)", "",
              "Spec == Init /\\ [][Next]_vars", ""]
    for inv, prop in zip(invariants, props, strict=True):
        lines += [f"\\* {prop.name}", f"{inv} == {p.formula(prop.holds)}", ""]
    lines += ["===="]
    cfg = ["INIT Init", "NEXT Next", "INVARIANT TypeOK", *(f"INVARIANT {inv}" for inv in invariants)]
    return Tla("\n".join(lines) + "\n", "\n".join(cfg) + "\n")

