"""The README cannot drift: every `$ dmabuf-mc ...` line in its fenced blocks is run, in
order, in one scratch directory (a command may use what an earlier one wrote, and a TOML
block whose first line is `# NAME.toml...` is written there as NAME.toml), and the output
lines the README shows under it must appear in the command's stdout in that order. Lines
of `...` mark elisions; timings (`0.00s`, `(227,897 states/s)`) may differ."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
TIMING = [(re.compile(r"\b\d+(\.\d+)?s\b"), "Ts"), (re.compile(r"\([\d,]+ states/s\)"), "(R states/s)")]


@dataclass(frozen=True)
class Example:
    command: str
    shown: tuple[str, ...]
    line: int


def blocks(text: str) -> list[tuple[int, str]]:
    """(line number, body) of every fenced block."""
    return [(text[: m.start()].count("\n") + 2, m.group(1)) for m in FENCE.finditer(text)]


def examples(text: str) -> list[Example | tuple[str, str]]:
    """In README order: each command with the lines shown under it, and each named TOML file."""
    out: list[Example | tuple[str, str]] = []
    for start, body in blocks(text):
        lines = body.splitlines()
        named = re.match(r"# (\S+\.toml)\b", lines[0]) if lines else None
        if named:
            out.append((named.group(1), body))
        found: list[Example] = []
        for k, line in enumerate(lines):
            if line.startswith("$ "):
                found.append(Example(line[2:], (), start + k))
            elif found:
                found[-1] = replace(found[-1], shown=(*found[-1].shown, line))
        out += found
    return out


def normal(line: str) -> str:
    for pattern, replacement in TIMING:
        line = pattern.sub(replacement, line)
    return line.rstrip()


def run(example: Example, cwd: Path) -> subprocess.CompletedProcess[str]:
    words = shlex.split(example.command, comments=True)
    target = None
    if ">" in words:
        k = words.index(">")
        words, target = words[:k], words[k + 1]
    assert words[0] == "dmabuf-mc", f"README line {example.line}: not a dmabuf-mc command"
    done = subprocess.run([sys.executable, "-m", "dmabuf_mc", *words[1:]], cwd=cwd, capture_output=True, text=True)
    if target is not None:
        (cwd / target).write_text(done.stdout)
    return done


def missing(shown: tuple[str, ...], output: str) -> str | None:
    """The first shown line that does not appear, in order, in the output; None if all do."""
    got = [normal(line) for line in output.splitlines()]
    k = 0
    for line in shown:
        if line.strip() == "...":
            continue
        want = normal(line)
        while k < len(got) and got[k] != want:
            k += 1
        if k == len(got):
            return line
        k += 1
    return None


def test_the_readme_has_commands_with_output():
    found = [e for e in examples(README.read_text()) if isinstance(e, Example)]
    assert len(found) >= 5 and sum(bool(e.shown) for e in found) >= 4


def test_every_readme_command_prints_what_the_readme_shows(tmp_path):
    failures = []
    for example in examples(README.read_text()):
        if isinstance(example, tuple):
            name, body = example
            (tmp_path / name).write_text(body)
            continue
        done = run(example, tmp_path)
        if done.returncode in (2, 4):
            failures.append(f"README line {example.line}: `{example.command}` exited {done.returncode}: "
                            f"{done.stderr.strip()}")
            continue
        gone = missing(example.shown, done.stdout)
        if gone is not None:
            failures.append(f"README line {example.line}: `{example.command}` did not print, in order:\n  {gone}\n"
                            f"it printed:\n{done.stdout}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(("shown", "output", "ok"), [
    (("a", "...", "c"), "a\nb\nc\n", True),
    (("c", "a"), "a\nb\nc\n", False),
    (("  1 states, 0.00s (5 states/s)",), "  1 states, 1.25s (9,999 states/s)\n", True),
    (("x",), "a\n", False),
])
def test_shown_lines_must_appear_in_order(shown, output, ok):
    assert (missing(shown, output) is None) is ok


def bench_readme(monkeypatch: pytest.MonkeyPatch):
    """bench/readme.py as a module (it imports bench/record.py beside it)."""
    bench = README.parent / "bench"
    monkeypatch.syspath_prepend(str(bench))
    spec = importlib.util.spec_from_file_location("bench_readme", bench / "readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_speed_figures_are_what_bench_readme_renders_from_the_committed_results(monkeypatch):
    readme = bench_readme(monkeypatch)
    text = README.read_text()
    section = readme.render()
    assert readme.rewritten(text, section) == text, (
        "README.md's speed section is not what bench/readme.py renders from bench/results/*.json: "
        "run .venv/bin/python bench/readme.py (and never edit the figures by hand)")
    assert "| **native / SPIN BFS**" in section, "no versus.py figures were rendered"
    assert re.search(r"\*\*[\d,]+ states/s\*\*", section), "no explore.py figures were rendered"
    edited = text.replace(section, re.sub(r"\d", "7", section, count=1))
    assert readme.rewritten(edited, section) != edited  # a hand edit is caught
