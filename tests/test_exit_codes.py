"""Every command's exit code (README "Using it"): 3 whenever the run ends before an answer
(a limit, a solver giving up, Ctrl-C), 4 with one line for an internal error. Ctrl-C is
simulated by an engine function that raises KeyboardInterrupt; solvers are stopped by a
resource limit (work), never by seconds."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import z3
from click.testing import CliRunner

import dmabuf_mc.app.cli
import dmabuf_mc.checker.check
import dmabuf_mc.checker.crosscheck
import dmabuf_mc.checker.engines.prove
import dmabuf_mc.checker.engines.random
import dmabuf_mc.checker.prover
from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.verdict import Exit
from tests.conftest import system


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def interrupt(*_args: object, **_kw: object) -> None:
    raise KeyboardInterrupt


def test_an_unexpected_exception_is_one_line_and_exit_4(monkeypatch):
    def broken(*_args: object, **_kw: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(dmabuf_mc.app.cli, "check", broken)
    r = run("check")
    assert r.exit_code == Exit.INTERNAL_ERROR == 4
    assert r.output.strip() == ("dmabuf-mc: internal error: ValueError: boom "
                                "(please report it with the command line)")


def test_check_interrupted_mid_search_reports_the_states_covered_and_exit_3(monkeypatch):
    real = dmabuf_mc.checker.check.compile_system

    def compiled(*args: object):
        model = real(*args)
        calls = iter(range(40))

        def successors(s: int):  # Ctrl-C once, at the 20th expansion
            if next(calls, None) == 20:
                raise KeyboardInterrupt
            return model.successors(s)

        return replace(model, successors=successors)

    monkeypatch.setattr(dmabuf_mc.checker.check, "compile_system", compiled)
    r = run("check", "--config", "heap-bracketed", "--property", "device-reads-latest")
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "stopped: interrupted" in r.output
    assert "UNKNOWN  device-reads-latest  no violation in the" in r.output


def test_prove_interrupted_keeps_the_answers_so_far_and_exits_3(monkeypatch, tmp_path):
    real = dmabuf_mc.checker.prover.bmc
    calls = iter(range(1))

    def bmc_then_interrupt(*args: object, **kw: object):
        if next(calls, None) is None:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(dmabuf_mc.checker.prover, "bmc", bmc_then_interrupt)
    r = run("prove", "--engine", "bmc", "--depth", "3", "--property", "device-reads-latest",
            "--property", "no-lost-writes", "--certificates", str(tmp_path))
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "UNKNOWN  device-reads-latest  depth bound 3 reached" in r.output
    assert "UNKNOWN  no-lost-writes       interrupted before an answer" in r.output


def test_ctrl_c_while_z3_works_cancels_the_query_and_stops_the_run(monkeypatch, tmp_path):
    real = dmabuf_mc.checker.engines.prove._spacer

    def ctrl_c_then_spacer(*args: object):
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C as Spacer starts
        return real(*args)

    handler = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(dmabuf_mc.checker.engines.prove, "_spacer", ctrl_c_then_spacer)
    r = run("prove", "--config", "heap-mmap", "--property", "cpu-reads-latest", "--property", "no-lost-writes",
            "--certificates", str(tmp_path))
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "UNKNOWN  cpu-reads-latest  solver gave up (canceled); no violation within 12 steps (BMC)" in r.output
    assert "UNKNOWN  no-lost-writes    interrupted before an answer" in r.output
    assert signal.getsignal(signal.SIGINT) is handler


def test_fuzz_interrupted_exits_3(monkeypatch):
    monkeypatch.setattr(dmabuf_mc.checker.engines.random, "run_histories", interrupt)
    r = run("fuzz", "--property", "device-reads-latest")
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "UNKNOWN  device-reads-latest  interrupted before 100 histories" in r.output


def test_fuzz_that_finds_nothing_is_unknown_not_a_pass():
    r = run("fuzz", "--config", "heap-bracketed", "--property", "device-reads-latest", "--examples", "5",
            "--steps", "20")
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "UNKNOWN  device-reads-latest  no violation in 5 histories" in r.output


@pytest.mark.parametrize(("command", "target"), [
    (["certify", "x.cert.json"], (dmabuf_mc.app.cli, "load_certificate")),
    (["replay", "x.json"], (dmabuf_mc.app.cli, "read_counterexample")),
    (["sweep", "--config", "seed", "--workers", "1"], (dmabuf_mc.app.cli.judge, "sweep")),
])
def test_ctrl_c_anywhere_else_is_exit_3_not_a_traceback(monkeypatch, command, target):
    monkeypatch.setattr(*target, interrupt)
    r = run(*command)
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "dmabuf-mc: interrupted before an answer" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("engine", ["pdr", "kind", "bmc"])
def test_a_solver_stopped_by_its_resource_limit_is_unknown_exit_3(solver_rlimit, engine, tmp_path):
    solver_rlimit(20_000)
    r = run("prove", "--config", "heap-mmap", "--property", "cpu-reads-latest", "--engine", engine,
            "--certificates", str(tmp_path))
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "UNKNOWN  cpu-reads-latest" in r.output and "solver gave up" in r.output
    assert "Traceback" not in r.output


def test_pdr_says_how_deep_its_probe_got_before_the_solver_gave_up(solver_rlimit):
    from dmabuf_mc.checker.engines.prove import pdr

    _, ts = system("heap-mmap")
    solver_rlimit(100_000)
    result = pdr(ts, "cpu-reads-latest", 10)
    assert not result.proved and result.trace is None
    assert "no violation within" in result.stopped and "steps (BMC)" in result.stopped


def test_certify_whose_solver_gives_up_is_unknown_exit_3(solver_rlimit, tmp_path):
    proved = run("prove", "--config", "heap-bracketed", "--property", "device-reads-latest",
                 "--certificates", str(tmp_path))
    assert proved.exit_code == Exit.HOLDS, proved.output
    (cert,) = tmp_path.glob("*.cert.json")
    solver_rlimit(1)
    r = run("certify", str(cert))
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert r.output.startswith(f"UNKNOWN {cert}") and "not re-checked" in r.output


def test_bench_counts_a_solver_that_gives_up_as_undecided(solver_rlimit):
    spec = importlib.util.spec_from_file_location("bench_prove", Path(__file__).parent.parent / "bench" / "prove.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    _, ts = system("heap-mmap")
    solver_rlimit(20_000)
    assert not bench.decided("pdr", ts, "cpu-reads-latest", 7, timeout=None)


def test_running_out_of_memory_anywhere_is_unknown_exit_3(monkeypatch):
    def no_memory(*_args: object, **_kw: object) -> None:
        raise MemoryError

    monkeypatch.setattr(dmabuf_mc.app.cli, "check", no_memory)
    r = run("check")
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert r.output.strip() == "dmabuf-mc: out of memory before an answer"


def _killed(job: object) -> None:
    """A batch job whose worker process dies at once, as under the OOM killer."""
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_batch_worker_killed_is_unknown_exit_3_not_an_internal_error(monkeypatch):
    # The local pool forks its workers, so they run the patched job.
    import dmabuf_mc.app.batch

    monkeypatch.setattr(dmabuf_mc.app.batch, "run_job", _killed)
    r = run("sweep", "--config", "seed", "--config", "heap-mmap", "--workers", "2")
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "a worker process died" in r.output and "internal error" not in r.output


ANNOUNCE_SPACER = """
import sys
import dmabuf_mc.checker.engines.prove as engine
from dmabuf_mc.app.cli import main

real = engine._spacer


def announced(*args):
    print("spacer starts", file=sys.stderr, flush=True)
    return real(*args)


engine._spacer = announced
main(sys.argv[1:], prog_name="dmabuf-mc")
"""


@pytest.mark.skipif(os.name != "posix", reason="a real SIGINT to a child process")
def test_a_real_ctrl_c_during_a_z3_query_stops_prove_with_exit_3(tmp_path):
    """The CLI in a child process gets one SIGINT from outside once Spacer has started (the
    child says when on stderr, so nothing depends on timing): whether the signal lands inside
    Z3 or just after, the run stops there; the property after it, which would be refuted, is
    never run. One signal: a second one racing the child's exit would kill it instead."""
    child = subprocess.Popen(
        [sys.executable, "-c", ANNOUNCE_SPACER, "prove", "--config", "heap-mmap", "--property", "cpu-reads-latest",
         "--property", "dma-api-ownership", "--certificates", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stderr.readline() == "spacer starts\n"
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=600)  # a guard against a hang, not a limit on the answer
    assert child.returncode == Exit.UNKNOWN, (out, err)
    assert "UNKNOWN  dma-api-ownership  interrupted before an answer" in out, out
    assert "REFUTED" not in out and "Traceback" not in err


def test_a_cancel_between_queries_is_the_solver_giving_up_not_a_bug():
    """Ctrl-C can cancel Z3 while no query runs: the next push fails with "push canceled"."""
    from dmabuf_mc.checker.engines.bmc import bmc
    from dmabuf_mc.checker.interrupt import _clear_cancel

    _, ts = system("heap-mmap")
    z3.main_ctx().interrupt()
    try:
        found = bmc(ts, "cpu-reads-latest", 3)
    finally:
        _clear_cancel()
    assert found.trace is None and found.depth == -1
    assert found.stopped == "solver gave up (push canceled) at depth 0"
    assert bmc(ts, "cpu-reads-latest", 3).stopped == "depth bound 3 reached"


def test_ctrl_c_leaves_no_cancel_behind_for_later_queries():
    from dmabuf_mc.checker.engines.bmc import bmc
    from dmabuf_mc.checker.interrupt import ctrl_c_stops_z3

    _, ts = system("heap-mmap")
    with pytest.raises(KeyboardInterrupt), ctrl_c_stops_z3() as checkpoint:
        os.kill(os.getpid(), signal.SIGINT)
        s = z3.Solver()
        while True:  # until the watcher's cancel reaches Z3 (a cancel stays until a query takes it)
            try:
                s.push()
                s.pop()
            except z3.Z3Exception:
                break
        checkpoint()
    assert bmc(ts, "cpu-reads-latest", 3).stopped == "depth bound 3 reached"


def _sigint_on_call(module: object, name: str, call: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """`module.name` sends this process a real SIGINT as its `call`-th call (1-based) starts."""
    real = getattr(module, name)
    calls = iter(range(1, 10**6))

    def then_ctrl_c(*args: object, **kw: object):
        if next(calls) == call:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kw)

    monkeypatch.setattr(module, name, then_ctrl_c)


def test_prove_strict_interrupted_does_not_judge_coverage(monkeypatch, tmp_path):
    _sigint_on_call(dmabuf_mc.checker.prover, "_run", 1, monkeypatch)

    def no_coverage(*_args: object) -> None:
        raise AssertionError("coverage judged after an interrupted run")

    monkeypatch.setattr(dmabuf_mc.app.cli, "coverage", no_coverage)
    r = run("prove", "--config", "heap-bracketed", "--property", "device-reads-latest", "--property",
            "no-lost-writes", "--strict", "--certificates", str(tmp_path))
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "UNKNOWN  no-lost-writes       interrupted before an answer" in r.output
    assert "STRICT   not decided: coverage not judged: the run was interrupted" in r.output
    assert "the run fails" not in r.output


def test_ctrl_c_in_prove_strict_coverage_stops_it_and_says_what_was_covered(monkeypatch, tmp_path):
    # The first _run proves the property; the second is the first coverage goal.
    _sigint_on_call(dmabuf_mc.checker.prover, "_run", 2, monkeypatch)
    handler = signal.getsignal(signal.SIGINT)
    r = run("prove", "--config", "heap-bracketed", "--property", "device-reads-latest", "--strict",
            "--certificates", str(tmp_path))
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "PROVED   device-reads-latest" in r.output
    _, ts = system("heap-bracketed")
    goals = 1 + len(ts.actions)  # the property's premise and every action
    assert f"interrupted after 1 of {goals} premises and actions; {goals - 1} not looked at" in r.output
    assert "the run fails" not in r.output
    assert signal.getsignal(signal.SIGINT) is handler


def test_fuzz_strict_interrupted_does_not_invent_never_enabled_actions(monkeypatch):
    monkeypatch.setattr(dmabuf_mc.checker.engines.random, "run_histories", interrupt)
    r = run("fuzz", "--property", "device-reads-latest", "--strict")
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "STRICT   not decided: coverage not judged: interrupted after" in r.output
    assert "never enabled" not in r.output and "the run fails" not in r.output


def test_ctrl_c_in_the_cross_check_stops_its_bmc_and_says_what_was_compared(monkeypatch):
    _sigint_on_call(dmabuf_mc.checker.crosscheck, "bmc", 1, monkeypatch)
    handler = signal.getsignal(signal.SIGINT)
    r = run("check", "--config", "heap-bracketed", "--property", "device-reads-latest", "--property",
            "no-lost-writes", "--cross-check")
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "HOLDS    device-reads-latest" in r.output and "HOLDS    no-lost-writes" in r.output
    assert "cross-check interrupted after 1 comparisons; not compared: no-lost-writes" in r.output
    assert signal.getsignal(signal.SIGINT) is handler


def test_an_interrupted_cross_check_keeps_the_violations_found(monkeypatch):
    _sigint_on_call(dmabuf_mc.checker.crosscheck, "bmc", 1, monkeypatch)
    r = run("check", "--property", "dma-api-ownership", "--property", "no-lost-writes", "--cross-check",
            "--format", "json")
    assert r.exit_code == Exit.VIOLATED, r.output
    doc = json.loads(r.output)
    assert doc["cross_check"]["interrupted"] and doc["cross_check"]["not_compared"] == ["no-lost-writes"]


@pytest.mark.parametrize("command", [["prove", "--certificates", "/dev/null/x"], ["check", "--dump", "/dev/null/x"],
                                     ["prove", "--dump", "/dev/null/x"], ["fuzz", "--dump", "/dev/null/x"]])
def test_a_directory_option_that_cannot_be_a_directory_is_bad_input(command):
    r = run(*command, "--property", "device-reads-latest")
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert r.output.strip() == f"dmabuf-mc: error: {command[1]} /dev/null/x: /dev/null is not a directory"


def test_check_dump_that_fails_reports_the_verdicts_then_exits_2(monkeypatch, tmp_path):
    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dmabuf_mc.app.cli, "dump", full)
    r = run("check", "--property", "dma-api-ownership", "--dump", str(tmp_path))
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert "REFUTED  dma-api-ownership" in r.output
    assert f"dmabuf-mc: error: --dump {tmp_path}: cannot write a counterexample there: No space left" in r.output


def test_a_certificate_that_cannot_be_written_is_bad_input_naming_the_option(monkeypatch, tmp_path):
    def denied(*_args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(dmabuf_mc.checker.prover, "save", denied)
    r = run("prove", "--config", "heap-bracketed", "--property", "device-reads-latest", "--certificates",
            str(tmp_path))
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert r.output.strip() == (f"dmabuf-mc: error: --certificates {tmp_path}: cannot write a certificate under "
                                f"{tmp_path}: Permission denied")


CLI = "import sys; from dmabuf_mc.app.cli import main; main(sys.argv[1:], prog_name='dmabuf-mc')"


@pytest.mark.skipif(os.name != "posix", reason="a pipe whose reader is gone")
@pytest.mark.parametrize(("args", "code"), [(["list"], Exit.HOLDS), (["check"], Exit.VIOLATED)])
def test_a_closed_stdout_ends_quietly_with_the_usual_code(args, code):
    """`dmabuf-mc list | head -1`: stdout is a pipe nobody reads any more."""
    reader, writer = os.pipe()
    os.close(reader)  # every write fails with EPIPE, whatever the timing
    try:
        done = subprocess.run([sys.executable, "-c", CLI, *args], stdout=writer, stderr=subprocess.PIPE,
                              text=True, timeout=600)
    finally:
        os.close(writer)
    assert done.returncode == code, done.stderr
    assert done.stderr == ""


def test_a_k_induction_depth_past_what_a_certificate_holds_is_bad_input():
    from click.testing import CliRunner

    from dmabuf_mc.app.cli import main
    r = CliRunner().invoke(main, ["prove", "--engine", "kind", "--depth", "65"])
    assert r.exit_code == 2 and "k-induction certificates hold k up to 64" in r.output


def test_a_model_read_back_after_ctrl_c_is_not_an_answer(monkeypatch):
    # Ctrl-C can land while Z3's model is being read back; the cancel then cuts the read
    # short, so whatever trace it gives is not trusted: the query gave up.
    import dmabuf_mc.checker.engines.bmc as bmc_engine
    from dmabuf_mc.checker.interrupt import _PRESSED
    from tests.conftest import system

    def cancelled_mid_read(*_args: object) -> None:
        _PRESSED.set()
        raise AssertionError("step 1 of a Z3 model matches no action")

    monkeypatch.setattr(bmc_engine, "decode", cancelled_mid_read)
    _, ts = system("seed")
    try:
        result = bmc_engine.bmc(ts, "device-reads-latest", 8)
    finally:
        _PRESSED.clear()
    assert result.trace is None and "gave up (canceled)" in (result.stopped or "")
