"""Verdicts, per-property results and coverage: the parts of a `checker.run.Run`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from dmabuf_mc.checker.trace import Trace, replay


class Verdict(StrEnum):
    PROVED = "PROVED"  # for every reachable state, by a re-checked certificate
    HOLDS = "HOLDS"  # every reachable state explored, no violation
    REFUTED = "REFUTED"  # a replayed counterexample
    REFUSED = "REFUSED"  # a replayed trace on which the system refuses service (a refusal property)
    UNKNOWN = "UNKNOWN"  # a limit or an interrupt ended the search first


class Exit(IntEnum):
    """Every command's exit codes (README "Using it")."""

    HOLDS = 0  # every property holds or is proved; certify: the certificate is valid
    VIOLATED = 1  # a violation, a refusal or a deadlock; certify: the certificate is rejected
    BAD_INPUT = 2  # a file or an option is wrong: the message names it
    UNKNOWN = 3  # a limit, a solver giving up or Ctrl-C ended the run before an answer
    INTERNAL_ERROR = 4  # a bug in the tool: its answer cannot be trusted


@dataclass(frozen=True)
class PropertyResult:
    name: str
    doc: str
    verdict: Verdict
    counterexample: Trace | None = None
    vacuous: bool = False
    """Its premise never held in a reachable state: a HOLDS that says nothing."""
    note: str = ""
    """What a symbolic or random engine adds: how it proved, or which limit it reached."""
    certificate: str | None = None
    """The proof certificate's path (PROVED by a symbolic engine)."""
    bound: int | None = None
    """The bound the engine reached: BMC depth without a violation, k of a k-induction
    proof, the frame of a PDR proof (None: an explicit search, whose bound is its depth)."""
    seconds: float | None = field(default=None, compare=False)
    """Time spent on this property alone (None: the engine checks all at once); a
    measurement, so not part of what makes two results equal."""


def refuted(name: str, doc: str, trace: Trace) -> PropertyResult:
    """A REFUTED (or, for a refusal property, REFUSED) result: only after the trace replays
    against the model (ReplayError otherwise)."""
    replay(trace)
    verdict = Verdict.REFUSED if trace.ts.property(name).refusal else Verdict.REFUTED
    return PropertyResult(name, doc, verdict, trace)


@dataclass(frozen=True)
class Coverage:
    """What `--strict` asks of a run that passes: every checked property's premise occurs
    and every action is enabled somewhere, else the run checked less than it claims."""

    vacuous: tuple[str, ...]
    """Properties whose premise never occurs."""
    never_enabled: tuple[str, ...]
    """Labels of actions that are never enabled."""
    undecided: tuple[str, ...] = ()
    """What a symbolic engine could not settle either way (a limit, a solver giving up)."""

    @classmethod
    def not_judged(cls, why: str) -> Coverage:
        """Coverage left undecided as a whole: the run was interrupted, so what it did not
        see says nothing about the model."""
        return cls((), (), (f"coverage not judged: {why}",))

    @property
    def failures(self) -> tuple[str, ...]:
        return (tuple(f"{name}: its premise never occurs" for name in self.vacuous)
                + tuple(f"{label} is never enabled" for label in self.never_enabled))

    def exit_code(self, code: Exit) -> Exit:
        """VIOLATED on a failure; UNKNOWN instead of HOLDS when something was left undecided."""
        return Exit.VIOLATED if self.failures else unsettled(code, bool(self.undecided))


def unsettled(code: Exit, undecided: bool) -> Exit:
    """UNKNOWN instead of HOLDS when part of what the run claims was left undecided."""
    return Exit.UNKNOWN if undecided and code is Exit.HOLDS else code
