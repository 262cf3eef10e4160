"""State-space growth from the kernel-history knobs: states and transitions of each
built-in configuration under the baseline, then the same configuration with one knob
changed. Prints a table; run with `.venv/bin/python bench/knobs.py`."""

from __future__ import annotations

import time
from dataclasses import replace

from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import explore
from dmabuf_mc.model.build import build
from dmabuf_mc.model.config import Configuration, builtin_names, load
from dmabuf_mc.model.kernels import ArchSync, Swiotlb
from dmabuf_mc.model.policy import BASELINE, POLICIES

KNOBS = {
    "arm64-before-c50f11c6196f": lambda c: replace(c, kernel=replace(c.kernel, arch_sync=ArchSync.INVALIDATE)),
    "swiotlb before ddbd89deb7d3": lambda c: replace(c, kernel=replace(c.kernel, swiotlb=Swiotlb.V5_16)),
    "lazy IOMMU, all devices behind one": lambda c: replace(
        c, kernel=replace(c.kernel, iommu="lazy"),
        importers=tuple(replace(i, iommu=True) for i in c.importers)),
    "map once": lambda c: replace(c, importers=tuple(replace(i, mapping="once", vmap_user=False)
                                                     for i in c.importers)),
    "held mapping": lambda c: replace(c, importers=tuple(replace(i, mapping="held") for i in c.importers)),
    "dynamic importers": lambda c: replace(c, importers=tuple(replace(i, dynamic=True) for i in c.importers)),
    "P4 device bracketing": None,
    "fenced jobs": lambda c: replace(c, jobs="fenced"),
}


def states(cfg: Configuration, policy=BASELINE) -> tuple[int, int, float]:
    ts = build(cfg, policy)
    start = time.perf_counter()
    seen = explore(compile_system(ts), [p.name for p in ts.properties], stop_when_refuted=False)
    return seen.stats.states, seen.stats.transitions, time.perf_counter() - start


def main() -> None:
    names = [n for n in builtin_names() if n != "largest"]
    print(f"{'configuration':<28}{'baseline':>10}  " + "  ".join(f"{k[:26]:>26}" for k in KNOBS))
    for name in names:
        cfg = load(name)
        base, _, _ = states(cfg)
        cells = []
        for change in KNOBS.values():
            n = states(cfg, POLICIES["p4-device-bracketing"])[0] if change is None else states(change(cfg))[0]
            cells.append(f"{n:>10,} ({n / base:4.1f}x)".rjust(26))
        print(f"{name:<28}{base:>10,}  " + "  ".join(cells))
    largest = load("largest")
    n, t, s = states(largest)
    print(f"\nlargest: {n:,} states, {t:,} transitions in {s:.2f}s: {n / s:,.0f} states/s")


if __name__ == "__main__":
    main()
