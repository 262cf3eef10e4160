"""Batch commands on Dask (app.cluster): the same table, in the same order, as the local
pool; a missing Dask or an unreachable scheduler is bad input (exit 2)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from dmabuf_mc.app import batch, judge
from dmabuf_mc.app.cli import main
from dmabuf_mc.app.cluster import INSTALL, QUIET, Where
from dmabuf_mc.checker import compile as compiled
from dmabuf_mc.checker.verdict import Exit
from dmabuf_mc.model import catalog
from dmabuf_mc.model.policy import BASELINE

distributed = pytest.importorskip("distributed")

CONFIGS = ("seed", "heap-mmap", "bounce-32bit")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def sweep_args() -> list[str]:
    return ["sweep", *(a for c in CONFIGS for a in ("--config", c))]


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """Two worker processes of one thread each: jobs cross a process boundary, as on a real cluster."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, **QUIET) as c:
        yield c


def models_loaded(client) -> int:
    """How many compiled models the cluster's workers hold, all told."""
    return sum(client.run(lambda: len(compiled._LOADED)).values())


def test_a_sweep_on_dask_prints_the_local_table(cluster):
    local = run(*sweep_args(), "--workers", "1")
    assert local.exit_code in (Exit.HOLDS, Exit.VIOLATED), local.output
    assert all(c in local.stdout for c in CONFIGS)
    for where in (["--scheduler", cluster.scheduler_address], ["--dask", "--workers", "2"]):
        remote = run(*sweep_args(), *where)
        assert (remote.exit_code, remote.stdout) == (local.exit_code, local.stdout), where


def test_the_judgement_and_its_order_do_not_depend_on_where_jobs_ran(cluster):
    configs = [catalog.configuration(c) for c in CONFIGS]
    here = judge.sweep(BASELINE, configs, workers=1)
    there = judge.sweep(BASELINE, configs, workers=Where(scheduler=cluster.scheduler_address))
    assert there == here and there.complete
    assert [o.config for o in there.outcomes] == list(CONFIGS)


def test_workers_keep_their_compiled_models_between_jobs(cluster):
    """A worker is a long-lived process: a model compiled for one job is reused by the next."""
    jobs = [batch.Job(catalog.configuration(c), BASELINE) for c in CONFIGS]
    where = Where(scheduler=cluster.scheduler_address)
    with distributed.Client(cluster.scheduler_address) as client:
        first, _ = batch.run(jobs, where)
        loaded = models_loaded(client)
        again, _ = batch.run(jobs, where)
        assert loaded >= 1 and models_loaded(client) == loaded
    assert first == again


def test_jobs_pickle_as_dask_sends_them():
    job = batch.Job(catalog.configuration("bounce-32bit"), BASELINE, ("device-reads-latest",))
    assert distributed.protocol.pickle.loads(distributed.protocol.pickle.dumps(job)) == job


def test_progress_counts_every_outcome_and_ctrl_c_keeps_those_before_the_first_missing():
    jobs = [batch.Job(catalog.configuration(c), BASELINE) for c in CONFIGS]
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 2:
            raise KeyboardInterrupt

    outcomes, complete = batch.run(jobs, 1, progress)
    assert not complete and [o.config for o in outcomes] == list(CONFIGS[:2])
    assert seen == [(0, 3), (1, 3), (2, 3)]


def test_an_unreachable_scheduler_is_bad_input():
    r = run("sweep", "--config", "seed", "--scheduler", "tcp://127.0.0.1:1")
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert "--scheduler tcp://127.0.0.1:1: cannot reach a Dask scheduler" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(("args", "message"), [
    (["--scheduler", "localhost"], "expected a scheduler address like tcp://host:8786"),
    (["--scheduler", "tcp://127.0.0.1:1", "--dask"], "one place to run"),
    (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "the scheduler's own workers run the checks"),
])
def test_a_scheduler_option_that_cannot_be_used_is_bad_input(args, message):
    r = run("sweep", "--config", "seed", *args)
    assert r.exit_code == Exit.BAD_INPUT and message in r.output, r.output


@pytest.mark.parametrize("args", [["sweep", "--config", "seed", "--dask"], ["allocate", "camera", "--dask"],
                                  ["sweep", "--config", "seed", "--scheduler", "tcp://127.0.0.1:1"]])
def test_without_dask_the_cluster_options_say_how_to_install_it(monkeypatch, args):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails as if not installed
    r = run(*args)
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert "Dask is not installed" in r.output and INSTALL in r.output
