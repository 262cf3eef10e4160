"""Configurations up to MAX_IMPORTERS importers and MAX_LINES cache lines, and the state cap
a sweep of such configurations puts on each check."""

from __future__ import annotations

from pathlib import Path

from dmabuf_mc.app import judge
from dmabuf_mc.app.batch import Checking
from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.engines.explicit import Limits
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.config import MAX_IMPORTERS, MAX_LINES
from dmabuf_mc.model.policy import BASELINE
from dmabuf_mc.model.sweep import from_name
from tests.conftest import config_text, system

SEED = (Path(__file__).parent.parent.parent / "model" / "configs" / "seed.toml").read_text()


def importers(n: int) -> str:
    return "".join(f'\n[[importer]]\nname = "isp{k}"\ncoherent = false\nreads = true\n' for k in range(1, n))


def test_the_seed_with_the_most_lines_and_importers_builds_each_ones_variables_and_still_fails():
    text = SEED.replace("lines = 1", f"lines = {MAX_LINES}") + importers(MAX_IMPORTERS)
    cfg, ts = system(config_text(text))
    assert len(cfg.importers) == MAX_IMPORTERS and cfg.buffer.lines == MAX_LINES
    names = {v.name for v in ts.variables}
    assert {f"cache[{ln}]" for ln in range(MAX_LINES)} <= names
    assert {f"attached[{i.name}]" for i in cfg.importers} <= names
    report = check(ts, ["device-reads-latest"], limits=Limits(max_states=200_000))
    assert report.results[0].verdict is Verdict.REFUTED  # replayed by check
    assert len(report.results[0].counterexample) == len(check(system("seed")[1], ["device-reads-latest"])
                                                          .results[0].counterexample)


def test_a_sweep_caps_each_check_and_reports_the_capped_cells_unknown():
    configs = [from_name("sweep:heap/system-heap/noncoherent/low/camera+camera+gpu+gpu")]
    full = judge.sweep(BASELINE, configs, ("no-use-after-free",), workers=1)
    capped = judge.sweep(BASELINE, configs, ("no-use-after-free",), workers=1, checking=Checking(max_states=100))
    assert full.outcomes[0].cell("no-use-after-free").verdict is Verdict.HOLDS and full.outcomes[0].states > 100
    assert capped.outcomes[0].cell("no-use-after-free").verdict is Verdict.UNKNOWN
    assert capped.outcomes[0].states < full.outcomes[0].states
