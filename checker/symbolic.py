"""The IR as Z3 terms: one walker, and the encoding of a system's initial states,
transition relation and properties over step-indexed copies of its variables.

Variables are Z3 integers bounded by their domain; the IR's comparisons are Booleans and
its values integers, and the walker converts between the two where the IR mixes them
(a 0/1 variable used as a condition, a condition assigned to a variable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import z3

from dmabuf_mc.checker.ir import Add, And, Const, Eq, Expr, Ite, Lt, Not, Or, Ref
from dmabuf_mc.checker.ts import TransitionSystem

Env = Mapping[str, z3.ArithRef]


def as_bool(t: z3.ExprRef) -> z3.BoolRef:
    return t if z3.is_bool(t) else t != 0


def as_int(t: z3.ExprRef) -> z3.ArithRef:
    return z3.If(t, z3.IntVal(1), z3.IntVal(0)) if z3.is_bool(t) else t


def to_z3(e: Expr, env: Env) -> z3.ExprRef:
    """The Z3 term of `e`, reading variables from `env`."""
    if isinstance(e, Const):
        return z3.IntVal(e.value)
    if isinstance(e, Ref):
        return env[e.var]
    if isinstance(e, Not):
        return z3.Not(as_bool(to_z3(e.arg, env)))
    if isinstance(e, And):
        return z3.And(*(as_bool(to_z3(a, env)) for a in e.args))
    if isinstance(e, Or):
        return z3.Or(*(as_bool(to_z3(a, env)) for a in e.args))
    if isinstance(e, Eq):
        return as_int(to_z3(e.lhs, env)) == as_int(to_z3(e.rhs, env))
    if isinstance(e, Lt):
        return as_int(to_z3(e.lhs, env)) < as_int(to_z3(e.rhs, env))
    if isinstance(e, Add):
        return as_int(to_z3(e.lhs, env)) + as_int(to_z3(e.rhs, env))
    if isinstance(e, Ite):
        then, other = to_z3(e.then, env), to_z3(e.other, env)
        if z3.is_bool(then) and z3.is_bool(other):
            return z3.If(as_bool(to_z3(e.cond, env)), then, other)
        return z3.If(as_bool(to_z3(e.cond, env)), as_int(then), as_int(other))
    raise TypeError(f"not an IR node: {e!r}")


@dataclass(frozen=True)
class Encoding:
    """A system's formulas over environments of Z3 integer variables."""

    ts: TransitionSystem
    dropped: frozenset[str]

    def state(self, tag: str) -> dict[str, z3.ArithRef]:
        """Fresh variables for one state, named `var@tag`."""
        return {v.name: z3.Int(f"{v.name}@{tag}") for v in self.ts.variables}

    def typed(self, s: Env) -> z3.BoolRef:
        """Every variable within its finite domain."""
        return z3.And(*(z3.And(s[v.name] >= 0, s[v.name] < v.domain.size) for v in self.ts.variables))

    def init(self, s: Env) -> z3.BoolRef:
        return z3.And(*(s[name] == value for name, value in self.ts.init.items()))

    def step(self, a: int, s: Env, t: Env) -> z3.BoolRef:
        """Action `a` is enabled in `s` and leads to `t`."""
        act = self.ts.actions[a]
        updated = dict(act.updates)
        eqs = [as_bool(to_z3(act.enabled(self.dropped), s))]
        for v in self.ts.variables:
            if v.name in updated:
                eqs.append(t[v.name] == as_int(to_z3(updated[v.name], s)))
            elif v.transient:
                eqs.append(t[v.name] == self.ts.init[v.name])
            else:
                eqs.append(t[v.name] == s[v.name])
        return z3.And(*eqs)

    def trans(self, s: Env, t: Env) -> z3.BoolRef:
        """Some action leads from `s` to `t`."""
        return z3.Or(*(self.step(a, s, t) for a in range(len(self.ts.actions))))

    def holds(self, prop: str, s: Env) -> z3.BoolRef:
        return as_bool(to_z3(self.ts.property(prop).holds, s))

    def values(self, model: z3.ModelRef, s: Env) -> tuple[int, ...]:
        """A state's codes, in variable order, read from a Z3 model."""
        return tuple(model.eval(s[v.name], model_completion=True).as_long() for v in self.ts.variables)


def differ(s: Env, t: Env, names: Sequence[str]) -> z3.BoolRef:
    """Two states are distinct (simple-path constraint)."""
    return z3.Or(*(s[n] != t[n] for n in names))
