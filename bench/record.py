"""Where the benchmarks keep what they measured: one JSON file per benchmark under
bench/results/, each entry stamped with the machine, the load it ran under, the date, the
commit and the model's fingerprint, so bench/readme.py can render the README's speed
section from committed data rather than from figures copied by hand.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from dmabuf_mc.checker.artefact import fingerprint, write_atomic
from dmabuf_mc.checker.ts import TransitionSystem

RESULTS = Path(__file__).parent / "results"


def load() -> float:
    """The 1-minute load average: on a shared machine, how many others wanted the cores."""
    return round(os.getloadavg()[0], 2)


def machine() -> dict[str, Any]:
    """The CPU model, the number of cores and the operating system."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return {"cpu": model, "cores": os.cpu_count(), "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version()}


def commit() -> str:
    """The checked-out commit, marked `-dirty` when the work tree has changes."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""
    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def provenance(ts: TransitionSystem) -> dict[str, Any]:
    """What a measurement of `ts` was taken on and against: date, commit, model, machine."""
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": commit(),
            "model_fingerprint": fingerprint(ts), "machine": machine()}


def read(name: str, results: Path = RESULTS) -> dict[str, Any]:
    """The recorded results of benchmark `name` (empty if it never ran)."""
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save(name: str, key: str, entry: dict[str, Any], results: Path = RESULTS) -> Path:
    """Record `entry` as benchmark `name`'s result for `key` (a configuration), keeping the
    other configurations' entries: each run updates what it measured."""
    doc = read(name, results)
    doc[key] = entry
    path = results / f"{name}.json"
    results.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path
