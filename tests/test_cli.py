"""The command line: verdict lines, exit codes, JSON, and clear errors on bad input."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dmabuf_mc.app.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_default_check_is_the_seed_and_prints_the_stale_read():
    r = run("check")
    assert r.exit_code == 1
    assert "REFUTED  device-reads-latest" in r.output
    assert "dma_read(display, line0)" in r.output and "device read STALE" in r.output


def test_holding_property_exits_zero():
    r = run("check", "--config", "heap-bracketed", "--property", "device-reads-latest")
    assert r.exit_code == 0, r.output
    assert "HOLDS    device-reads-latest" in r.output


def test_vacuous_pass_is_flagged():
    r = run("check", "--property", "cpu-reads-latest")
    assert r.exit_code == 0
    assert "VACUOUS" in r.output


def test_json_report_is_versioned_and_carries_the_trace():
    r = run("check", "--format", "json")
    doc = json.loads(r.output)
    assert doc["schema"] == "dmabuf-mc.report" and doc["version"] == 2
    refuted = {x["property"]: x for x in doc["results"] if x["verdict"] == "REFUTED"}
    steps = refuted["device-reads-latest"]["counterexample"]["steps"]
    assert [s["call"] for s in steps][-1] == "dma_read"
    assert steps[-1]["state"]["device_read"] == "stale"
    assert doc["exit_code"] == r.exit_code == 1


def test_state_limit_reports_unknown_and_exit_3():
    r = run("check", "--config", "heap-bracketed", "--max-states", "5")
    assert r.exit_code == 3
    assert "UNKNOWN" in r.output and "state limit 5 reached" in r.output


def test_without_drops_an_obligation():
    r = run("check", "--config", "heap-mmap", "--property", "cpu-reads-latest", "--without", "cpu-access-bracketed")
    assert r.exit_code == 1
    assert "without cpu-access-bracketed" in r.output


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[exporter]\nkind = "heap"\n[[importer]]\nname = "isp"\n')
    for args, needle in [
        (["check", "--config", str(bad)], "importer[0].coherent: expected a bool (required)"),
        (["check", "--config", "no-such"], "no-such: (file): expected a configuration file"),
        (["check", "--policy", "nope"], "nope: --policy: expected a policy file or one of: baseline"),
        (["check", "--property", "fast"], "unknown property 'fast'"),
        (["check", "--without", "manners"], "unknown obligation 'manners'"),
        (["check", "--max-states", "-1"], "Invalid value"),
    ]:
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output, (args, r.output)
        assert "Traceback" not in r.output


def test_list_shows_every_section():
    r = run("list")
    assert r.exit_code == 0
    for word in ("configs:", "seed", "policies:", "baseline", "properties:", "no-lost-writes",
                 "obligations:", "cpu-access-bracketed", "exporters:", "drm-prime"):
        assert word in r.output


def test_check_says_which_engine_ran_and_why():
    r = run("check", "--engine", "explicit")
    kernel, header = r.output.splitlines()[:2]
    assert kernel.startswith("kernel v6.1: arm64 c50f11c6196f, swiotlb 901c7280ca0d")
    assert header.startswith("dmabuf-mc: seed/baseline (explicit engine: --engine explicit)")
    r = run("check")
    assert r.output.splitlines()[1].startswith("dmabuf-mc: seed/baseline (explicit engine: done within 20,000 states")


def test_native_engine_without_a_compiler_is_bad_input(monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler")
    r = run("check", "--engine", "native")
    assert r.exit_code == 2
    assert "--engine native: no C compiler found" in r.output
