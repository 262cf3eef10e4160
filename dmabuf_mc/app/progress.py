"""Progress on stderr while a command works: a `rich` progress bar on a terminal (count,
rate, ETA when the total is known), plain lines otherwise, TLC-style, one per interval:

    check: 1,310,720 states, depth 15, queue 412,903, 1,180,000 states/s

The interval of plain lines is work when DMABUF_MC_PROGRESS_EVERY says how much (states,
checks, histories or properties), a tenth of a batch whose size is known, and otherwise
INTERVAL seconds. stdout keeps only the report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

EVERY = "DMABUF_MC_PROGRESS_EVERY"
INTERVAL = 5.0
"""Seconds between plain lines when no interval of work is set."""


def every_from_environment() -> int | None:
    """The interval of work DMABUF_MC_PROGRESS_EVERY sets; ValueError names the variable
    when it is not a positive whole number."""
    raw = os.environ.get(EVERY, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) == 0:
        raise ValueError(f"${EVERY}: expected a positive whole number, got {raw!r}")
    return int(raw)


class _Rate(ProgressColumn):
    """The work done per second."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.fields.get("rate") or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else "")


class Reporter:
    """The progress of one command: `update` with the work done so far (and what else is
    worth a glance: depth, queue, the property being proved)."""

    def __init__(self, what: str, unit: str, total: int | None = None, every: int | None = None,
                 console: Console | None = None) -> None:
        self.what, self.unit, self.total = what, unit, total
        self.console = console or Console(stderr=True)
        self.every = every or (max(1, total // 10) if total else None)
        self.next_mark = self.every or 0
        self.start = self.last = time.perf_counter()
        self.bar: Progress | None = None
        self.task = TaskID(0)
        if self.console.is_terminal and every is None:
            counted = "{task.completed:,}" + ("/{task.total:,}" if total else "") + f" {unit}"
            columns: list[str | ProgressColumn] = [TextColumn(f"{what}:"), TextColumn(counted)]
            if total:
                columns.insert(1, BarColumn())
            columns += [TextColumn("{task.fields[detail]}"), _Rate(unit), TimeElapsedColumn()]
            if total:
                columns.append(TimeRemainingColumn())
            self.bar = Progress(*columns, console=self.console, transient=True)
            self.task = self.bar.add_task(what, total=total, detail="", rate=None)

    def __enter__(self) -> Reporter:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, done: int, detail: str = "", rate: float | None = None) -> None:
        """`done` units of work so far; `rate` when the engine measures it better (its own clock)."""
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(self.task, completed=done, detail=detail, rate=rate)
            return
        due = done >= self.next_mark if self.every else now - self.last >= INTERVAL
        if not due and not (self.total and done == self.total):
            return
        if self.every:
            while self.next_mark <= done:
                self.next_mark += self.every
        self.last = now
        elapsed = now - self.start
        speed = rate if rate is not None else done / elapsed if elapsed > 0 else 0.0
        parts = [f"{done:,}" + (f"/{self.total:,}" if self.total else "") + f" {self.unit}"]
        parts += [detail] if detail else []
        parts.append(f"{speed:,.0f} {self.unit}/s")
        if self.total and 0 < done < self.total and speed > 0:
            parts.append(f"ETA {(self.total - done) / speed:,.0f}s")
        self.console.print(f"{self.what}: {', '.join(parts)}", highlight=False, soft_wrap=True)


@contextmanager
def batch_progress(what: str, every: int | None) -> Iterator[Callable[[int, int], None]]:
    """The (done, total) callback of a batch of checks, its reporter made at the first call,
    when the total is known."""
    reporter: Reporter | None = None

    def show(done: int, total: int) -> None:
        nonlocal reporter
        if reporter is None:
            reporter = Reporter(what, "checks", total, every).__enter__()
        reporter.update(done)

    try:
        yield show
    finally:
        if reporter is not None:
            reporter.__exit__(None, None, None)
