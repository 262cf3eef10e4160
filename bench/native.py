"""Python against native: both explicit engines explore a configuration exhaustively.

Run: .venv/bin/python bench/native.py [CONFIG] [--repeat N]. Prints each engine's best
states/s over the runs, the ratio, and the time to build the C (zero when cached);
fails if the two engines disagree on what they saw.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

from checker.compile import Compiled, compile_system
from checker.engines.explicit import Exploration, explore
from checker.engines.native import explore_native, library
from model.build import build
from model.config import load
from model.policy import BASELINE

Engine = Callable[..., Exploration]


def best_of(engine: Engine, model: Compiled, repeat: int) -> tuple[float, Exploration]:
    """The best states/s over `repeat` full explorations, and the last exploration."""
    props = [p.name for p in model.ts.properties]
    runs = [engine(model, props, stop_when_refuted=False) for _ in range(repeat)]
    return max(r.stats.states_per_second for r in runs), runs[-1]


def untimed(seen: Exploration) -> Exploration:
    return replace(seen, stats=replace(seen.stats, seconds=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="largest")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    model = compile_system(build(load(args.config), BASELINE))
    t0 = time.perf_counter()
    library(model)
    built = time.perf_counter() - t0
    python, seen_py = best_of(explore, model, args.repeat)
    native, seen_c = best_of(explore_native, model, args.repeat)
    if untimed(seen_py) != untimed(seen_c):
        raise SystemExit("the engines disagree")
    s = seen_c.stats
    print(f"config: {args.config}  states: {s.states}  transitions: {s.transitions}  depth: {s.depth}  "
          f"C build: {built:.2f}s")
    print(f"python states/s: {python:,.0f}")
    print(f"native states/s: {native:,.0f}")
    print(f"ratio: {native / python:.1f}x")


if __name__ == "__main__":
    main()
