"""Direct evaluation of the IR on a valuation (a dict of variable codes).

This is the slow, obviously-correct path: counterexample replay and the tests use it to
check what the compiled successor function (`checker.compile`) computes.
"""

from __future__ import annotations

from collections.abc import Mapping

from dmabuf_mc.checker.ir import Add, And, Const, Eq, Expr, Ite, Lt, Not, Or, Ref
from dmabuf_mc.checker.ts import Action, TransitionSystem

Valuation = Mapping[str, int]


def evaluate(expr: Expr, state: Valuation) -> int:
    """The value of `expr` in `state` (bools as 0/1)."""
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Ref):
        return state[expr.var]
    if isinstance(expr, Not):
        return int(not evaluate(expr.arg, state))
    if isinstance(expr, And):
        return int(all(evaluate(a, state) for a in expr.args))
    if isinstance(expr, Or):
        return int(any(evaluate(a, state) for a in expr.args))
    if isinstance(expr, Eq):
        return int(evaluate(expr.lhs, state) == evaluate(expr.rhs, state))
    if isinstance(expr, Lt):
        return int(evaluate(expr.lhs, state) < evaluate(expr.rhs, state))
    if isinstance(expr, Add):
        return evaluate(expr.lhs, state) + evaluate(expr.rhs, state)
    if isinstance(expr, Ite):
        return evaluate(expr.then if evaluate(expr.cond, state) else expr.other, state)
    raise TypeError(f"not an IR node: {expr!r}")


def successor(ts: TransitionSystem, act: Action, state: Valuation) -> dict[str, int]:
    """The state after `act` (its guard is not checked here); transient variables not
    assigned by the action return to their initial value."""
    new = dict(state)
    for v in ts.variables:
        if v.transient:
            new[v.name] = ts.init[v.name]
    for name, expr in act.updates:
        value = evaluate(expr, state)
        var = ts.var(name)
        if not 0 <= value < var.domain.size:
            raise ValueError(f"{act.label} sets {name} to {value}, outside {var.domain.name}")
        new[name] = value
    return new
