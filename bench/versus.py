"""Our engines against SPIN and TLC on the one model, exported (`dmabuf-mc export`).

Run: .venv/bin/python bench/versus.py [CONFIG ...] [--quick] [--tools native,spin-bfs,...]
Default: `largest` (2.3 million states) and bench/versus-millions.toml (several million);
--quick: bounce-32bit alone, to see that everything runs. Per configuration it runs the
Python explicit engine, the native C engine, SPIN breadth-first (`spin -o2 -a`, `gcc -O2
-DSAFETY -DBFS`), SPIN depth-first (`-DNOREDUCE`) and TLC (one worker), all checking the
properties that hold there (so no tool stops early: a violation is found the same way by
every tool, tests/checker/test_export.py), checks that every tool counts the same distinct
states, and prints each one's distinct states per wall second and per CPU second, and its
ratio to SPIN BFS per CPU second (the machine is shared: CPU time is what a tool used,
wall time also what others did). Times are the search alone (no code generation or
compiling; SPIN's wall time as its verifier reports it), except TLC's, which include the
JVM's start. The last line is `ratio_vs_spin_bfs: X`, native over SPIN BFS on the last
configuration. Each configuration's figures, with the load and provenance, replace its
entry in bench/results/versus.json (`bench/readme.py` renders the README from it).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from record import load, provenance, save

from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import Exploration, explore
from dmabuf_mc.checker.engines.native import explore_native, library
from dmabuf_mc.checker.export.promela import promela
from dmabuf_mc.checker.export.tla import tla
from dmabuf_mc.checker.export.tools import spin, tlc
from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.model.build import build
from dmabuf_mc.model.config import load as load_config
from dmabuf_mc.model.policy import BASELINE

HERE = Path(__file__).parent
DEFAULT = ["largest", str(HERE / "versus-millions.toml")]
QUICK = ["bounce-32bit"]

Timed = tuple[int, float, float]
"""Distinct states, wall seconds, CPU seconds."""
Run = Callable[[TransitionSystem, tuple[str, ...], Path], Timed]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _ours(explorer: Callable[..., Exploration]) -> Run:
    def run(ts: TransitionSystem, props: tuple[str, ...], _: Path) -> Timed:
        model = compile_system(ts)
        cpu = _cpu()
        s = explorer(model, props, stop_when_refuted=False).stats
        return s.states, s.seconds, _cpu() - cpu
    return run


def _spin(bfs: bool) -> Run:
    def run(ts: TransitionSystem, props: tuple[str, ...], work: Path) -> Timed:
        seen = spin(promela(ts, props), work / f"spin-{bfs}", bfs=bfs, hash_bits=ts_hash_bits[ts.name])
        assert not seen.errors, seen.output
        return seen.states, seen.seconds, seen.cpu_seconds
    return run


def _tlc(ts: TransitionSystem, props: tuple[str, ...], work: Path) -> Timed:
    spec = tla(ts, "Model", props)
    seen = tlc("Model", spec.module, spec.cfg, work / "tlc")
    assert not seen.errors, seen.output[-3000:]
    return seen.states, seen.seconds, seen.cpu_seconds


TOOLS: dict[str, Run] = {"python": _ours(explore), "native": _ours(explore_native), "spin-bfs": _spin(True),
                         "spin-dfs": _spin(False), "tlc": _tlc}
ts_hash_bits: dict[str, int] = {}
"""SPIN's hash table per system: at least twice as many slots as states, as ours keeps."""


def versus(config: str, work: Path, tools: list[str]) -> float:
    """Every tool on one configuration, recorded; native states per CPU second over SPIN BFS's."""
    started = load()
    ts = build(load_config(config), BASELINE)
    stamped = provenance(ts)  # before the runs: the work tree may change while they take
    model = compile_system(ts)
    library(model)  # compiled before any timing
    everything = explore_native(model, [p.name for p in ts.properties], stop_when_refuted=False)
    total = everything.stats.states
    ts_hash_bits[ts.name] = max(18, (2 * total - 1).bit_length())
    holds = tuple(p.name for p in ts.properties if p.name not in everything.counterexamples)
    print(f"\n{config}: {total:,} states, depth {everything.stats.depth}; "
          f"properties that hold, checked by every tool: {', '.join(holds) or 'none'}")
    print(f"  {'tool':9} {'states':>12}  {'wall s':>8}  {'cpu s':>8}  {'states/s (wall)':>15}  {'states/cpu-s':>13}")
    rates: dict[str, float] = {}
    measured: dict[str, dict[str, object]] = {}
    for name in tools:
        before = load()
        states, seconds, cpu = TOOLS[name](ts, holds, work)
        measured[name] = {"states": states, "wall_seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                          "load": [before, load()]}
        if states != total:
            raise SystemExit(f"{name} counted {states:,} states on {config}, the native engine {total:,}")
        rates[name] = states / max(cpu, 1e-3)
        wall = states / seconds
        print(f"  {name:9} {states:>12,}  {seconds:8.2f}  {cpu:8.2f}  {wall:>15,.0f}  {rates[name]:>13,.0f}",
              flush=True)
    for name, rate in rates.items():
        print(f"  {name:9} {rate / rates['spin-bfs']:8.2f}x SPIN BFS (states per CPU second)")
    save("versus", Path(config).stem, {**stamped, "config": config, "states": total,
                                       "depth": everything.stats.depth, "checked": list(holds),
                                       "load": [started, load()], "tools": measured})
    return rates["native"] / rates["spin-bfs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help=f"default: {' '.join(DEFAULT)}")
    parser.add_argument("--quick", action="store_true", help=f"only {' '.join(QUICK)}")
    parser.add_argument("--tools", default=",".join(TOOLS), help="a comma-separated subset of %(default)s")
    args = parser.parse_args()
    if not {"native", "spin-bfs"} <= set(args.tools.split(",")) <= set(TOOLS):
        parser.error(f"--tools: native and spin-bfs, and any of {', '.join(TOOLS)}")
    configs = args.configs or (QUICK if args.quick else DEFAULT)
    print(f"load: {load():.2f} (1 min) on {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory(prefix="versus-") as work:
        ratio = 0.0
        for config in configs:
            ratio = versus(config, Path(work) / Path(config).stem, args.tools.split(","))
    print(f"ratio_vs_spin_bfs: {ratio:.2f}")


if __name__ == "__main__":
    main()
