"""What one step of a system assigns, as every exporter must write it.

Our engines start each successor from the state with its transient variables back at
their initial values (`checker.compile.Layout.transients`, `checker.interp.successor`),
then apply the action's simultaneous updates. An exported step therefore assigns every
variable the action updates, and every transient variable it does not, to its initial
value; all other variables are unchanged.
"""

from __future__ import annotations

from collections.abc import Collection

from dmabuf_mc.checker.ir import Const, Expr
from dmabuf_mc.checker.ts import Action, Property, TransitionSystem


def assignments(ts: TransitionSystem, act: Action) -> tuple[tuple[str, Expr], ...]:
    """The action's updates, then the resets of the transient variables it leaves alone;
    every right-hand side reads the state before the step."""
    updated = {name for name, _ in act.updates}
    resets = tuple((v.name, Const(ts.init[v.name])) for v in ts.variables if v.transient and v.name not in updated)
    return act.updates + resets


def checked(ts: TransitionSystem, properties: Collection[str] | None) -> tuple[Property, ...]:
    """The properties to export, in the system's order: those named, or all for None."""
    return tuple(p for p in ts.properties if properties is None or p.name in properties)
