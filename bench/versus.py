"""Our engines against SPIN and TLC on the one model, exported (`dmabuf-mc export`).

Run: .venv/bin/python bench/versus.py [CONFIG ...] [--quick]
Default: `largest` (2.3 million states) and bench/versus-millions.toml (several million);
--quick: bounce-32bit alone, to see that everything runs. Per configuration it runs the
Python explicit engine, the native C engine, SPIN breadth-first (`spin -o2 -a`, `gcc -O2
-DSAFETY -DBFS`), SPIN depth-first (`-DNOREDUCE`) and TLC (one worker), all checking the
properties that hold there (so no tool stops early: a violation is found the same way by
every tool, tests/checker/test_export.py), checks that every tool counts the same distinct
states, and prints each one's distinct states/s and its ratio to SPIN BFS. Seconds are the
search alone (no code generation or compiling), except TLC's, which include the JVM's start.
The last line is `ratio_vs_spin_bfs: X`, native states/s over SPIN BFS states/s on the
last configuration.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import explore
from dmabuf_mc.checker.engines.native import explore_native, library
from dmabuf_mc.checker.export.promela import promela
from dmabuf_mc.checker.export.tla import tla
from dmabuf_mc.checker.export.tools import spin, tlc
from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.model.build import build
from dmabuf_mc.model.config import load
from dmabuf_mc.model.policy import BASELINE

HERE = Path(__file__).parent
DEFAULT = ["largest", str(HERE / "versus-millions.toml")]
QUICK = ["bounce-32bit"]

Run = Callable[[TransitionSystem, tuple[str, ...], Path], tuple[int, float]]


def python(ts: TransitionSystem, props: tuple[str, ...], _: Path) -> tuple[int, float]:
    s = explore(compile_system(ts), props, stop_when_refuted=False).stats
    return s.states, s.seconds


def native(ts: TransitionSystem, props: tuple[str, ...], _: Path) -> tuple[int, float]:
    s = explore_native(compile_system(ts), props, stop_when_refuted=False).stats
    return s.states, s.seconds


def spin_bfs(ts: TransitionSystem, props: tuple[str, ...], work: Path) -> tuple[int, float]:
    seen = spin(promela(ts, props), work / "spin-bfs", bfs=True)
    assert not seen.errors, seen.output
    return seen.states, seen.seconds


def spin_dfs(ts: TransitionSystem, props: tuple[str, ...], work: Path) -> tuple[int, float]:
    seen = spin(promela(ts, props), work / "spin-dfs", bfs=False)
    assert not seen.errors, seen.output
    return seen.states, seen.seconds


def tlc_1(ts: TransitionSystem, props: tuple[str, ...], work: Path) -> tuple[int, float]:
    spec = tla(ts, "Model", props)
    seen = tlc("Model", spec.module, spec.cfg, work / "tlc")
    assert not seen.errors, seen.output[-3000:]
    return seen.states, seen.seconds


TOOLS: dict[str, Run] = {"python": python, "native": native, "spin-bfs": spin_bfs, "spin-dfs": spin_dfs,
                         "tlc": tlc_1}


def versus(config: str, work: Path) -> float:
    """Every tool on one configuration; native states/s over SPIN BFS states/s."""
    ts = build(load(config), BASELINE)
    model = compile_system(ts)
    library(model)  # compiled before any timing
    everything = explore_native(model, [p.name for p in ts.properties], stop_when_refuted=False)
    holds = tuple(p.name for p in ts.properties if p.name not in everything.counterexamples)
    print(f"\n{config}: {everything.stats.states:,} states, depth {everything.stats.depth}; "
          f"properties that hold, checked by every tool: {', '.join(holds) or 'none'}")
    rates: dict[str, float] = {}
    for name, run in TOOLS.items():
        states, seconds = run(ts, holds, work)
        if states != everything.stats.states:
            raise SystemExit(f"{name} counted {states:,} states on {config}, the native engine "
                             f"{everything.stats.states:,}")
        rates[name] = states / seconds
        print(f"  {name:9} {states:>12,} states  {seconds:9.2f} s  {rates[name]:>13,.0f} states/s", flush=True)
    for name, rate in rates.items():
        print(f"  {name:9} {rate / rates['spin-bfs']:8.2f}x SPIN BFS")
    return rates["native"] / rates["spin-bfs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help=f"default: {' '.join(DEFAULT)}")
    parser.add_argument("--quick", action="store_true", help=f"only {' '.join(QUICK)}")
    args = parser.parse_args()
    configs = args.configs or (QUICK if args.quick else DEFAULT)
    print(f"load: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory(prefix="versus-") as work:
        ratio = 0.0
        for config in configs:
            ratio = versus(config, Path(work) / Path(config).stem)
    print(f"ratio_vs_spin_bfs: {ratio:.2f}")


if __name__ == "__main__":
    main()
