"""Lifelines for sequence diagrams of a trace: who talks to whom at each kernel call."""

from __future__ import annotations

from dmabuf_mc.checker.ts import Action
from dmabuf_mc.model.config import Configuration


def lifelines(cfg: Configuration) -> list[str]:
    """CPU, cache, memory, the exporter's device if it DMAs, then each importer's device."""
    own = ["exporter"] if cfg.exporter.dma != "none" else []
    return ["CPU", "Cache", "Memory", *own, *(i.name for i in cfg.importers)]


def arrow(cfg: Configuration, act: Action) -> tuple[str, str]:
    """(from, to) for one action instance."""
    f, p = act.family, act.params
    cpu_side = "Cache" if cfg.cached else "Memory"
    if f in ("cpu_read", "cpu_write"):
        return ("CPU", cpu_side)
    if f in ("dma_read", "dma_write"):
        return (p[0], "Memory")
    if f in ("vb2_qbuf", "vb2_dqbuf"):
        return ("CPU", "exporter")
    if f == "cache_evict":
        return ("Cache", "Memory")
    if f == "speculative_fill":
        return ("Memory", "Cache")
    if f == "dma_fence_signal":
        return (p[0], "CPU")
    if p and p[0] in {i.name for i in cfg.importers}:
        return ("CPU", p[0])
    return ("CPU", "Memory")
