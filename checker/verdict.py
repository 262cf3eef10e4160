"""Verdicts and reports: the values engines hand to renderers (DESIGN.md "Verdicts")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from checker.engines.explicit import Stats
from checker.trace import Trace


class Verdict(StrEnum):
    HOLDS = "HOLDS"  # every reachable state explored, no violation
    REFUTED = "REFUTED"  # a replayed counterexample
    UNKNOWN = "UNKNOWN"  # a limit or an interrupt ended the search first


@dataclass(frozen=True)
class PropertyResult:
    name: str
    doc: str
    verdict: Verdict
    counterexample: Trace | None = None
    vacuous: bool = False
    """Its premise never held in a reachable state: a HOLDS that says nothing."""


@dataclass(frozen=True)
class Report:
    """One check of one system: per-property results and what the search covered."""

    system: str
    engine: str
    dropped: tuple[str, ...]
    stats: Stats
    stopped: str | None
    results: tuple[PropertyResult, ...]
    deadlock: Trace | None
    deadlocks: int
    never_enabled: tuple[str, ...]

    @property
    def exit_code(self) -> int:
        """0 all hold, 1 a violation or deadlock, 3 a limit reached before an answer."""
        if self.deadlock is not None or any(r.verdict is Verdict.REFUTED for r in self.results):
            return 1
        if any(r.verdict is Verdict.UNKNOWN for r in self.results):
            return 3
        return 0
