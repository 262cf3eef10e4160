"""The transition system as a Promela model for SPIN.

One process whose `do` loop offers every action instance as a `d_step` (one transition,
so SPIN stores exactly the states our engines store): the guard, obligations included
unless dropped; the checked properties asserted on the state the step leaves; then the
assignments of `checker.export.step` in an order that keeps them simultaneous. A last
option, taken only when no action is enabled (`else`), asserts the properties and that
the state is final, so every reachable state is checked and a deadlock is an assertion
violation, as our engines report it. Check it with `spin -o2 -a`: without -o2 SPIN
leaves out variables that nothing reads and reports fewer states than there are.
"""

from __future__ import annotations

from collections.abc import Collection

from dmabuf_mc.checker.compile import Syntax, render
from dmabuf_mc.checker.export.naming import comment, identifiers
from dmabuf_mc.checker.export.step import assignments, checked
from dmabuf_mc.checker.ir import FALSE, TRUE, Expr, refs
from dmabuf_mc.checker.ts import Action, TransitionSystem

PROMELA = Syntax("!", " && ", " || ", "({cond} -> {then} : {other})")
CHECK = "check_properties"
KEYWORDS = """
active assert atomic bit bool break byte chan d_step D_proctype do else empty enabled eval false fi full goto
hidden if init inline int len mtype nempty never nfull np_ od of pc_value printf priority proctype provided
run short skip timeout true typedef unless unsigned xr xs c_code c_decl c_expr c_state c_track local show
notrace trace select for in get_priority set_priority now system
"""
RESERVED = frozenset(KEYWORDS.split()) | {CHECK}


def _type(size: int) -> str:
    """The smallest Promela integer type that holds 0..size-1."""
    return "byte" if size <= 256 else "short" if size <= 32768 else "int"


class _Writer:
    """Promela for the IR of one system, variables under their exported identifiers."""

    def __init__(self, ts: TransitionSystem, dropped: frozenset[str]) -> None:
        self.ts = ts
        self.dropped = dropped
        self.name = identifiers(ts, RESERVED)

    def expr(self, e: Expr) -> str:
        return render(e, self.name.__getitem__, PROMELA)

    def assign(self, act: Action) -> tuple[list[str], int]:
        """The step's assignments as statements whose sequence has the meaning of the
        simultaneous update: a variable is written only once no later statement reads
        it; on a cycle (a swap) one value goes through a temporary `_t<k>`, set back to 0
        after the step so that it never tells two states apart (SPIN's BFS forbids hidden
        variables). Also how many temporaries that took."""
        left = list(assignments(self.ts, act))
        first: list[str] = []
        body: list[str] = []
        last: list[str] = []
        while left:
            free = next((w for w in left if not any(w[0] in refs(e) for var, e in left if var != w[0])), None)
            if free is None:
                var, e = left.pop(0)
                first.append(f"_t{len(first)} = {self.expr(e)}")
                last += [f"{self.name[var]} = _t{len(first) - 1}", f"_t{len(first) - 1} = 0"]
                continue
            body.append(f"{self.name[free[0]]} = {self.expr(free[1])}")
            left.remove(free)
        return first + body + last, len(first)

    def option(self, act: Action) -> list[str]:
        """One `do` option: the guard, then the assignments, as one indivisible step."""
        guard = act.enabled(self.dropped)
        return [f"    /* {act.label} */", f"    :: d_step {{ {self.expr(guard) if guard != TRUE else 'true'} ->",
                f"        {CHECK}();", *(f"        {line};" for line in self.assign(act)[0]), "       }"]


def promela(ts: TransitionSystem, properties: Collection[str] | None = None,
            dropped: frozenset[str] = frozenset()) -> str:
    """The Promela text of `ts` with the named properties (all for None) as assertions."""
    out = _Writer(ts, dropped)
    options = [act for act in ts.actions if act.enabled(dropped) != FALSE]
    temps = max((out.assign(act)[1] for act in options), default=0)
    lines = [f"/* {ts.name}: exported by dmabuf-mc; check with spin -o2 -a, gcc -DSAFETY pan.c, ./pan */", ""]
    lines += [f"{_type(v.domain.size)} {out.name[v.name]} = {ts.init[v.name]};  /* {comment(ts, v.name)} */"
              for v in ts.variables]
    lines += ["", f"inline {CHECK}()", "{", "    skip;"]
    lines += [f"    assert({out.expr(p.holds)});  /* {p.name} */" for p in checked(ts, properties)]
    lines += ["}"]
    lines += ["", "active proctype system()", "{", *(f"    byte _t{k};" for k in range(temps)), "    do"]
    for act in options:
        lines += out.option(act)
    lines += ["    /* no action is enabled: a deadlock unless the state is final */",
              "    :: d_step { else ->", f"        {CHECK}();",
              f"        assert({out.expr(ts.final)});  /* deadlock */", "       }", "    od", "}"]
    return "\n".join(lines) + "\n"
