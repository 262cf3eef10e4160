"""Many checks at once: (configuration, policy) jobs run on a local process pool or a Dask
cluster (app.cluster).

Results come back in job order whatever the number of workers or where they ran, so a
sweep's table does not depend on the machine. Each worker builds its own model from
picklable values and returns rendered, replayed outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from itertools import takewhile

from dmabuf_mc.app.cluster import Where, completed
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
class Checking:
    """How every check of a batch runs: where it stops and what it asks of itself."""

    max_states: int = MAX_STATES
    """Where the check stops (its cells UNKNOWN): what a sweep of large configurations can afford."""
    strict: bool = False
    """`--strict`: a vacuous property or a never-enabled action is a failure of the check."""
    cross_check: bool = False
    """`--cross-check`: BMC re-derives every verdict; a disagreement is a failure of the check."""


PLAIN = Checking()
"""Every check as it comes: up to MAX_STATES, neither --strict nor --cross-check."""


@dataclass(frozen=True)
class Job:
    config: Configuration
    policy: Policy
    properties: tuple[str, ...] = ()
    checking: Checking = PLAIN


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
    """Check one configuration under one policy; counterexamples are replayed by `check`.
    Ctrl-C during the check (which the engines turn into an interrupted run) is raised
    again: it stops the batch, it does not make this job's cells UNKNOWN."""
    cfg, ts = system(job.config, job.policy)
    how = job.checking
    report = check(ts, job.properties, limits=Limits(max_states=how.max_states)).resolved({}, how.strict)
    if report.interrupted:
        raise KeyboardInterrupt
    failures = tuple(f"--strict: {f}" for f in report.strict_failures)
    undecided: tuple[str, ...] = ()
    if how.cross_check:
        cc = cross_check(ts, report)
        if cc.interrupted:
            raise KeyboardInterrupt
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


def run(
    jobs: Sequence[Job], workers: int | Where = 0, progress: Callable[[int, int], None] | None = None
) -> tuple[list[Outcome], bool]:
    """Every job's outcome in job order, and whether all ran (False after Ctrl-C: then the
    outcomes of the jobs before the first unfinished one). `workers`: how many local
    processes (0: one per core), or where to run (app.cluster)."""
    where = workers if isinstance(workers, Where) else Where(workers)
    done: dict[int, Outcome] = {}
    complete = True
    if progress:
        progress(0, len(jobs))
    try:
        with closing(completed(run_job, jobs, where)) as outcomes:
            for k, outcome in outcomes:
                done[k] = outcome
                if progress:
                    progress(len(done), len(jobs))
    except KeyboardInterrupt:
        complete = False
    return [done[k] for k in takewhile(done.__contains__, range(len(jobs)))], complete
