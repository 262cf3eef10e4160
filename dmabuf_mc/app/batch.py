"""Many checks at once: (configuration, policy) jobs run on a local process pool.

Results come back in job order whatever the number of workers, so a sweep's table does
not depend on the machine. Each worker builds its own model from picklable values and
returns rendered, replayed outcomes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.crosscheck import cross_check
from dmabuf_mc.checker.engines.explicit import Limits
from dmabuf_mc.checker.render import trace_mermaid, trace_text
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.build import system
from dmabuf_mc.model.config import Configuration
from dmabuf_mc.model.policy import Policy
from dmabuf_mc.model.sequence import arrow, lifelines
from dmabuf_mc.model.view import view

MAX_STATES = 5_000_000
"""A guard against a runaway configuration; a check that reaches it reports UNKNOWN."""


@dataclass(frozen=True)
class Job:
    config: Configuration
    policy: Policy
    properties: tuple[str, ...] = ()
    max_states: int = MAX_STATES
    """Where the check stops (its cells UNKNOWN): what a sweep of large configurations can afford."""
    strict: bool = False
    """`--strict`: a vacuous property or a never-enabled action is a failure of the check."""
    cross_check: bool = False
    """`--cross-check`: BMC re-derives every verdict; a disagreement is a failure of the check."""


@dataclass(frozen=True)
class Cell:
    """One property of one configuration under one policy."""

    verdict: Verdict
    vacuous: bool = False
    calls: tuple[str, ...] = ()
    """The kernel calls of the replayed counterexample (or refusal); empty if none."""
    trace: str = ""
    """The replayed counterexample as text; empty if none."""
    mermaid: str = ""
    """Its sequence diagram."""


@dataclass(frozen=True)
class Outcome:
    config: str
    policy: str
    states: int
    cells: tuple[tuple[str, Cell], ...]
    failures: tuple[str, ...] = ()
    """What `--strict` or `--cross-check` found wrong with the check itself, a line each."""
    undecided: tuple[str, ...] = ()
    """What `--cross-check` could not settle, a line each."""

    def cell(self, prop: str) -> Cell:
        return dict(self.cells)[prop]

    def get(self, prop: str) -> Cell | None:
        """The property's cell, None when it was not checked."""
        return dict(self.cells).get(prop)

    @property
    def violated(self) -> tuple[str, ...]:
        return tuple(p for p, c in self.cells if c.verdict in (Verdict.REFUTED, Verdict.REFUSED))

    @property
    def unknown(self) -> tuple[str, ...]:
        """The properties the check left undecided: it stopped at its state limit."""
        return tuple(p for p, c in self.cells if c.verdict is Verdict.UNKNOWN)


def run_job(job: Job) -> Outcome:
    """Check one configuration under one policy; counterexamples are replayed by `check`."""
    cfg, ts = system(job.config, job.policy)
    report = check(ts, job.properties, limits=Limits(max_states=job.max_states)).resolved({}, job.strict)
    failures = tuple(f"--strict: {f}" for f in report.strict_failures)
    undecided: tuple[str, ...] = ()
    if job.cross_check:
        cc = cross_check(ts, report)
        failures += tuple(f"--cross-check: {c.explicit.name}: {c.summary}" for c in cc.disagreements)
        undecided = tuple(f"--cross-check: {c.explicit.name}: {c.summary}" for c in cc.undecided)
    cells = []
    cfg_view = partial(view, cfg)
    for r in report.results:
        trace = r.counterexample
        if trace is not None:
            cell = Cell(r.verdict, r.vacuous, trace.action_labels(), trace_text(trace, cfg_view),
                        trace_mermaid(trace, cfg_view, lifelines(cfg), partial(arrow, cfg)))
        else:
            cell = Cell(r.verdict, r.vacuous)
        cells.append((r.name, cell))
    assert report.stats is not None, "an explicit check always counts its states"
    return Outcome(job.config.name, job.policy.name, report.stats.states, tuple(cells), failures, undecided)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run(
    jobs: Sequence[Job], workers: int = 0, progress: Callable[[int, int], None] | None = None
) -> tuple[list[Outcome], bool]:
    """Every job's outcome in job order, and whether all ran (False after Ctrl-C)."""
    workers = workers or default_workers()
    done: list[Outcome] = []
    if progress:
        progress(0, len(jobs))
    try:
        if workers == 1:
            for job in jobs:
                done.append(run_job(job))
                if progress:
                    progress(len(done), len(jobs))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                chunk = max(1, len(jobs) // (workers * 8))
                for outcome in pool.map(run_job, jobs, chunksize=chunk):
                    done.append(outcome)
                    if progress:
                        progress(len(done), len(jobs))
    except KeyboardInterrupt:
        return done, False
    return done, True
