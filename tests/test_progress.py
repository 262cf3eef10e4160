"""Progress on stderr: plain TLC-style lines when it is not a terminal, at an interval of
work set by DMABUF_MC_PROGRESS_EVERY, one per line; stdout keeps only the report."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from click.testing import CliRunner

from dmabuf_mc.app.cli import main
from dmabuf_mc.app.progress import EVERY

CHECK_LINE = re.compile(r"^check: ([\d,]+) states, depth \d+, queue [\d,]+, [\d,]+ states/s$")


def test_a_piped_check_of_largest_prints_a_progress_line_per_interval_of_states():
    env = {**os.environ, EVERY: "10000"}
    run = subprocess.run([sys.executable, "-m", "dmabuf_mc", "check", "--config", "largest", "--engine", "explicit",
                          "--max-states", "50000"], capture_output=True, text=True, env=env)
    assert run.returncode == 1  # violations found before the state limit
    lines = run.stderr.splitlines()
    states = [int(CHECK_LINE.match(line).group(1).replace(",", "")) for line in lines]
    marks = [s // 10000 for s in states]
    assert len(states) >= 4 and marks == sorted(set(marks))  # one line per 10,000 states passed
    assert "states/s" in run.stdout and "check:" not in run.stdout


def test_sweep_progress_lines_do_not_run_together():
    result = CliRunner(env={EVERY: "1"}).invoke(main, ["sweep", "--importers", "1", "--devices", "camera",
                                                       "--exporters", "heap,udmabuf", "--workers", "1"])
    progress = [line for line in result.output.splitlines() if line.startswith("sweep: ")]
    assert len(progress) >= 2
    assert all(re.fullmatch(r"sweep: \d+/\d+ checks, [\d,]+ checks/s(, ETA \d+s)?", line) for line in progress)


def test_a_bad_progress_interval_is_bad_input():
    result = CliRunner(env={EVERY: "often"}).invoke(main, ["check"])
    assert result.exit_code == 2 and f"${EVERY}: expected a positive whole number" in result.output
