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


def test_a_plain_check_of_a_correct_configuration_exits_zero_without_the_opt_in_properties():
    r = run("check", "--config", "heap-bracketed-to-device")
    assert r.exit_code == 0, r.output
    assert "HOLDS    dma-api-direction" in r.output
    assert "dma-api-ownership" not in r.output and "dma-api-no-overlap" not in r.output
    asked = run("check", "--config", "heap-bracketed-to-device", "--property", "dma-api-ownership")
    assert asked.exit_code == 1 and "REFUTED  dma-api-ownership" in asked.output


def test_heap_bracketed_is_refuted_by_the_heaps_sync_in_the_brackets_direction():
    # system_heap_dma_buf_begin_cpu_access syncs the DMA_TO_DEVICE mapping with the bracket's
    # DMA_FROM_DEVICE: dma-debug check_sync "syncs DMA memory with different direction".
    r = run("check", "--config", "heap-bracketed")
    assert r.exit_code == 1
    assert [ln.split()[1] for ln in r.output.splitlines() if ln.startswith("  REFUTED")] == ["dma-api-direction"]
    assert "4. dma_buf_begin_cpu_access(DMA_FROM_DEVICE)" in r.output


def test_the_old_dma_api_rules_name_is_a_group_everywhere_a_property_is_named(tmp_path):
    r = run("check", "--config", "heap-bracketed", "--property", "dma-api-rules")
    checked = [ln.split()[1] for ln in r.output.splitlines() if ln.startswith(("  HOLDS", "  REFUTED"))]
    assert checked == ["dma-api-sync-live", "dma-api-direction", "dma-api-whole-mapping"]
    swept = run("sweep", "--config", "heap-bracketed", "--property", "dma-api-rules", "--workers", "1")
    assert swept.exit_code == 1 and "dma-api-whole-mapping" in swept.output
    proved = run("prove", "--config", "heap-bracketed", "--property", "dma-debug", "--engine", "bmc",
                 "--depth", "6", "--certificates", str(tmp_path))
    assert "dma-api-no-overlap" in proved.output and "REFUTED  dma-api-direction" in proved.output


def test_an_unknown_property_names_the_groups_too():
    r = run("check", "--property", "dma-api-rule")
    assert r.exit_code == 2
    assert "dma-api-rules" in r.output and "dma-debug" in r.output
    swept = run("sweep", "--config", "seed", "--property", "dma-api-rule")
    assert swept.exit_code == 2 and "dma-api-rules" in swept.output


def test_list_properties_says_which_are_checked_by_default():
    out = run("list", "properties").output
    assert "dma-api-ownership (only when named)" in out and "dma-api-no-overlap (only when named)" in out
    assert "dma-api-direction (default)" in out
    assert "dma-api-rules (group)" in out
