"""Where a batch's checks run: in this process, on a local process pool, or on a Dask
cluster (one started here, or a running scheduler's).

The one place that picks an executor. Every executor is driven the same way
(concurrent.futures: submit, then as_completed), so a table does not depend on where it
was computed. Dask is an optional dependency (`pip install 'dmabuf-mc[dask]'`), imported
only when asked for.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

CONNECT_TIMEOUT = 5.0
"""Seconds to reach a scheduler (or for a started cluster's scheduler to come up) before
the address is reported unreachable: a connection timeout, not a limit on the work."""
INSTALL = "pip install 'dmabuf-mc[dask]'"
ADDRESS = re.compile(r"^(?:(?:tcp|tls)://)?(?:[^\s:/\[\]]+|\[[0-9a-fA-F:.]+\]):\d{1,5}$")
"""A scheduler's address as Dask writes it: tcp://host:port (tls://, or no scheme: tcp)."""

QUIET: dict[str, Any] = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}
"""A started cluster serves no dashboard, and its scheduler's HTTP endpoints take a free local
port, not 8787 (which another cluster may hold)."""

T = TypeVar("T")
R = TypeVar("R")


class ClusterError(Exception):
    """Dask is not installed, or its scheduler cannot be reached: bad input, no answer."""


class WorkerDied(Exception):
    """A worker process died under a check (the OOM killer, a kill by hand): a limit the
    machine set, no verdict and no bug."""


def default_workers() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Where:
    """Where to run: `workers` local processes (0: one per core; 1: in this process), or a
    Dask cluster, started here with `workers` worker processes (`dask`) or already running
    at `scheduler` (its own workers)."""

    workers: int = 0
    scheduler: str | None = None
    dask: bool = False

    @property
    def distributed(self) -> bool:
        return self.dask or self.scheduler is not None


def _distributed(where: Where) -> ModuleType:
    """dask.distributed, or a ClusterError saying how to install it."""
    try:
        import distributed
    except ImportError:
        option = "--dask" if where.dask else "--scheduler"
        raise ClusterError(f"{option}: Dask is not installed; install it with {INSTALL}") from None
    return distributed


@contextmanager
def executor(where: Where) -> Iterator[Executor]:
    """A concurrent.futures executor running on `where` (not for one local worker: there,
    jobs run in this process). Leaving it cancels what has not started (Ctrl-C)."""
    if not where.distributed:
        # Ctrl-C reaches the workers too: they end at once, quietly, as the signal's default
        # action, and the command reports what was checked.
        pool = ProcessPoolExecutor(max_workers=where.workers or default_workers(), initializer=signal.signal,
                                   initargs=(signal.SIGINT, signal.SIG_DFL))
        try:
            yield pool
        finally:
            pool.shutdown(cancel_futures=True)
        return
    distributed = _distributed(where)
    with _client(where, distributed) as client:
        remote = client.get_executor(pure=False)  # a job is run, not looked up by value
        try:
            yield remote
        finally:
            remote.shutdown(wait=False)  # cancels the futures not done


@contextmanager
def _client(where: Where, distributed: ModuleType) -> Iterator[Any]:
    """A client of the scheduler at `where.scheduler`, or of a cluster of worker processes
    started here and stopped on leaving."""
    if where.scheduler is not None:
        if not ADDRESS.match(where.scheduler):
            raise ClusterError(f"--scheduler {where.scheduler}: expected a scheduler address like "
                               "tcp://host:8786 or tls://host:8786")
        try:
            client = distributed.Client(where.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, ValueError) as e:  # refused, timed out, or an address Dask cannot use
            raise ClusterError(f"--scheduler {where.scheduler}: cannot reach a Dask scheduler there ({e})") from None
        with client:
            yield client
        return
    with _sigint_ignored():
        cluster = distributed.LocalCluster(n_workers=where.workers or default_workers(), threads_per_worker=1,
                                           processes=True, silence_logs=logging.ERROR, **QUIET)
    with cluster, distributed.Client(cluster, timeout=CONNECT_TIMEOUT, set_as_default=False) as client:
        yield client


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT meanwhile, in the main thread: worker processes started then inherit it,
    so Ctrl-C stops the command (which stops them) instead of each worker with a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def completed(fn: Callable[[T], R], items: Sequence[T], where: Where) -> Generator[tuple[int, R], None, None]:
    """`fn` of each item, with the item's index, as each completes on `where`. Closing the
    iterator early (Ctrl-C) cancels what has not finished."""
    if where.workers == 1 and not where.distributed:
        yield from enumerate(map(fn, items))
        return
    lost: tuple[type[BaseException], ...] = (BrokenProcessPool,)
    if where.distributed:
        lost += (_distributed(where).KilledWorker,)
    with executor(where) as ex:
        futures = {ex.submit(fn, item): k for k, item in enumerate(items)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except lost as e:
            raise WorkerDied(str(e) or type(e).__name__) from None
