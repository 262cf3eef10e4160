"""Explore the largest built-in configuration exhaustively and print the engine's speed.

Run: .venv/bin/python bench/explore.py [CONFIG] [--repeat N] [--engine native|explicit].
The engine defaults to the one `check` uses on a model this size: native when a C
compiler is found. The last line is `states/s: N` (the best of the runs), the figure the
README records; bench/native.py compares the two engines.
"""

from __future__ import annotations

import argparse
import time

from checker.compile import compile_system
from checker.engines.explicit import explore
from checker.engines.native import explore_native, library
from checker.native.toolchain import compiler
from model.build import build
from model.config import load
from model.policy import BASELINE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="largest")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine", choices=["native", "explicit"], default="native" if compiler() else "explicit")
    args = parser.parse_args()
    ts = build(load(args.config), BASELINE)
    t0 = time.perf_counter()
    model = compile_system(ts)
    if args.engine == "native":
        library(model)
    print(f"config: {args.config}  engine: {args.engine}  variables: {len(ts.variables)}  actions: {len(ts.actions)}  "
          f"state bits: {sum(model.layout.widths)}  compile: {time.perf_counter() - t0:.3f}s")
    run_engine = explore_native if args.engine == "native" else explore
    best = 0.0
    for run in range(args.repeat):
        # Every property checked, none allowed to stop the search: a full exploration.
        seen = run_engine(model, [p.name for p in ts.properties], stop_when_refuted=False)
        s = seen.stats
        best = max(best, s.states_per_second)
        print(f"run {run + 1}: states: {s.states}  transitions: {s.transitions}  depth: {s.depth}  "
              f"seconds: {s.seconds:.3f}  states/s: {s.states_per_second:,.0f}")
    print(f"states/s: {best:.0f}")


if __name__ == "__main__":
    main()
