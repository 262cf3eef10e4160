"""Explore a configuration (the largest built-in by default) exhaustively and print the
explicit engines' speed.

Run: .venv/bin/python bench/explore.py [CONFIG] [--repeat N] [--engine native|explicit|both].
The engine defaults to the one `check` uses on a model this size: native when a C
compiler is found. With `both`, the two engines must see the same states, and the ratio
is printed. The last line is `states/s: N` (the best run of the default engine). Every
run's figures, with the load and provenance, replace the configuration's entry in
bench/results/explore.json, which `bench/readme.py` renders into the README.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from record import load, provenance, save

from dmabuf_mc.checker.compile import Compiled, compile_system
from dmabuf_mc.checker.engines.explicit import Exploration, explore
from dmabuf_mc.checker.engines.native import explore_native, library
from dmabuf_mc.checker.native.toolchain import compiler
from dmabuf_mc.model.build import build
from dmabuf_mc.model.config import load as load_config
from dmabuf_mc.model.policy import BASELINE

ENGINES = {"native": explore_native, "explicit": explore}


def best_of(engine: str, model: Compiled, repeat: int) -> tuple[float, Exploration, list[dict[str, float]]]:
    """The best states/s over `repeat` full explorations (every property checked, none
    allowed to stop the search), printing each run, the last exploration, and each run's
    seconds, rate and load."""
    best, seen, runs = 0.0, None, []
    for run in range(repeat):
        before = load()
        seen = ENGINES[engine](model, [p.name for p in model.ts.properties], stop_when_refuted=False)
        s = seen.stats
        best = max(best, s.states_per_second)
        runs.append({"seconds": round(s.seconds, 3), "states_per_second": round(s.states_per_second),
                     "load": [before, load()]})
        print(f"{engine} run {run + 1}: states: {s.states}  transitions: {s.transitions}  depth: {s.depth}  "
              f"seconds: {s.seconds:.3f}  states/s: {s.states_per_second:,.0f}")
    assert seen is not None
    return best, seen, runs


def untimed(seen: Exploration) -> Exploration:
    return replace(seen, stats=replace(seen.stats, seconds=0))


def main() -> None:
    default = "native" if compiler() else "explicit"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="largest")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine", choices=["native", "explicit", "both"], default=default)
    args = parser.parse_args()
    ts = build(load_config(args.config), BASELINE)
    stamped = provenance(ts)  # before the runs: the work tree may change while they take
    t0 = time.perf_counter()
    model = compile_system(ts)
    if args.engine != "explicit":
        library(model)
    compiled = time.perf_counter() - t0
    print(f"config: {args.config}  variables: {len(ts.variables)}  actions: {len(ts.actions)}  "
          f"state bits: {sum(model.layout.widths)}  compile: {compiled:.3f}s")
    engines = ["explicit", "native"] if args.engine == "both" else [args.engine]
    results = {e: best_of(e, model, args.repeat) for e in engines}
    if args.engine == "both":
        if untimed(results["explicit"][1]) != untimed(results["native"][1]):
            raise SystemExit("the engines disagree")
        print(f"ratio: {results['native'][0] / results['explicit'][0]:.1f}x")
    s = results[engines[0]][1].stats
    save("explore", args.config, {
        **stamped, "states": s.states, "transitions": s.transitions, "depth": s.depth,
        "compile_seconds": round(compiled, 3),
        "engines": {e: {"states_per_second": round(best), "runs": runs} for e, (best, _, runs) in results.items()},
    })
    print(f"states/s: {results[default if args.engine == 'both' else args.engine][0]:.0f}")


if __name__ == "__main__":
    main()
