"""Time each engine on each built-in configuration, over all properties.

Run: .venv/bin/python bench/prove.py [--timeout S] [CONFIG ...]. Columns: explicit BFS
(full exploration), BMC to the BFS depth, k-induction (k <= 8) and PDR (Spacer), each the
total over the eight properties, with how many were decided (a solver that gives up, at
the time limit or otherwise, leaves its property undecided). Tells which engine to pick
as models grow. Ctrl-C keeps the rows printed so far and exits 3.
"""

from __future__ import annotations

import argparse
import sys
import time

from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.bmc import bmc
from dmabuf_mc.checker.engines.explicit import explore
from dmabuf_mc.checker.engines.prove import kinduction, pdr
from dmabuf_mc.checker.interrupt import ctrl_c_stops_z3
from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.checker.verdict import Exit
from dmabuf_mc.model.build import build
from dmabuf_mc.model.config import builtin_names, load
from dmabuf_mc.model.policy import BASELINE


def decided(engine: str, ts: TransitionSystem, prop: str, depth: int, timeout: float) -> bool:
    """Whether the engine gave an answer (bmc: no limit other than its depth bound hit)."""
    if engine == "bmc":
        return bmc(ts, prop, depth, timeout=timeout).stopped in (None, f"depth bound {depth} reached")
    result = kinduction(ts, prop, 8, timeout=timeout) if engine == "kind" else pdr(ts, prop, depth, timeout=timeout)
    return result.proved or result.trace is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=builtin_names())
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per property and engine")
    args = parser.parse_args()
    print(f"{'config':<20} {'states':>8} {'depth':>5} {'explicit':>9} {'bmc':>12} {'k-ind':>12} {'pdr':>12}")
    for name in args.configs:
        ts = build(load(name), BASELINE)
        props = [p.name for p in ts.properties]
        t0 = time.perf_counter()
        seen = explore(compile_system(ts), props, stop_when_refuted=False)
        explicit = time.perf_counter() - t0
        depth = seen.stats.depth
        cells = []
        for engine in ("bmc", "kind", "pdr"):
            t0 = time.perf_counter()
            with ctrl_c_stops_z3() as checkpoint:
                answered = sum(decided(engine, ts, p, depth, args.timeout) for p in props)
                checkpoint()
            cells.append(f"{time.perf_counter() - t0:6.1f}s {answered}/{len(props)}")
        print(f"{name:<20} {seen.stats.states:>8} {depth:>5} {explicit:>8.2f}s {cells[0]:>12} {cells[1]:>12} "
              f"{cells[2]:>12}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: the rows above are complete", file=sys.stderr)
        sys.exit(Exit.UNKNOWN)
