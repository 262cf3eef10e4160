"""`check --strict` fails a run that passes only vacuously or never enables an action;
`check --cross-check` re-derives every verdict with BMC and fails on a disagreement."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

import dmabuf_mc.checker.crosscheck
from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.engines.bmc import BmcResult, bmc
from dmabuf_mc.checker.verdict import Exit
from tests.conftest import system


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_strict_fails_a_vacuous_pass():
    args = ["check", "--property", "cpu-reads-latest"]
    assert run(*args).exit_code == Exit.HOLDS
    r = run(*args, "--strict")
    assert r.exit_code == Exit.VIOLATED, r.output
    assert "STRICT   the run fails: cpu-reads-latest: its premise never occurs" in r.output


def test_strict_fails_a_never_enabled_action_and_says_so_in_json():
    # Under DMA_ATTR_REQUIRE_COHERENT the display's map always fails: it never unmaps or reads.
    r = run("check", "--rule", "map=requires-coherent", "--property", "no-lost-writes", "--strict", "--format", "json")
    assert r.exit_code == Exit.VIOLATED, r.output
    doc = json.loads(r.output)
    assert doc["strict_failures"] == ["dma_buf_unmap_attachment(display, DMA_TO_DEVICE) is never enabled",
                                      "dma_read(display, line0) is never enabled"] and doc["exit_code"] == 1


def test_strict_passes_a_run_with_nothing_vacuous():
    r = run("check", "--config", "heap-bracketed", "--property", "device-reads-latest", "--strict")
    assert r.exit_code == Exit.HOLDS, r.output


def test_cross_check_agrees_with_bfs_and_keeps_the_exit_code():
    violated = run("check", "--cross-check")
    assert violated.exit_code == Exit.VIOLATED
    assert "cross-check with bmc to depth 5: agrees on 11 of 11 properties" in violated.output
    holds = run("check", "--config", "heap-bracketed", "--property", "device-reads-latest", "--cross-check")
    assert holds.exit_code == Exit.HOLDS and "agrees on 1 of 1 properties" in holds.output


def test_a_disagreement_fails_the_run_and_prints_both_traces(monkeypatch):
    _, ts = system("seed")
    five_steps = bmc(ts, "device-reads-latest", 5)

    def always_five(*_args: object) -> BmcResult:
        return five_steps

    monkeypatch.setattr(dmabuf_mc.checker.crosscheck, "bmc", always_five)
    r = run("check", "--property", "dma-api-ownership", "--property", "no-lost-writes", "--cross-check")
    assert r.exit_code == Exit.VIOLATED, r.output
    assert "DISAGREE dma-api-ownership: explicit REFUTED in 4 steps, bmc a violation in 5 steps" in r.output
    assert "DISAGREE no-lost-writes: explicit HOLDS, bmc a violation in 5 steps" in r.output
    assert "dma-api-ownership, explicit engine:" in r.output and "dma-api-ownership, bmc engine:" in r.output


def test_a_cross_check_bmc_cannot_finish_is_unknown(solver_rlimit):
    solver_rlimit(1)
    r = run("check", "--config", "heap-bracketed", "--property", "device-reads-latest", "--cross-check")
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "UNKNOWN  device-reads-latest: explicit HOLDS, bmc solver gave up" in r.output


def test_prove_strict_proves_a_premise_never_occurs(tmp_path):
    args = ["prove", "--property", "cpu-reads-latest", "--certificates", str(tmp_path)]
    assert run(*args).exit_code == Exit.HOLDS
    r = run(*args, "--strict")
    assert r.exit_code == Exit.VIOLATED, r.output
    assert "STRICT   the run fails: cpu-reads-latest: its premise never occurs" in r.output


def test_prove_strict_proves_an_action_is_never_enabled(tmp_path):
    r = run("prove", "--rule", "map=requires-coherent", "--property", "no-lost-writes", "--strict",
            "--certificates", str(tmp_path))
    assert r.exit_code == Exit.VIOLATED, r.output
    assert "dma_read(display, line0) is never enabled" in r.output


def test_prove_strict_passes_when_every_premise_and_action_has_a_witness(tmp_path):
    r = run("prove", "--config", "heap-bracketed", "--property", "device-reads-latest", "--strict", "--certificates",
            str(tmp_path))
    assert r.exit_code == Exit.HOLDS, r.output
    assert "STRICT" not in r.output


def test_prove_strict_with_bmc_cannot_show_an_action_is_never_enabled(tmp_path):
    r = run("prove", "--rule", "map=requires-coherent", "--engine", "bmc", "--depth", "6", "--property",
            "no-lost-writes", "--strict", "--certificates", str(tmp_path))
    assert r.exit_code == Exit.UNKNOWN, r.output
    assert "STRICT   not decided: enabled dma_buf_unmap_attachment(display, DMA_TO_DEVICE): depth bound 6" in r.output


def test_fuzz_strict_fails_when_the_histories_never_meet_a_premise():
    r = run("fuzz", "--config", "heap-bracketed", "--property", "cpu-reads-latest", "--examples", "10", "--steps",
            "30", "--strict")
    assert r.exit_code == Exit.VIOLATED, r.output
    assert "STRICT   the run fails: cpu-reads-latest: its premise never occurs" in r.output


def test_cross_check_replays_every_bmc_trace_before_showing_it(monkeypatch):
    _, ts = system("seed")
    found = bmc(ts, "dma-api-ownership", 4)
    assert found.trace is not None
    forged = replace(found.trace, violates="no-lost-writes")  # no-lost-writes holds in its last state

    def forging(*_args: object) -> BmcResult:
        return replace(found, trace=forged)

    monkeypatch.setattr(dmabuf_mc.checker.crosscheck, "bmc", forging)
    r = run("check", "--property", "no-lost-writes", "--cross-check")
    assert r.exit_code == Exit.INTERNAL_ERROR, r.output
    assert r.output.startswith("dmabuf-mc: internal error: ReplayError: step 4: bmc's counterexample for "
                               "no-lost-writes does not replay: no-lost-writes holds in the last state")
    assert "DISAGREE" not in r.output


def test_cross_check_replays_the_traces_it_compares(monkeypatch):
    replayed = []
    crosscheck = dmabuf_mc.checker.crosscheck
    real = crosscheck.replay
    monkeypatch.setattr(crosscheck, "replay", lambda trace: replayed.append(trace.violates) or real(trace))
    r = run("check", "--property", "dma-api-ownership", "--property", "no-lost-writes", "--cross-check")
    assert r.exit_code == Exit.VIOLATED, r.output
    assert replayed == ["dma-api-ownership"]


def test_sweep_strict_fails_a_batch_that_holds_only_vacuously():
    # heap-bracketed-to-device holds every default property, one of them vacuously.
    args = ["sweep", "--config", "heap-bracketed-to-device", "--workers", "1"]
    assert run(*args).exit_code == Exit.HOLDS
    r = run(*args, "--strict", "--format", "json")
    assert r.exit_code == Exit.VIOLATED, r.output
    doc = json.loads(r.stdout)
    vacuous = [p for p, cell in doc["rows"][0]["cells"].items() if cell["vacuous"]]
    assert vacuous and doc["doubts"]["failures"] == [
        f"heap-bracketed-to-device under baseline: --strict: {p}: its premise never occurs" for p in vacuous]
    assert doc["exit_code"] == Exit.VIOLATED


def test_batch_cross_check_agrees_on_builtins_and_keeps_the_exit_code():
    for command in (["sweep"], ["compare", "baseline", "p1-coherent-flag"]):
        args = [*command, "--config", "seed", "--config", "bounce-32bit", "--workers", "1"]
        plain, crossed = run(*args), run(*args, "--cross-check")
        assert crossed.exit_code == plain.exit_code and "FAILED" not in crossed.output, crossed.output


def test_batch_cross_check_disagreement_fails_the_command(monkeypatch):
    # A BMC that never finds anything disagrees with every violation BFS found.
    monkeypatch.setattr(dmabuf_mc.checker.crosscheck, "bmc",
                        lambda ts, prop, bound, dropped: BmcResult(None, bound, None, 0.0))
    r = run("compare", "baseline", "p1-coherent-flag", "--config", "seed", "--workers", "1", "--cross-check")
    assert r.exit_code == Exit.VIOLATED, r.output
    words = " ".join(r.stdout.split())  # the text report wraps at 80 columns
    assert "FAILED seed under baseline: --cross-check: device-reads-latest: explicit REFUTED in 5 steps" in words


def test_explain_strict_judges_the_policy_not_its_weakened_variants():
    r = run("explain", "--config", "heap-bracketed-to-device", "--workers", "1", "--strict", "--format", "json")
    failures = json.loads(r.stdout)["doubts"]["failures"]
    assert r.exit_code == Exit.VIOLATED and failures
    assert all(f.startswith("heap-bracketed-to-device under baseline: ") for f in failures), failures


@pytest.mark.parametrize("where", ["check", "cross_check"])
def test_ctrl_c_inside_a_batch_check_stops_the_batch(monkeypatch, where):
    # The engines turn Ctrl-C into an interrupted run; a batch must stop there, not carry
    # on with the next configuration and report this one's cells as UNKNOWN.
    import dmabuf_mc.app.batch

    real = getattr(dmabuf_mc.app.batch, where)
    monkeypatch.setattr(dmabuf_mc.app.batch, where, lambda *a, **k: replace(real(*a, **k), interrupted=True))
    r = run("sweep", "--config", "seed", "--config", "heap-mmap", "--workers", "1", "--cross-check")
    assert r.exit_code == Exit.UNKNOWN
    assert "INTERRUPTED" in r.stdout and "seed " not in r.stdout and "heap-mmap" not in r.stdout, r.stdout
