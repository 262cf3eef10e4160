"""Finite-domain transition systems: variables, parameterised actions, invariants.

This module knows nothing of DMA-buf. A system is a set of variables with finite
domains, an initial valuation, action instances (a guard, named client obligations that
are extra guard conjuncts, and simultaneous updates) and properties (state predicates).
`Effect` lets a model write an action's updates as a sequence of assignments, the way
kernel code reads; it turns them into one simultaneous update.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from dmabuf_mc.checker.ir import FALSE, TRUE, Const, Expr, Ref, and_, eq, ite, ne, or_


@dataclass(frozen=True)
class Domain:
    """A finite domain: values are 0..len(labels)-1, shown by their labels."""

    name: str
    labels: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.labels)

    def code(self, value: int | str | bool) -> int:
        """The integer code of a label (or a code/bool, checked for range)."""
        if isinstance(value, str):
            try:
                return self.labels.index(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a value of domain {self.name} {self.labels}") from None
        code = int(value)
        if not 0 <= code < self.size:
            raise ValueError(f"{value!r} is out of range for domain {self.name}")
        return code


BOOL = Domain("bool", ("no", "yes"))


def enum(name: str, *labels: str) -> Domain:
    return Domain(name, tuple(labels))


def bounded(name: str, hi: int) -> Domain:
    """Integers 0..hi."""
    return Domain(name, tuple(str(i) for i in range(hi + 1)))


@dataclass(frozen=True)
class Var:
    """A state variable. `group` says where a renderer shows it (a cache line, a device).

    A `transient` variable is an observation: every action that does not assign it
    resets it to its initial value, so it records what the last step saw.
    """

    name: str
    domain: Domain = BOOL
    group: str = ""
    transient: bool = False

    @property
    def ref(self) -> Ref:
        return Ref(self.name)

    def eq(self, value: int | str | bool) -> Expr:
        return eq(self.ref, Const(self.domain.code(value)))

    def ne(self, value: int | str | bool) -> Expr:
        return ne(self.ref, Const(self.domain.code(value)))

    def is_in(self, *values: int | str | bool) -> Expr:
        return or_(*(self.eq(v) for v in values))


@dataclass(frozen=True)
class Obligation:
    """A named client obligation: a guard conjunct a check may drop (`--without NAME`)."""

    name: str
    holds: Expr


@dataclass(frozen=True)
class Action:
    """One action instance: `family(params...)`, enabled when guard and obligations hold."""

    family: str
    params: tuple[str, ...]
    actor: str
    guard: Expr
    obligations: tuple[Obligation, ...]
    updates: tuple[tuple[str, Expr], ...]

    @property
    def label(self) -> str:
        return f"{self.family}({', '.join(self.params)})"

    def enabled(self, dropped: frozenset[str] = frozenset()) -> Expr:
        """The guard in force when the obligations named in `dropped` are not imposed."""
        return and_(self.guard, *(o.holds for o in self.obligations if o.name not in dropped))


@dataclass(frozen=True)
class Property:
    """A named invariant. `premise`, when given, says when the property says anything:
    a property whose premise never holds in a reachable state passes vacuously."""

    name: str
    doc: str
    holds: Expr
    premise: Expr = TRUE
    refusal: bool = False
    """A violation means the system refused service (an API call returned an error), not
    that it misbehaved: engines report it as REFUSED."""
    default: bool = True
    """Checked when no property is named; the others only when asked for by name."""


@dataclass(frozen=True)
class TransitionSystem:
    """Variables, initial valuation, action instances, properties and final states."""

    name: str
    variables: tuple[Var, ...]
    init: Mapping[str, int]
    actions: tuple[Action, ...]
    properties: tuple[Property, ...]
    final: Expr = FALSE
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Names that stand for several properties wherever a property can be named."""
    symmetric: tuple[tuple[tuple[str, ...], ...], ...] = ()
    """Groups of interchangeable processes, each a tuple of variable names corresponding
    across its group: what `--symmetry` may reduce by, once checker.symmetry has checked it."""
    var_index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {v.name: i for i, v in enumerate(self.variables)}
        if len(index) != len(self.variables):
            raise ValueError("duplicate variable names")
        missing = [v.name for v in self.variables if v.name not in self.init]
        if missing:
            raise ValueError(f"no initial value for {missing}")
        unknown = [v for g in self.symmetric for p in g for v in p if v not in index]
        if unknown:
            raise ValueError(f"symmetric processes name unknown variables {unknown}")
        object.__setattr__(self, "var_index", index)

    def var(self, name: str) -> Var:
        return self.variables[self.var_index[name]]

    def select(self, names: Iterable[str]) -> list[str]:
        """The properties `names` ask for, in their order with groups expanded in place and
        without repeats; the default ones when `names` is empty. Raises KeyError on a name
        that is neither a property nor a group."""
        known = {p.name for p in self.properties}
        asked: dict[str, None] = {}
        for name in names:
            if name not in known and name not in self.groups:
                raise KeyError(name)
            asked.update(dict.fromkeys(self.groups.get(name, (name,))))
        return list(asked) if asked else [p.name for p in self.properties if p.default]

    def property(self, name: str) -> Property:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    def obligation_names(self) -> tuple[str, ...]:
        """Every obligation some action imposes, sorted."""
        return tuple(sorted({o.name for a in self.actions for o in a.obligations}))

    def action_index(self, label: str) -> int:
        for i, a in enumerate(self.actions):
            if a.label == label:
                return i
        raise KeyError(label)


class Effect:
    """Sequential assignments turned into one simultaneous update.

    Reading a variable gives its value as of the assignments so far, as an expression over
    the state before the action; inside `with effect.when(cond):` assignments take effect
    only where `cond` holds. `updates()` gives the final expression of each changed variable.
    """

    def __init__(self) -> None:
        self._now: dict[str, Expr] = {}
        self._conds: list[Expr] = []

    def get(self, var: Var) -> Expr:
        return self._now.get(var.name, var.ref)

    def is_(self, var: Var, *values: int | str | bool) -> Expr:
        now = self.get(var)
        return or_(*(eq(now, Const(var.domain.code(v))) for v in values))

    def set(self, var: Var, value: Expr | int | str | bool) -> None:
        new = value if isinstance(value, Expr) else Const(var.domain.code(value))
        if self._conds:
            new = ite(and_(*self._conds), new, self.get(var))
        self._now[var.name] = new

    def flag(self, var: Var, cond: Expr) -> None:
        """Raise a boolean observation (a transient variable) where `cond` holds, keeping
        what earlier flags of this action raised: several call sites of one action may
        each record the same kind of event. Inside `when` blocks only where they hold."""
        assert var.transient and var.domain is BOOL, var.name
        self._now[var.name] = or_(self._now.get(var.name, FALSE), and_(*self._conds, cond))

    @contextmanager
    def when(self, cond: Expr) -> Iterator[None]:
        """Make the assignments in the block conditional on `cond`."""
        self._conds.append(cond)
        try:
            yield
        finally:
            self._conds.pop()

    def updates(self) -> tuple[tuple[str, Expr], ...]:
        return tuple((k, v) for k, v in self._now.items() if v != Ref(k))


def action(
    family: str,
    params: Iterable[str],
    actor: str,
    guard: Expr,
    effect: Effect,
    obligations: Iterable[Obligation] = (),
) -> Action:
    """Build an action instance from a guard and an `Effect`."""
    obligations = tuple(o for o in obligations if o.holds != TRUE)
    return Action(family, tuple(params), actor, guard, obligations, effect.updates())
