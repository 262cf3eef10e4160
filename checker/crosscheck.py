"""`check --cross-check`: the explicit engine's verdicts re-derived by BMC, an engine that
shares nothing with it but the IR.

A property BFS refutes in n steps must be violated first at BMC depth n; a property that
holds in every reachable state must have no violation within the BFS depth, the distance
of the farthest reachable state, which BMC to that depth covers completely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmabuf_mc.checker.engines.bmc import BmcResult, bmc
from dmabuf_mc.checker.interrupt import ctrl_c_stops_z3
from dmabuf_mc.checker.trace import ReplayError, Trace, replay
from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.checker.verdict import Exit, PropertyResult, Verdict, unsettled

if TYPE_CHECKING:
    from dmabuf_mc.checker.run import Run


@dataclass(frozen=True)
class Comparison:
    """One property's explicit verdict and what BMC found up to the same bound."""

    explicit: PropertyResult
    bmc: BmcResult
    bound: int

    @property
    def decided(self) -> bool:
        """Whether BMC answered: a trace, or no violation up to the whole bound."""
        return self.bmc.trace is not None or self.bmc.depth == self.bound

    @property
    def agrees(self) -> bool:
        """Same verdict and, for a violation, the same shortest length (when decided)."""
        mine = self.explicit.counterexample
        theirs = self.bmc.trace
        if mine is None or theirs is None:
            return mine is None and theirs is None
        return len(mine) == len(theirs)

    @property
    def summary(self) -> str:
        """The two answers side by side."""
        mine = self.explicit.counterexample
        explicit = f"{self.explicit.verdict.value} in {len(mine)} steps" if mine else self.explicit.verdict.value
        theirs = self.bmc.trace
        found = f"a violation in {len(theirs)} steps" if theirs else f"no violation within {self.bound} steps"
        return f"explicit {explicit}, bmc {found if self.decided else self.bmc.stopped}"


@dataclass(frozen=True)
class CrossCheck:
    depth: int
    comparisons: tuple[Comparison, ...]
    not_compared: tuple[str, ...] = ()
    """Properties Ctrl-C left without a BMC run."""
    interrupted: bool = False

    @property
    def disagreements(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.decided and not c.agrees)

    @property
    def undecided(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if not c.decided)

    def exit_code(self, code: Exit) -> Exit:
        """The run's exit code `code` unless the engines disagree (1) or BMC could not
        answer (or was interrupted) where the run says everything holds (3)."""
        if self.disagreements:
            return Exit.VIOLATED
        return unsettled(code, bool(self.undecided or self.interrupted))


def cross_check(ts: TransitionSystem, report: Run) -> CrossCheck:
    """BMC on every property the explicit run decided (UNKNOWN ones are left out). Every
    BMC counterexample is replayed before it can be shown (ReplayError otherwise: a bug).
    Ctrl-C cancels the running query and stops: the comparisons so far are kept."""
    if report.stats is None:
        raise ValueError(f"--cross-check re-derives an explicit search, not a {report.engine} run")
    depth = report.stats.depth
    dropped = frozenset(report.dropped)
    decided = [r for r in report.results if r.verdict is not Verdict.UNKNOWN]
    comparisons: list[Comparison] = []
    try:
        with ctrl_c_stops_z3() as checkpoint:
            for r in decided:
                bound = len(r.counterexample) if r.counterexample is not None else depth
                found = bmc(ts, r.name, bound, dropped)
                if found.trace is not None:
                    _replayed(found.trace)
                comparisons.append(Comparison(r, found, bound))
                checkpoint()
    except KeyboardInterrupt:
        rest = tuple(r.name for r in decided[len(comparisons):])
        return CrossCheck(depth, tuple(comparisons), rest, interrupted=True)
    return CrossCheck(depth, tuple(comparisons))


def _replayed(trace: Trace) -> None:
    """Replay a BMC counterexample against the model; ReplayError naming the engine if it does not."""
    try:
        replay(trace)
    except ReplayError as e:
        raise ReplayError(e.step, f"bmc's counterexample for {trace.violates} does not replay: {e.reason}") from None
