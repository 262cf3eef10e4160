"""Compile a transition system to Python functions over packed states.

A state is one integer: each variable owns a bit field. Guards that are conjunctions of
`var == constant` become a single mask comparison; everything else becomes straight-line
Python over the unpacked fields. The generated source is kept (`Compiled.source`) so it
can be printed when debugging. Compilation happens once per (system, dropped obligations).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from checker.ir import Add, And, Const, Eq, Expr, Ite, Lt, Not, Or, Ref, refs
from checker.ts import TransitionSystem


@dataclass(frozen=True)
class Layout:
    """Bit offsets and widths of every variable in a packed state."""

    offsets: tuple[int, ...]
    widths: tuple[int, ...]

    @classmethod
    def of(cls, ts: TransitionSystem) -> Layout:
        offsets, widths, off = [], [], 0
        for v in ts.variables:
            w = max(1, (v.domain.size - 1).bit_length())
            offsets.append(off)
            widths.append(w)
            off += w
        return cls(tuple(offsets), tuple(widths))

    def pack(self, ts: TransitionSystem, valuation: Mapping[str, int]) -> int:
        s = 0
        for i, v in enumerate(ts.variables):
            s |= valuation[v.name] << self.offsets[i]
        return s

    def unpack(self, ts: TransitionSystem, state: int) -> dict[str, int]:
        return {
            v.name: (state >> self.offsets[i]) & ((1 << self.widths[i]) - 1)
            for i, v in enumerate(ts.variables)
        }


class _Emitter:
    """Turns IR into Python source over locals `x<i>` (unpacked fields) and `s`."""

    def __init__(self, ts: TransitionSystem, layout: Layout) -> None:
        self.ts = ts
        self.layout = layout

    def local(self, var: str) -> str:
        return f"x{self.ts.var_index[var]}"

    def unpack_line(self, var: str) -> str:
        i = self.ts.var_index[var]
        off, mask = self.layout.offsets[i], (1 << self.layout.widths[i]) - 1
        return f"x{i} = (s >> {off}) & {mask}" if off else f"x{i} = s & {mask}"

    def expr(self, e: Expr) -> str:
        if isinstance(e, Const):
            return str(e.value)
        if isinstance(e, Ref):
            return self.local(e.var)
        if isinstance(e, Not):
            return f"(not {self.expr(e.arg)})"
        if isinstance(e, And):
            return "(" + " and ".join(self.expr(a) for a in e.args) + ")"
        if isinstance(e, Or):
            return "(" + " or ".join(self.expr(a) for a in e.args) + ")"
        if isinstance(e, Eq):
            return f"({self.expr(e.lhs)} == {self.expr(e.rhs)})"
        if isinstance(e, Lt):
            return f"({self.expr(e.lhs)} < {self.expr(e.rhs)})"
        if isinstance(e, Add):
            return f"({self.expr(e.lhs)} + {self.expr(e.rhs)})"
        if isinstance(e, Ite):
            return f"({self.expr(e.then)} if {self.expr(e.cond)} else {self.expr(e.other)})"
        raise TypeError(f"not an IR node: {e!r}")

    def condition(self, e: Expr) -> tuple[str, set[str]]:
        """Source for a boolean condition and the variables it needs unpacked.

        The `var == const` conjuncts are folded into one `(s & M) == V` test.
        """
        conjuncts = e.args if isinstance(e, And) else (e,)
        mask = value = 0
        rest: list[Expr] = []
        for c in conjuncts:
            if isinstance(c, Eq) and isinstance(c.lhs, Ref) and isinstance(c.rhs, Const):
                i = self.ts.var_index[c.lhs.var]
                off, width = self.layout.offsets[i], self.layout.widths[i]
                field = ((1 << width) - 1) << off
                if mask & field and (value & field) != (c.rhs.value << off):
                    return "False", set()
                mask |= field
                value |= c.rhs.value << off
            elif isinstance(c, Const):
                if not c.value:
                    return "False", set()
            else:
                rest.append(c)
        parts = [f"(s & {mask}) == {value}"] if mask else []
        needed: set[str] = set()
        for c in rest:
            parts.append(self.expr(c))
            needed |= refs(c)
        return (" and ".join(parts) or "True"), needed


@dataclass(frozen=True)
class Compiled:
    """The fast form of a transition system with some obligations dropped.

    `successors(s)` returns a flat list `[action, state, action, state, ...]`;
    `violations(s)` and `premises(s)` return bit sets over `ts.properties`.
    """

    ts: TransitionSystem
    dropped: frozenset[str]
    layout: Layout
    initial: int
    successors: Callable[[int], list[int]]
    violations: Callable[[int], int]
    premises: Callable[[int], int]
    is_final: Callable[[int], bool]
    source: str

    def unpack(self, state: int) -> dict[str, int]:
        return self.layout.unpack(self.ts, state)

    def pack(self, valuation: Mapping[str, int]) -> int:
        return self.layout.pack(self.ts, valuation)


def _predicate_set(em: _Emitter, name: str, preds: list[Expr], negate: bool) -> list[str]:
    """A function returning the bit set of predicates that hold (or fail, if negate)."""
    needed: set[str] = set()
    tests = []
    for p in preds:
        cond, need = em.condition(p)
        needed |= need
        tests.append(cond)
    lines = [f"def {name}(s):"]
    lines += [f"    {em.unpack_line(v)}" for v in sorted(needed, key=em.ts.var_index.get)]
    lines.append("    b = 0")
    for k, cond in enumerate(tests):
        test = f"not ({cond})" if negate else f"({cond})"
        lines.append(f"    if {test}: b |= {1 << k}")
    lines.append("    return b")
    return lines


def compile_system(ts: TransitionSystem, dropped: frozenset[str] = frozenset()) -> Compiled:
    """Generate and load the Python successor, property and final-state functions."""
    layout = Layout.of(ts)
    em = _Emitter(ts, layout)
    transient_reset = 0
    transient_mask = 0
    for i, v in enumerate(ts.variables):
        if v.transient:
            transient_mask |= ((1 << layout.widths[i]) - 1) << layout.offsets[i]
            transient_reset |= ts.init[v.name] << layout.offsets[i]

    needed: set[str] = set()
    bodies: list[str] = []
    for a_id, act in enumerate(ts.actions):
        cond, need = em.condition(act.enabled(dropped))
        if cond == "False":
            continue
        needed |= need
        clear = transient_mask
        const_bits = transient_reset
        dynamic = []
        for name, expr in act.updates:
            i = ts.var_index[name]
            field = ((1 << layout.widths[i]) - 1) << layout.offsets[i]
            clear |= field
            const_bits &= ~field
            if isinstance(expr, Const):
                const_bits |= expr.value << layout.offsets[i]
            else:
                needed |= refs(expr)
                shift = f" << {layout.offsets[i]}" if layout.offsets[i] else ""
                dynamic.append(f"({em.expr(expr)}){shift}")
        keep = (1 << sum(layout.widths)) - 1 & ~clear
        new = " | ".join([f"(s & {keep})", str(const_bits), *dynamic])
        bodies.append(f"    if {cond}:\n        ap({a_id}); ap({new})")

    lines = ["def successors(s):"]
    lines += [f"    {em.unpack_line(v)}" for v in sorted(needed, key=ts.var_index.get)]
    lines += ["    out = []", "    ap = out.append", *bodies, "    return out", ""]
    lines += _predicate_set(em, "violations", [p.holds for p in ts.properties], negate=True)
    lines += [""]
    lines += _predicate_set(em, "premises", [p.premise for p in ts.properties], negate=False)
    final_cond, final_need = em.condition(ts.final)
    lines += ["", "def is_final(s):"]
    lines += [f"    {em.unpack_line(v)}" for v in sorted(final_need, key=ts.var_index.get)]
    lines += [f"    return {final_cond}", ""]
    source = "\n".join(lines)
    namespace: dict[str, object] = {}
    exec(compile(source, f"<compiled {ts.name}>", "exec"), namespace)
    return Compiled(
        ts=ts,
        dropped=dropped,
        layout=layout,
        initial=layout.pack(ts, ts.init),
        successors=namespace["successors"],  # type: ignore[arg-type]
        violations=namespace["violations"],  # type: ignore[arg-type]
        premises=namespace["premises"],  # type: ignore[arg-type]
        is_final=namespace["is_final"],  # type: ignore[arg-type]
        source=source,
    )
