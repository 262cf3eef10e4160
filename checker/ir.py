"""The expression IR: small, immutable, picklable terms over finite-domain variables.

Every engine reads the model through these nodes; walkers turn them into Python source
(`checker.compile`), evaluate them directly (`checker.interp`), or later into Z3 terms.
Smart constructors fold constants so that model code can be written sequentially
(see `checker.ts.Effect`) without the terms growing needlessly.
"""

from __future__ import annotations

from dataclasses import dataclass


class Expr:
    """Base class of IR nodes; values are ints (bools are 0/1, enums their index)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Const(Expr):
    value: int


@dataclass(frozen=True, slots=True)
class Ref(Expr):
    """The current value of the state variable `var`."""

    var: str


@dataclass(frozen=True, slots=True)
class Not(Expr):
    arg: Expr


@dataclass(frozen=True, slots=True)
class And(Expr):
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or(Expr):
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Eq(Expr):
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True, slots=True)
class Lt(Expr):
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True, slots=True)
class Add(Expr):
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True, slots=True)
class Ite(Expr):
    cond: Expr
    then: Expr
    other: Expr


TRUE = Const(1)
FALSE = Const(0)


def const(value: int | bool) -> Const:
    """A constant; bools become 0/1."""
    return Const(int(value))


def not_(arg: Expr) -> Expr:
    """Logical negation, folding constants and double negation."""
    if isinstance(arg, Const):
        return FALSE if arg.value else TRUE
    if isinstance(arg, Not):
        return arg.arg
    return Not(arg)


def _flatten(kind: type, args: tuple[Expr, ...]) -> list[Expr]:
    flat: list[Expr] = []
    for a in args:
        if isinstance(a, kind):
            flat.extend(a.args)  # type: ignore[attr-defined]
        else:
            flat.append(a)
    return flat


def _nary(kind: type, absorbing: int, args: tuple[Expr, ...]) -> Expr:
    """Flatten, drop the identity constant, dedupe, and stop at the absorbing one."""
    out: list[Expr] = []
    for a in _flatten(kind, args):
        if isinstance(a, Const):
            if bool(a.value) == bool(absorbing):
                return Const(absorbing)
            continue
        if a not in out:
            out.append(a)
    if not out:
        return Const(1 - absorbing)
    return out[0] if len(out) == 1 else kind(tuple(out))


def and_(*args: Expr) -> Expr:
    """Conjunction; TRUE when empty, FALSE if any argument is FALSE."""
    return _nary(And, 0, args)


def or_(*args: Expr) -> Expr:
    """Disjunction; FALSE when empty, TRUE if any argument is TRUE."""
    return _nary(Or, 1, args)


def implies(a: Expr, b: Expr) -> Expr:
    return or_(not_(a), b)


def eq(lhs: Expr, rhs: Expr) -> Expr:
    """Equality, folded when both sides are constants or identical."""
    if isinstance(lhs, Const) and isinstance(rhs, Const):
        return const(lhs.value == rhs.value)
    if lhs == rhs:
        return TRUE
    if isinstance(lhs, Ite) and isinstance(rhs, Const):
        # Push a comparison with a constant into both branches: keeps guards on
        # sequentially-updated variables small.
        return ite(lhs.cond, eq(lhs.then, rhs), eq(lhs.other, rhs))
    return Eq(lhs, rhs)


def ne(lhs: Expr, rhs: Expr) -> Expr:
    return not_(eq(lhs, rhs))


def lt(lhs: Expr, rhs: Expr) -> Expr:
    if isinstance(lhs, Const) and isinstance(rhs, Const):
        return const(lhs.value < rhs.value)
    return Lt(lhs, rhs)


def add(lhs: Expr, rhs: Expr) -> Expr:
    if isinstance(lhs, Const) and isinstance(rhs, Const):
        return Const(lhs.value + rhs.value)
    return Add(lhs, rhs)


def ite(cond: Expr, then: Expr, other: Expr) -> Expr:
    """If-then-else, folded on a constant condition or equal branches."""
    if isinstance(cond, Const):
        return then if cond.value else other
    if then == other:
        return then
    if then == TRUE and other == FALSE:
        return cond
    if then == FALSE and other == TRUE:
        return not_(cond)
    return Ite(cond, then, other)


def refs(expr: Expr) -> set[str]:
    """The state variables an expression reads."""
    if isinstance(expr, Ref):
        return {expr.var}
    if isinstance(expr, Const):
        return set()
    if isinstance(expr, Not):
        return refs(expr.arg)
    if isinstance(expr, (And, Or)):
        out: set[str] = set()
        for a in expr.args:
            out |= refs(a)
        return out
    if isinstance(expr, (Eq, Lt, Add)):
        return refs(expr.lhs) | refs(expr.rhs)
    if isinstance(expr, Ite):
        return refs(expr.cond) | refs(expr.then) | refs(expr.other)
    raise TypeError(f"not an IR node: {expr!r}")
