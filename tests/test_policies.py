"""API-change proposals as policies (issue 5): each must fix, break or refuse what the
thread said it would; user policy files; compare, sweep, explain and allocate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dmabuf_mc.app import judge
from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.engines.bmc import bmc
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model import catalog
from dmabuf_mc.model.build import build
from dmabuf_mc.model.config import ConfigError, builtin_names, load
from dmabuf_mc.model.policy import BASELINE, POLICIES
from dmabuf_mc.model.policyfile import parse_policy
from dmabuf_mc.model.sweep import Sweep, generate
from dmabuf_mc.properties import REFUSAL
from tests.conftest import labels

SEED = "seed"
UNCACHED_CAMERA = "sweep:drm-prime/driver-uncached/coherent/low/camera"
ONCE = str(Path(__file__).parent / "data" / "udmabuf-display-mapped-once.toml")


def verdicts(config: str, policy: str) -> dict[str, Verdict]:
    ts = build(catalog.configuration(config), catalog.policy(policy))
    return {r.name: r.verdict for r in check(ts).results}


def test_every_policy_builds_every_builtin_with_the_same_properties():
    for policy in POLICIES.values():
        for name in builtin_names():
            ts = build(load(name), policy)
            assert ts.name == f"{name}/{policy.name}"
            assert ts.property(REFUSAL).refusal


def test_p1_fixes_the_seed_by_refusing_the_display_at_attach():
    base, p1 = verdicts(SEED, "baseline"), verdicts(SEED, "p1-coherent-flag")
    assert base["device-reads-latest"] is Verdict.REFUTED
    assert p1["device-reads-latest"] is Verdict.HOLDS
    assert p1[REFUSAL] is Verdict.REFUSED
    ts = build(load(SEED), POLICIES["p1-coherent-flag"])
    trace = check(ts, [REFUSAL]).results[0].counterexample
    assert labels(trace) == ["dma_buf_export()", "dma_buf_attach(display)"]


def test_compare_shows_p1_fixing_the_seed_and_refusing_an_uncached_buffer_the_base_served():
    configs = [catalog.configuration(c) for c in (SEED, UNCACHED_CAMERA)]
    cmp = judge.compare(BASELINE, POLICIES["p1-coherent-flag"], configs, workers=1)
    seed, camera = cmp.rows
    fixed = {c.prop: c for c in seed.changes}["device-reads-latest"]
    assert fixed.category == judge.FIXED and fixed.how == "by refusing dma_buf_attach(display)"
    refusal = {c.prop: c for c in camera.changes}[REFUSAL]
    assert refusal.category == judge.REFUSED
    assert "dma_buf_attach(camera)" in refusal.evidence.trace
    # R1.6 answers it: the exporter clears the flag on its write-combined buffer.
    cleared = judge.compare(BASELINE, POLICIES["p1-clear-for-uncached"], configs, workers=1)
    assert cleared.rows[1].trivial
    assert {c.prop: c.category for c in cleared.rows[0].changes}["device-reads-latest"] == judge.FIXED
    # P4 serves the display and fixes the stale read by its rule: devices bracket their access.
    p4 = judge.compare(BASELINE, POLICIES["p4-device-bracketing"], configs[:1], workers=1)
    assert {c.prop: c.how for c in p4.rows[0].changes}["device-reads-latest"] == judge.BY_THE_RULE


@pytest.mark.parametrize(("policy", "config", "prop", "expected"), [
    ("p3-neutral-heap", SEED, "device-reads-latest", Verdict.HOLDS),  # the heap cleans at map
    ("p7-legacy-uncached", SEED, "device-reads-latest", Verdict.HOLDS),  # WC mapping for the display
    ("p12-uncached-heap", SEED, "device-reads-latest", Verdict.HOLDS),
    ("p8-require-coherent", SEED, REFUSAL, Verdict.REFUSED),  # the display is not coherent
    ("p8-require-coherent", "bounce-32bit", REFUSAL, Verdict.REFUSED),
    ("p9-exporter-brackets", SEED, "device-reads-latest", Verdict.REFUTED),  # PRIME has no callbacks to bracket with
    ("p4-device-bracketing", SEED, "device-reads-latest", Verdict.HOLDS),
    ("p11-sync-all-attachments", ONCE, "device-reads-latest", Verdict.HOLDS),
    ("baseline", ONCE, "device-reads-latest", Verdict.REFUTED),
    # P11 syncs mapped attachments only: a FROM_DEVICE unmap inside a CPU write bracket still
    # drops the dirty line (README "Findings").
    ("p11-sync-all-attachments", "udmabuf-no-cpu-sync", "cpu-reads-latest", Verdict.REFUTED),
    ("buggy-noop-cpu-access", "heap-mmap", "cpu-reads-latest", Verdict.REFUTED),
    ("buggy-swapped-cpu-access", "heap-mmap", "cpu-reads-latest", Verdict.REFUTED),
])
def test_proposals_do_what_the_thread_said(policy, config, prop, expected):
    assert verdicts(config, policy)[prop] is expected


@pytest.mark.parametrize("config", ["seed", "heap-mmap", "udmabuf-no-cpu-sync"])
@pytest.mark.parametrize("policy", ["p1-coherent-flag", "p4-device-bracketing", "p8-require-coherent",
                                    "p11-sync-all-attachments", "buggy-swapped-cpu-access"])
def test_bmc_agrees_with_bfs_under_the_proposals(config, policy):
    ts = build(load(config), POLICIES[policy])
    report = check(ts)
    for r in report.results:
        found = bmc(ts, r.name, max_depth=report.stats.depth + 1)
        assert (found.trace is not None) == (r.counterexample is not None), r.name
        if r.counterexample is not None:
            assert len(found.trace) == len(r.counterexample), r.name


def test_explain_names_the_cpu_bracket_as_necessary_with_the_stale_read():
    e = judge.explain(BASELINE, [load("heap-mmap")], workers=1)
    by_name = {f.name: f for f in e.findings}
    bracket = by_name["cpu-access-bracketed"]
    assert bracket.necessary and bracket.prop == "cpu-reads-latest"
    assert "cpu_read(mmap, line0)" in bracket.evidence.trace and "CPU read STALE" in bracket.evidence.trace
    assert not by_name["end-matches-begin"].necessary
    assert by_name["map"].necessary and by_name["map"].weaker == "skip-cpu-sync"


def test_results_do_not_depend_on_the_number_of_workers():
    configs = list(generate(Sweep(devices=("camera", "display", "dma32"), max_importers=1)))
    one = judge.sweep(BASELINE, configs, workers=1)
    two = judge.sweep(BASELINE, configs, workers=2)
    assert one == two
    assert {o.config for o in one.outcomes} == {c.name for c in configs}


def test_allocate_keeps_contiguous_sources_for_a_display():
    a = judge.allocate(["camera", "display"], BASELINE, workers=1)
    by_label = {c.label.split(" ")[0]: c for c in a.candidates}
    assert by_label["cma-heap"].safe
    assert not by_label["system-heap"].safe
    assert "contiguous-when-required" in by_label["system-heap"].outcome.violated


OVERLAY = """name = "mine"
base = "p1-coherent-flag"
[rules]
exporter-cpu-access = "bracketed"
[obligations]
drop = ["end-matches-begin"]
"""


def test_a_policy_file_overlays_a_base_policy():
    p = parse_policy(OVERLAY, "mine.toml")
    assert p.rule("attach") == "rejects-noncoherent" and p.rule("exporter-cpu-access") == "bracketed"
    assert "end-matches-begin" not in p.obligations


@pytest.mark.parametrize(("text", "where"), [
    ('name = "x"\n[rules\n', "mine.toml:2: (syntax)"),
    ('name = "x"\n[rules]\nattach = "sometimes"\n', "mine.toml:3: rules.attach: expected one of accepts"),
    ('name = "x"\n\n[rules]\nflush = "always"\n', "mine.toml:4: rules.flush: expected a rule"),
    ('name = "x"\n[rules]\nattach = 1\n', "mine.toml:3: rules.attach: expected a str"),
    ('base = "p99"\n', "mine.toml:1: base: expected one of baseline"),
    ('[obligations]\ndrop = ["no-such"]\n', "mine.toml:2: obligations.drop[0]: expected an obligation"),
])
def test_a_malformed_policy_file_names_file_line_and_field(text, where):
    with pytest.raises(ConfigError) as e:
        parse_policy(text, "mine.toml")
    assert str(e.value).startswith(where)


def test_cli_check_with_a_policy_file_and_a_bad_one(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text(OVERLAY)
    result = CliRunner().invoke(main, ["check", "--config", SEED, "--policy", str(good)])
    assert result.exit_code == 1 and "REFUSED  no-refusal" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[rules]\nattach = "sometimes"\n')
    result = CliRunner().invoke(main, ["check", "--policy", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:2: rules.attach: expected one of" in result.output


def test_cli_compare_markdown_links_each_cell_to_its_trace():
    result = CliRunner().invoke(main, ["compare", "baseline", "p1-coherent-flag", "--config", SEED,
                                       "--config", UNCACHED_CAMERA, "--format", "markdown", "--workers", "1"])
    assert result.exit_code == 1  # it refuses a configuration the base served safely
    assert "| fixed by refusing dma_buf_attach(display) [[1]](#t1) |" in result.output
    assert '<details id="t1">' in result.output
    assert result.output.count("```mermaid") == result.output.count("<details id=") >= 2
    assert re.search(r"\| refused \[\[\d\]\]\(#t\d\) \|", result.output)


def test_cli_compare_text_fits_80_columns_and_prints_each_distinct_trace_once():
    """The whole default sweep, as a mailing-list reply."""
    result = CliRunner().invoke(main, ["compare", "baseline", "p1-coherent-flag", "--format", "text"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line for line in lines if len(line) > 80] == []
    assert "DRL   device-reads-latest" in result.output and "  Fr  fixed by refusing a device" in result.output
    headings = [line for line in lines if line.startswith("[")]
    numbers = [int(h[1:h.index("]")]) for h in headings]
    assert numbers == list(range(1, len(numbers) + 1))
    table = lines[:lines.index("Traces")]
    cited = {int(c) for line in table for c in re.findall(r"\b(?:Fr?|B|R|U) (\d+)\b", line)}
    assert cited == set(numbers)
    assert sum(int(re.search(r"cited by (\d+) cell", h).group(1)) for h in headings) > len(numbers)


def test_cli_sweep_explain_allocate_exit_codes():
    runner = CliRunner()
    sweep = runner.invoke(main, ["sweep", "--importers", "1", "--devices", "pcie-gpu", "--exporters", "heap",
                                 "--property", "device-reads-latest", "--workers", "1"])
    assert sweep.exit_code == 0  # a coherent, snooping reader never reads stale data
    assert "baseline on 2 configurations" in sweep.output
    assert "heap/cma-heap/noncoherent/low/pcie-gpu     169     ok" in sweep.output
    explain = runner.invoke(main, ["explain", "--config", "heap-mmap", "--workers", "1"])
    assert explain.exit_code == 0
    assert re.search(r"\ncpu-access-bracketed +obli +dropped +necessary 1\n", explain.output)
    assert "--property cpu-reads-latest --without cpu-access-bracketed" in explain.output
    allocate = runner.invoke(main, ["allocate", "camera", "display", "--workers", "1"])
    assert allocate.exit_code == 0 and "safe without a copy: cma-heap (heap)" in allocate.output
    unknown = runner.invoke(main, ["allocate", "toaster"])
    assert unknown.exit_code == 2 and "DEVICES: toaster: (device): expected a device profile file" in unknown.output


ISP = """description = "an image signal processor that writes whole frames, behind no IOMMU"
name = "isp"
coherent = false
reads = false
writes = true
partial_writes = false
mapping = "per-job"
"""


def test_a_device_profile_file_joins_a_sweep_and_replays_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "isp.toml").write_text(ISP)
    result = CliRunner().invoke(main, ["sweep", "--importers", "2", "--devices", "display,isp.toml",
                                       "--exporters", "heap", "--property", "no-lost-writes", "--workers", "1"])
    assert result.exit_code in (0, 1) and "heap/system-heap/noncoherent/low/display+isp.toml" in result.output
    name = "sweep:heap/system-heap/noncoherent/low/isp.toml+isp.toml"
    cfg = catalog.configuration(name)
    assert [i.name for i in cfg.importers] == ["isp0", "isp1"] and not cfg.importers[0].partial_writes
    replayed = CliRunner().invoke(main, ["check", "--config", name, "--property", "no-lost-writes"])
    assert replayed.exit_code in (0, 1) and f"{name}/baseline" in replayed.output


@pytest.mark.parametrize(("text", "where"), [
    ('name = "isp"\ncoherent = "no"\n', "isp.toml:2: coherent: expected a bool"),
    ('name = "isp"\ncoherent = false\nsnoop = true\n', "isp.toml:3: snoop: expected no such field"),
    ('coherent = false\n', "isp.toml: name: expected a str (required)"),
])
def test_a_bad_device_profile_names_file_line_and_field(tmp_path, monkeypatch, text, where):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "isp.toml").write_text(text)
    result = CliRunner().invoke(main, ["allocate", "camera", "isp.toml"])
    assert result.exit_code == 2 and where in result.output, result.output


def test_a_sweep_counterexample_replays_by_name():
    result = CliRunner().invoke(main, ["check", "--config", "sweep:drm-prime/driver-cached/coherent/low/display",
                                       "--property", "device-reads-latest"])
    assert result.exit_code == 1 and "REFUTED  device-reads-latest" in result.output
    bad = CliRunner().invoke(main, ["check", "--config", "sweep:drm-prime/nowhere/coherent/low/display"])
    assert bad.exit_code == 2 and "source" in bad.output


def test_a_misspelt_rule_value_in_a_comparison_is_an_error_not_false():
    assert BASELINE.is_("map", "exporter-kind")
    assert not BASELINE.is_("map", "skip-cpu-sync", "cpu-sync")
    with pytest.raises(KeyError, match="map = skip-cpu-synk"):
        BASELINE.is_("map", "skip-cpu-synk")
