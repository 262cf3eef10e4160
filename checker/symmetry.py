"""Symmetry reduction: states that differ only by a permutation of interchangeable
processes are explored once.

A system declares groups of processes (`TransitionSystem.symmetric`), each process a
tuple of variable names, corresponding position by position across a group. The
declaration is not trusted: every transposition of two neighbouring processes in a group
(they generate every permutation) must map the initial state, every action, every
property and the final condition onto themselves, compared as IR up to the order of
commutative operands, or the reduction is refused. A canonical state sorts each group's
process records; a search over canonical states counts orbits exactly, and a trace is
rebuilt step by step from the real initial state, so it names the processes the user
configured and replays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise

from dmabuf_mc.checker.compile import Compiled
from dmabuf_mc.checker.ir import Add, And, Const, Eq, Expr, Ite, Lt, Not, Or, Ref
from dmabuf_mc.checker.ts import Action, TransitionSystem


class NotSymmetric(Exception):
    """The declared symmetry is not one of the system: reducing by it would be unsound."""


def rename(e: Expr, names: Mapping[str, str]) -> Expr:
    """`e` with its variables renamed."""
    if isinstance(e, Const):
        return e
    if isinstance(e, Ref):
        return Ref(names.get(e.var, e.var))
    if isinstance(e, Not):
        return Not(rename(e.arg, names))
    if isinstance(e, (And, Or)):
        return type(e)(tuple(rename(a, names) for a in e.args))
    if isinstance(e, (Eq, Lt, Add)):
        return type(e)(rename(e.lhs, names), rename(e.rhs, names))
    if isinstance(e, Ite):
        return Ite(rename(e.cond, names), rename(e.then, names), rename(e.other, names))
    raise TypeError(f"not an IR node: {e!r}")


def normal(e: Expr) -> str:
    """A text for `e` that is the same for And, Or and Eq operands in any order."""
    if isinstance(e, (Const, Ref)):
        return repr(e)
    if isinstance(e, Not):
        return f"not({normal(e.arg)})"
    if isinstance(e, (And, Or)):
        return f"{type(e).__name__}({','.join(sorted(normal(a) for a in e.args))})"
    if isinstance(e, Eq):
        return f"Eq({','.join(sorted((normal(e.lhs), normal(e.rhs))))})"
    if isinstance(e, (Lt, Add)):
        return f"{type(e).__name__}({normal(e.lhs)},{normal(e.rhs)})"
    if isinstance(e, Ite):
        return f"Ite({normal(e.cond)},{normal(e.then)},{normal(e.other)})"
    raise TypeError(f"not an IR node: {e!r}")


def _action_key(act: Action, names: Mapping[str, str], dropped: frozenset[str]) -> tuple[str, ...]:
    """What an action does, renamed and normalised: its enabling condition and updates."""
    updates = sorted(f"{names.get(v, v)}:={normal(rename(e, names))}" for v, e in act.updates)
    return (normal(rename(act.enabled(dropped), names)), *updates)


@dataclass(frozen=True)
class Symmetry:
    """A validated symmetry of a compiled system: `canon` maps a packed state to its
    orbit's representative; `action_images` closes a set of action indices under it."""

    names: tuple[tuple[str, ...], ...]
    """Each group's processes, by the group their first variable belongs to (a device)."""
    canon: Callable[[int], int]
    swaps: tuple[tuple[int, ...], ...]
    """For each generating transposition, the action index each action maps to."""

    def action_images(self, fired: set[int]) -> set[int]:
        """Every action some permutation maps a fired one to: enabled in some state of the
        unreduced search exactly when one of its images is in the reduced one."""
        closed = set(fired)
        todo = list(fired)
        while todo:
            a = todo.pop()
            for swap in self.swaps:
                b = swap[a]
                if b not in closed:
                    closed.add(b)
                    todo.append(b)
        return closed

    def describe(self) -> str:
        return "; ".join(" = ".join(g) for g in self.names)


def _transpositions(ts: TransitionSystem) -> list[dict[str, str]]:
    """One variable renaming per pair of neighbouring processes in a group."""
    out = []
    for group in ts.symmetric:
        for p, q in pairwise(group):
            if set(p) & set(q):
                raise NotSymmetric(f"processes {p[0]} and {q[0]} share variables")
            if len(p) != len(q):
                raise NotSymmetric(f"processes {p[0]} and {q[0]} have different numbers of variables")
            names = {**dict(zip(p, q, strict=True)), **dict(zip(q, p, strict=True))}
            for a, b in zip(p, q, strict=True):
                if ts.var(a).domain != ts.var(b).domain:
                    raise NotSymmetric(f"{a} and {b} have different domains")
            out.append(names)
    return out


def symmetry(model: Compiled) -> Symmetry:
    """The system's declared symmetry, checked (NotSymmetric if any transposition is not an
    automorphism of the system as compiled, with its dropped obligations)."""
    ts = model.ts
    if not ts.symmetric:
        raise NotSymmetric("the system declares no interchangeable processes")
    swaps = []
    plain = {_action_key(a, {}, model.dropped): k for k, a in enumerate(ts.actions)}
    for names in _transpositions(ts):
        if any(ts.init[a] != ts.init[b] for a, b in names.items()):
            raise NotSymmetric("the initial state differs between interchangeable processes")
        images = []
        for act in ts.actions:
            image = plain.get(_action_key(act, names, model.dropped))
            if image is None:
                raise NotSymmetric(f"{act.label} has no counterpart with the processes swapped")
            images.append(image)
        swaps.append(tuple(images))
        for p in ts.properties:
            for e in (p.holds, p.premise):
                if normal(rename(e, names)) != normal(e):
                    raise NotSymmetric(f"property {p.name} tells interchangeable processes apart")
        if normal(rename(ts.final, names)) != normal(ts.final):
            raise NotSymmetric("the final condition tells interchangeable processes apart")
    devices = tuple(tuple(ts.var(p[0]).group or p[0] for p in g) for g in ts.symmetric)
    return Symmetry(devices, _canon(model), tuple(swaps))


Field = tuple[int, int]
"""A variable's (offset, width) in the packed state."""


def process_fields(model: Compiled) -> list[list[list[Field]]]:
    """Per group, per process, the packed fields of its variables in declaration order:
    the record the canonical form sorts (the native engine's too, `checker.native`)."""
    ts, layout = model.ts, model.layout
    return [[[(layout.offsets[ts.var_index[v]], layout.widths[ts.var_index[v]]) for v in proc] for proc in group]
            for group in ts.symmetric]


def _canon(model: Compiled) -> Callable[[int], int]:
    """Sort each group's process records (their fields read as one number, in order)."""
    plans = []
    for fields in process_fields(model):
        clear = 0
        for proc in fields:
            for off, width in proc:
                clear |= ((1 << width) - 1) << off
        plans.append((fields, ~clear))

    def canon(s: int) -> int:
        for fields, keep in plans:
            records = []
            for proc in fields:
                r = 0
                for off, width in proc:
                    r = (r << width) | ((s >> off) & ((1 << width) - 1))
                records.append(r)
            ordered = sorted(records)
            if ordered == records:
                continue
            s &= keep
            for proc, r in zip(fields, ordered, strict=True):
                for off, width in reversed(proc):
                    s |= (r & ((1 << width) - 1)) << off
                    r >>= width
        return s

    return canon
