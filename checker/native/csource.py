"""Generate the C of one transition system for the native engine.

The output is one translation unit: the system's constants, the search runtime
(`search.c`), then `expand`, `observe` and `is_final` generated from the IR exactly as
`checker.compile` generates their Python counterparts: the same packed layout (so a state
is the same integer on both sides, split into 64-bit words), the same enabled guards
(obligations included unless dropped), the same simultaneous updates with transient
variables reset, and actions in the same order. Expressions have the IR interpreter's
meaning (`checker.interp`): booleans are 0/1.
"""

from __future__ import annotations

from importlib import resources

from dmabuf_mc.checker.compile import C, Compiled, render
from dmabuf_mc.checker.engines.explicit import CHECK_EVERY
from dmabuf_mc.checker.ir import Const, Expr, refs
from dmabuf_mc.checker.symmetry import process_fields

WORD = 64
ALL = (1 << WORD) - 1
RUNTIME = resources.files("dmabuf_mc.checker.native").joinpath("search.c").read_text()


def words(model: Compiled) -> int:
    """How many 64-bit words hold one packed state."""
    return max(1, -(-sum(model.layout.widths) // WORD))


def _hex(value: int) -> str:
    return f"0x{value:X}u"


class _CEmitter:
    """Turns IR into C over `const uint64_t x<i>` locals unpacked from the words `s[]`."""

    def __init__(self, model: Compiled) -> None:
        self.ts = model.ts
        self.layout = model.layout

    def unpack_line(self, var: str) -> str:
        i = self.ts.var_index[var]
        off, width = self.layout.offsets[i], self.layout.widths[i]
        w, b = divmod(off, WORD)
        if b + width <= WORD:
            src = f"(s[{w}] >> {b})" if b else f"s[{w}]"
        else:  # the field straddles two words
            src = f"(s[{w}] >> {b} | s[{w + 1}] << {WORD - b})"
        return f"const uint64_t x{i} = {src} & {_hex((1 << width) - 1)};"

    def unpack(self, needed: set[str], indent: str) -> list[str]:
        return [indent + self.unpack_line(v) for v in sorted(needed, key=self.ts.var_index.__getitem__)]

    def expr(self, e: Expr) -> str:
        return render(e, lambda var: f"x{self.ts.var_index[var]}", C)


def _expand(em: _CEmitter, model: Compiled, nwords: int) -> list[str]:
    """`expand(c, i)`: every enabled action's successor of state i, in action order,
    handed together to the runtime's `visit_all`; a deadlock when none is enabled and i is not final."""
    ts, layout = model.ts, model.layout
    total = (1 << sum(layout.widths)) - 1
    transient_mask, transient_reset = layout.transients(ts)
    needed: set[str] = set()
    bodies: list[str] = []
    for a_id, act in enumerate(ts.actions):
        guard = act.enabled(model.dropped)
        if guard == Const(0):
            continue
        needed |= refs(guard)
        clear, const_bits = transient_mask, transient_reset
        dynamic: list[str] = []
        for name, value in act.updates:
            i = ts.var_index[name]
            off, width = layout.offsets[i], layout.widths[i]
            field = ((1 << width) - 1) << off
            clear |= field
            const_bits &= ~field
            if isinstance(value, Const):
                const_bits |= value.value << off
                continue
            needed |= refs(value)
            w, b = divmod(off, WORD)
            dynamic.append(f"{{ const uint64_t v = {em.expr(value)}; t[{w}] |= v << {b};"
                           + (f" t[{w + 1}] |= v >> {WORD - b};" if b + width > WORD else "") + " }")
        keep = total & ~clear
        body = ["uint64_t *t = succ + n * W;"]
        for w in range(nwords):
            k, c = keep >> (w * WORD) & ALL, const_bits >> (w * WORD) & ALL
            parts = ([f"s[{w}]" if k == ALL else f"(s[{w}] & {_hex(k)})"] if k else []) + ([_hex(c)] if c else [])
            body.append(f"t[{w}] = {' | '.join(parts) or '0'};")
        body += dynamic
        cond = em.expr(guard) if guard != Const(1) else "1"
        bodies.append(f"    if ({cond}) {{\n        " + "\n        ".join(body)
                      + f"\n        act[n++] = {a_id};\n    }}")
    return [
        "static void expand(Search *c, int64_t i) {",
        "    uint64_t s[W], succ[(NACTIONS + 1) * W];",
        "    int act[NACTIONS + 1], n = 0;",
        "    memcpy(s, c->states + i * W, sizeof s);",
        *em.unpack(needed, "    "),
        *bodies,
        "    visit_all(c, i, succ, act, n);",
        "    if (!n && !is_final(s))",
        "        deadlock(c, i);",
        "}",
    ]


def _observe(em: _CEmitter, model: Compiled) -> list[str]:
    """`observe(c, s, idx)`: record the first violation of each checked property and the
    first state where each premise holds."""
    needed: set[str] = set()
    tests: list[str] = []
    for k, p in enumerate(model.ts.properties):
        needed |= refs(p.holds) | refs(p.premise)
        tests.append(f"    if (c->want[{k}] && !{em.expr(p.holds)})\n        refute(c, {k}, idx);")
        tests.append(f"    if (!c->premise[{k}] && {em.expr(p.premise)})\n        premise_holds(c, {k});")
    return ["static void observe(Search *c, const uint64_t *s, int64_t idx) {",
            *em.unpack(needed, "    "), *tests, "    (void)s;", "}"]


def _symmetry(model: Compiled) -> list[str]:
    """The tables of the runtime's `canon`: each symmetric group's shape and its processes'
    fields (`checker.symmetry.process_fields`, the Python canonical form's records)."""
    groups = process_fields(model)
    fields = [f for group in groups for proc in group for f in proc]
    if any(width >= WORD for _, width in fields):
        raise ValueError("a symmetric variable wider than 63 bits")

    def table(kind: str, name: str, values: list[int]) -> str:
        return f"static const {kind} {name}[] = {{{', '.join(map(str, values))}}};"

    return [
        f"#define NGROUPS {len(groups)}",
        f"#define MAX_PROCS {max(len(g) for g in groups)}",
        f"#define MAX_FIELDS {max(len(g[0]) for g in groups)}",
        table("int", "GROUP_PROCS", [len(g) for g in groups]),
        table("int", "GROUP_FIELDS", [len(g[0]) for g in groups]),
        table("int16_t", "FIELD_OFF", [off for off, _ in fields]),
        table("int16_t", "FIELD_WIDTH", [width for _, width in fields]),
    ]


def c_source(model: Compiled, symmetric: bool = False) -> str:
    """The whole translation unit for `model` (its system with its obligations dropped),
    with `symmetric`, storing each state as its orbit's representative under the system's
    declared symmetry (which `checker.symmetry.symmetry` must have checked).

    Names appear nowhere in it (variables are `x<i>`, actions their index), so systems
    that differ only in name, e.g. a configuration a proposal leaves unchanged, share one
    cached library."""
    ts = model.ts
    nwords = words(model)
    em = _CEmitter(model)
    initial = ", ".join(_hex(model.initial >> (w * WORD) & ALL) for w in range(nwords))
    header = [
        f"#define W {nwords}",
        f"#define STATE_BITS {sum(model.layout.widths)}",
        f"#define NPROPS {len(ts.properties)}",
        f"#define NACTIONS {len(ts.actions)}",
        f"#define CHECK_EVERY {CHECK_EVERY}",
        "#include <stdint.h>",
        f"static const uint64_t INITIAL[W] = {{{initial}}};",
        *(_symmetry(model) if symmetric else []),
    ]
    final = [
        "static int is_final(const uint64_t *s) {",
        *em.unpack(refs(ts.final), "    "),
        f"    (void)s;\n    return {em.expr(ts.final)};",
        "}",
    ]
    return "\n".join([*header, RUNTIME, *_expand(em, model, nwords), "", *_observe(em, model), "", *final, ""])
