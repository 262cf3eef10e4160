"""Compile a transition system to Python functions over packed states.

A state is one integer: each variable owns a bit field. The fields a function reads are
unpacked once into locals; guards, updates and properties become straight-line Python
over them, and a successor is packed back with masks and shifts. The generated source is kept (`Compiled.source`) so it
can be printed when debugging. Compilation happens once per distinct (model, dropped
obligations) in a process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dmabuf_mc.checker.artefact import fingerprint
from dmabuf_mc.checker.ir import Add, And, Const, Eq, Expr, Ite, Lt, Not, Or, Ref, refs
from dmabuf_mc.checker.ts import Property, TransitionSystem


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

    def transients(self, ts: TransitionSystem) -> tuple[int, int]:
        """The bits of the transient variables, and their initial values in place: every
        successor starts from these, so observations last one step."""
        mask = reset = 0
        for i, v in enumerate(ts.variables):
            if v.transient:
                mask |= ((1 << self.widths[i]) - 1) << self.offsets[i]
                reset |= ts.init[v.name] << self.offsets[i]
        return mask, reset

    def unpack(self, ts: TransitionSystem, state: int) -> dict[str, int]:
        return {
            v.name: (state >> self.offsets[i]) & ((1 << self.widths[i]) - 1)
            for i, v in enumerate(ts.variables)
        }


@dataclass(frozen=True)
class Syntax:
    """How a target language spells the operators whose spelling differs between targets."""

    not_: str
    and_: str
    or_: str
    ite: str
    """A format with `cond`, `then` and `other` fields."""


PYTHON = Syntax("not ", " and ", " or ", "({then} if {cond} else {other})")
C = Syntax("!", " && ", " || ", "({cond} ? {then} : {other})")


def render(e: Expr, local: Callable[[str], str], syntax: Syntax) -> str:
    """Source for expression `e`, variables named by `local`: one printer for every
    generated target, so the Python and C engines read the IR alike."""

    def go(e: Expr) -> str:
        if isinstance(e, Const):
            return str(e.value)
        if isinstance(e, Ref):
            return local(e.var)
        if isinstance(e, Not):
            if isinstance(e.arg, Eq):
                return f"({go(e.arg.lhs)} != {go(e.arg.rhs)})"
            return f"({syntax.not_}{go(e.arg)})"
        if isinstance(e, And):
            return "(" + syntax.and_.join(go(a) for a in e.args) + ")"
        if isinstance(e, Or):
            return "(" + syntax.or_.join(go(a) for a in e.args) + ")"
        if isinstance(e, Eq):
            return f"({go(e.lhs)} == {go(e.rhs)})"
        if isinstance(e, Lt):
            return f"({go(e.lhs)} < {go(e.rhs)})"
        if isinstance(e, Add):
            return f"({go(e.lhs)} + {go(e.rhs)})"
        if isinstance(e, Ite):
            return syntax.ite.format(cond=go(e.cond), then=go(e.then), other=go(e.other))
        raise TypeError(f"not an IR node: {e!r}")

    return go(e)


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
        return render(e, self.local, PYTHON)

    def condition(self, e: Expr) -> tuple[str, set[str]]:
        """Source for a boolean condition and the variables it needs unpacked.

        Comparing unpacked fields (small ints) measured faster than masking the packed
        state, which allocates once a state outgrows one machine digit (bench/explore.py).
        """
        if isinstance(e, Const):
            return ("True" if e.value else "False"), set()
        return self.expr(e), refs(e)


@dataclass(frozen=True)
class Compiled:
    """The fast form of a transition system with some obligations dropped.

    `successors(s)` returns two parallel lists, the enabled actions and their
    successor states; `observe(s)` returns a bit set over `ts.properties` with bit k
    set when property k is violated and bit n+k when its premise holds.
    """

    ts: TransitionSystem
    dropped: frozenset[str]
    layout: Layout
    initial: int
    successors: Callable[[int], tuple[list[int], list[int]]]
    observe: Callable[[int], int]
    is_final: Callable[[int], bool]
    source: str

    def unpack(self, state: int) -> dict[str, int]:
        return self.layout.unpack(self.ts, state)

    def pack(self, valuation: Mapping[str, int]) -> int:
        return self.layout.pack(self.ts, valuation)


def _observe_function(em: _Emitter, props: tuple[Property, ...]) -> list[str]:
    """`observe(s)`: bit k when property k fails, bit n+k when its premise holds."""
    needed: set[str] = set()
    tests = []
    for k, p in enumerate(props):
        for cond_expr, bit, negate in ((p.holds, k, True), (p.premise, len(props) + k, False)):
            cond, need = em.condition(cond_expr)
            needed |= need
            tests.append((f"not ({cond})" if negate else f"({cond})", bit))
    lines = ["def observe(s):"]
    lines += [f"    {em.unpack_line(v)}" for v in sorted(needed, key=em.ts.var_index.__getitem__)]
    lines.append("    b = 0")
    lines += [f"    if {test}: b |= {1 << bit}" for test, bit in tests]
    lines.append("    return b")
    return lines


@dataclass(frozen=True)
class _Loaded:
    """The generated source and the functions it defines."""

    source: str
    successors: Callable[[int], tuple[list[int], list[int]]]
    observe: Callable[[int], int]
    is_final: Callable[[int], bool]


_LOADED: dict[tuple[str, frozenset[str]], _Loaded] = {}
CACHE_SIZE = 1024
"""Models kept loaded per process: a sweep of ~1,300 checks has a few hundred distinct ones."""


def compile_system(ts: TransitionSystem, dropped: frozenset[str] = frozenset()) -> Compiled:
    """The compiled form of `ts`. The functions are generated and loaded once per distinct
    model in a process: many of a sweep's configurations and policies build the same
    model, and the model's fingerprint (checker.artefact) covers everything generated."""
    key = (fingerprint(ts), dropped)
    loaded = _LOADED.get(key)
    if loaded is None:
        if len(_LOADED) >= CACHE_SIZE:
            _LOADED.clear()
        loaded = _LOADED[key] = _generate(ts, dropped)
    layout = Layout.of(ts)
    return Compiled(ts=ts, dropped=dropped, layout=layout, initial=layout.pack(ts, ts.init),
                    successors=loaded.successors, observe=loaded.observe, is_final=loaded.is_final,
                    source=loaded.source)


def _generate(ts: TransitionSystem, dropped: frozenset[str]) -> _Loaded:
    """Generate and load the Python successor, property and final-state functions."""
    layout = Layout.of(ts)
    em = _Emitter(ts, layout)
    transient_mask, transient_reset = layout.transients(ts)

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
        reads: set[str] = set()  # fields the updates read
        for name, expr in act.updates:
            i = ts.var_index[name]
            field = ((1 << layout.widths[i]) - 1) << layout.offsets[i]
            clear |= field
            const_bits &= ~field
            if isinstance(expr, Const):
                const_bits |= expr.value << layout.offsets[i]
            else:
                reads |= refs(expr)
                shift = f" << {layout.offsets[i]}" if layout.offsets[i] else ""
                dynamic.append(f"({em.expr(expr)}){shift}")
        keep = (1 << sum(layout.widths)) - 1 & ~clear
        new = " | ".join([f"(s & {keep})", *([str(const_bits)] if const_bits else []), *dynamic])
        needed |= reads
        bodies.append(f"    if {cond}:\n        aa({a_id}); ap({new})")

    lines = ["def successors(s):"]
    lines += [f"    {em.unpack_line(v)}" for v in sorted(needed, key=ts.var_index.__getitem__)]
    lines += ["    acts = []", "    outs = []", "    aa = acts.append", "    ap = outs.append", *bodies,
              "    return acts, outs", ""]
    lines += _observe_function(em, ts.properties)
    final_cond, final_need = em.condition(ts.final)
    lines += ["", "def is_final(s):"]
    lines += [f"    {em.unpack_line(v)}" for v in sorted(final_need, key=ts.var_index.__getitem__)]
    lines += [f"    return {final_cond}", ""]
    source = "\n".join(lines)
    namespace: dict[str, object] = {}
    exec(compile(source, f"<compiled {ts.name}>", "exec"), namespace)
    return _Loaded(
        source=source,
        successors=namespace["successors"],  # type: ignore[arg-type]
        observe=namespace["observe"],  # type: ignore[arg-type]
        is_final=namespace["is_final"],  # type: ignore[arg-type]
    )
