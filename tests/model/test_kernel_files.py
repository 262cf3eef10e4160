"""Kernel files: a kernel of one's own as TOML (`[kernel] version = "mine.toml"`), a base
release with rules set over it. One that restates a release checks exactly as the release
does; one that changes a rule changes what the rule decides; a bad one is refused (exit 2)
naming the file and the field, with what is allowed."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.verdict import Exit, Verdict
from dmabuf_mc.model import catalog
from dmabuf_mc.model.build import build
from dmabuf_mc.model.config import KERNEL_RULES, Configuration, parse
from dmabuf_mc.model.policy import BASELINE
from tests.test_report_schema import errors

PARTIAL_WRITE = "swiotlb-partial-write"
"""A built-in on v5.19 whose verdict swiotlb's map copy decides (no-lost-writes)."""


def outcome(cfg: Configuration) -> tuple[int, dict[str, Verdict]]:
    """States and verdicts of an exhaustive check; every refutation carries a replayed trace."""
    report = check(build(cfg, BASELINE))
    assert report.stats is not None
    for r in report.results:
        assert (r.verdict is Verdict.REFUTED) == (r.counterexample is not None)
    return report.stats.states, {r.name: r.verdict for r in report.results}


def text_of(builtin: str) -> str:
    return catalog.configuration_text(builtin)[1]


def on_kernel(tmp_path: Path, builtin: str, kernel: str) -> Configuration:
    """The built-in configuration with its [kernel] version naming a kernel file of text `kernel`."""
    (tmp_path / "mine.toml").write_text(kernel)
    text = text_of(builtin)
    if "[kernel]" in text:
        text = re.sub(r'(?m)^version = "[^"]*"', 'version = "mine.toml"', text, count=1)
    else:
        text = text.replace("\n[", '\n[kernel]\nversion = "mine.toml"\n\n[', 1)
    return parse(text, str(tmp_path / "config.toml"))


@pytest.mark.parametrize("builtin", ["seed", "heap-mmap", "bounce-32bit", PARTIAL_WRITE])
def test_a_kernel_file_that_restates_a_release_checks_as_the_release(tmp_path, builtin):
    release = catalog.configuration(builtin).kernel
    restated = f'description = "v{release.version} as released"\nbase = "{release.version}"\n'
    restated += f'arch_sync = "{release.arch_sync}"\nswiotlb = "{release.swiotlb}"\n'
    mine = on_kernel(tmp_path, builtin, restated)
    assert mine.kernel.file == str(tmp_path / "mine.toml")
    assert mine.kernel == replace(release, file=mine.kernel.file)
    assert outcome(mine) == outcome(catalog.configuration(builtin))


def test_a_kernel_file_that_changes_swiotlb_changes_what_swiotlb_decides(tmp_path):
    # kernel/dma/swiotlb.c before ddbd89deb7d3: a DMA_FROM_DEVICE map does not copy the
    # buffer into the slot, so the lines the device does not write come back stale.
    mine = on_kernel(tmp_path, PARTIAL_WRITE, 'base = "5.19"\nswiotlb = "before-ddbd89deb7d3"\n')
    in_table = 'version = "5.19"\nswiotlb = "before-ddbd89deb7d3"'
    table = parse(text_of(PARTIAL_WRITE).replace('version = "5.19"', in_table), "table.toml")
    states, verdicts = outcome(mine)
    assert (states, verdicts) == outcome(table)  # the same as the rule set in the configuration itself
    assert outcome(catalog.configuration(PARTIAL_WRITE))[1]["no-lost-writes"] is Verdict.HOLDS
    assert verdicts["no-lost-writes"] is Verdict.REFUTED


def test_the_configuration_overrides_its_kernel_file_rule_by_rule(tmp_path):
    (tmp_path / "mine.toml").write_text('base = "5.19"\nswiotlb = "before-ddbd89deb7d3"\narch_sync = '
                                        '"before-c50f11c6196f"\nfence_wait = "before-callback"\n')
    text = text_of(PARTIAL_WRITE).replace('version = "5.19"', 'version = "mine.toml"\nswiotlb = "901c7280ca0d"')
    cfg = parse(text, str(tmp_path / "config.toml"))
    assert (str(cfg.kernel.swiotlb), str(cfg.kernel.arch_sync), cfg.fence_wait) == (
        "901c7280ca0d", "before-c50f11c6196f", "before-callback")


def test_a_kernel_file_names_itself_in_the_kernel_line(tmp_path):
    (tmp_path / "mine.toml").write_text('base = "6.1"\n')
    (tmp_path / "c.toml").write_text('[kernel]\nversion = "mine.toml"\n[exporter]\nkind = "heap"\n'
                                     '[[importer]]\nname = "a"\ncoherent = false\n')
    r = CliRunner().invoke(main, ["check", "--config", str(tmp_path / "c.toml"), "--property", "no-use-after-free"])
    assert r.exit_code == Exit.HOLDS, r.output
    assert f"kernel {tmp_path / 'mine.toml'} (over v6.1): arm64 c50f11c6196f" in r.output


@pytest.mark.parametrize(("kernel", "field", "allowed"), [
    ('base = "6.1"\nswiotlb = "mine"\n', ":2: swiotlb", ", ".join(KERNEL_RULES["swiotlb"])),
    ('base = "6.1"\nswiotbl = "901c7280ca0d"\n', ":2: swiotbl", "known: arch_sync, base, description, fence_wait"),
    ('base = "6.1"\narch = "x86"\n', ":2: arch", "known: arch_sync, base, description, fence_wait, swiotlb"),
    ('swiotlb = "901c7280ca0d"\n', ": base", "the release the kernel starts from"),
    ('base = "3.1"\n', ":1: base", "a release the tables cover"),
    ('base = 6.1\n', ":1: base", "a str"),
    ('base = "6.1\n', ":1: (syntax)", "valid TOML"),
])
def test_a_bad_kernel_file_is_refused_naming_the_file_and_field(tmp_path, kernel, field, allowed):
    (tmp_path / "mine.toml").write_text(kernel)
    (tmp_path / "c.toml").write_text('[kernel]\nversion = "mine.toml"\n[exporter]\nkind = "heap"\n'
                                     '[[importer]]\nname = "a"\ncoherent = false\n')
    r = CliRunner().invoke(main, ["check", "--config", str(tmp_path / "c.toml")])
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert f"{tmp_path / 'mine.toml'}{field}: expected" in r.output and allowed in r.output
    assert "Traceback" not in r.output


def test_a_missing_kernel_file_is_refused_naming_the_configuration_field(tmp_path):
    (tmp_path / "c.toml").write_text('[kernel]\nversion = "gone.toml"\n[exporter]\nkind = "heap"\n'
                                     '[[importer]]\nname = "a"\ncoherent = false\n')
    r = CliRunner().invoke(main, ["check", "--config", str(tmp_path / "c.toml")])
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert f"c.toml:2: kernel.version: expected a release like 6.1 or a kernel file; there is no " \
           f"{tmp_path / 'gone.toml'}" in r.output


def test_list_kernel_describes_kernel_files_and_every_rule_they_may_set():
    out = CliRunner().invoke(main, ["list", "kernel"]).output
    assert "version = FILE.toml" in out
    for rule, values in KERNEL_RULES.items():
        for value in values:
            assert f"  {rule} = {value}\n" in out


def test_a_counterexample_carries_its_kernel_file_and_replays_without_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("vendor.toml").write_text('base = "5.19"\nswiotlb = "before-ddbd89deb7d3"\n')
    Path("partial.toml").write_text(text_of(PARTIAL_WRITE).replace('version = "5.19"', 'version = "vendor.toml"'))
    runner = CliRunner()
    found = runner.invoke(main, ["check", "--config", "partial.toml", "--property", "no-lost-writes", "--dump", "cex"])
    assert found.exit_code == Exit.VIOLATED, found.output
    [dumped] = Path("cex").glob("*.json")
    report = runner.invoke(main, ["check", "--config", "partial.toml", "--property", "no-lost-writes",
                                  "--format", "json"])
    assert errors(json.loads(report.stdout)) == []
    kernel = Path("vendor.toml").read_text()
    Path("vendor.toml").unlink()
    assert json.loads(dumped.read_text())["config"]["kernel"] == {"file": "vendor.toml", "text": kernel}
    replayed = runner.invoke(main, ["replay", str(dumped)])
    assert replayed.exit_code == Exit.VIOLATED, replayed.output
    assert "no-lost-writes is still violated" in replayed.output
