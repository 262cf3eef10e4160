"""One run of one engine on one system, whatever the engine or the command: the value
every renderer (text, JSON, Markdown, ITF) reads, and the one place a run's exit code is
decided (`exit_code`).

Every engine entry point returns a `Run` (`check.check`, `check.fuzz_check`,
`prover.prove`); the application adds what it resolved (`origin`) and what the user asked
of the run (`strict`), and, for `--strict` on a symbolic run or `--cross-check`, what
those found. A `Run` is never printed where it is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dmabuf_mc.checker.crosscheck import CrossCheck
from dmabuf_mc.checker.engines.explicit import Stats
from dmabuf_mc.checker.trace import Trace
from dmabuf_mc.checker.verdict import Coverage, Exit, PropertyResult, Verdict

Limit = int | float | str | None


@dataclass(frozen=True)
class Run:
    """What one command asked of one engine on one system, and everything it found."""

    command: str
    """check, prove, fuzz, or a batch command."""
    system: str
    engine: str
    results: tuple[PropertyResult, ...]
    """One per checked property, each with its evidence (trace, certificate, bound)."""
    engine_reason: str = ""
    """Why this engine ran (e.g. the model outgrew the Python probe, or it was asked for)."""
    dropped: tuple[str, ...] = ()
    """The client obligations left out."""
    limits: Mapping[str, Limit] = field(default_factory=dict)
    """The limits as asked (None: no limit), by option name."""
    origin: Mapping[str, Any] = field(default_factory=dict)
    """What the application resolved the system from (configuration, policy), as it
    records it in the files it writes; empty when a library caller gave a bare system."""
    stats: Stats | None = None
    """States, transitions and depth an explicit search covered (None: not an explicit search)."""
    stopped: str | None = None
    """Why an explicit search ended before covering every reachable state (None: it did not)."""
    deadlock: Trace | None = None
    deadlocks: int = 0
    never_enabled: tuple[str, ...] = ()
    """Actions an exhaustive search never fired."""
    visited: int | None = None
    """Distinct states random histories visited (None: not a random run)."""
    observed: Coverage | None = None
    """Which premises never held and which actions were never enabled, as far as the run
    can tell: what `--strict` judges (None: not looked at)."""
    strict: bool = False
    """`--strict`: a vacuous pass or a never-enabled action fails the run."""
    cross_check: CrossCheck | None = None
    """`--cross-check`: the verdicts re-derived by another engine."""
    interrupted: bool = False
    """Ctrl-C ended the run: what it did not reach says nothing about the model."""
    seconds: float = field(default=0.0, compare=False)
    """Wall-clock time: a measurement, so not part of what makes two runs equal."""

    @property
    def counterexamples(self) -> tuple[Trace, ...]:
        """Every replayed trace the run shows: each violation or refusal, then the deadlock."""
        traces = tuple(r.counterexample for r in self.results if r.counterexample is not None)
        return traces + ((self.deadlock,) if self.deadlock is not None else ())

    @property
    def coverage(self) -> Coverage | None:
        """What `--strict` judges (None without it): what the run observed, or nothing
        judged when it was interrupted or did not look."""
        if not self.strict:
            return None
        if self.observed is not None:
            return self.observed
        return Coverage.not_judged("the run was interrupted" if self.interrupted else "not looked at")

    @property
    def strict_failures(self) -> tuple[str, ...]:
        return self.coverage.failures if self.coverage is not None else ()

    def resolved(self, origin: Mapping[str, Any], strict: bool = False) -> Run:
        """The run with what the application resolved its system from, and `--strict`."""
        return replace(self, origin=origin, strict=strict)


def verdicts_exit(results: tuple[PropertyResult, ...], deadlock: bool = False) -> Exit:
    """VIOLATED for a violation, a refusal or a deadlock, else UNKNOWN if any property was
    left undecided (a limit or an interrupt), else HOLDS."""
    if deadlock or any(r.verdict in (Verdict.REFUTED, Verdict.REFUSED) for r in results):
        return Exit.VIOLATED
    if any(r.verdict is Verdict.UNKNOWN for r in results):
        return Exit.UNKNOWN
    return Exit.HOLDS


def exit_code(run: Run) -> Exit:
    """The run's exit code: from its verdicts and deadlock, then as `--strict` judges its
    coverage, then as `--cross-check` judges the engines' agreement."""
    code = verdicts_exit(run.results, run.deadlock is not None)
    if run.coverage is not None:
        code = run.coverage.exit_code(code)
    if run.cross_check is not None:
        code = run.cross_check.exit_code(code)
    return code
