"""Lifelines for sequence diagrams of a trace: who calls whom at each kernel call.

Each call is drawn from its real caller: the exporter's driver, the userspace process
with the mmap, an importer's kernel driver using dma_buf_vmap, or the importer's driver
(which shares its device's lifeline); dma-buf API calls and fences go to the dma-buf core,
CPU loads and stores to the cache (memory when the CPU mapping is uncached), DMA to
memory, V4L2 QBUF/DQBUF to the exporter's own device, which DMAs to memory as well.
"""

from __future__ import annotations

from dmabuf_mc.checker.ts import Action
from dmabuf_mc.model.config import Configuration
from dmabuf_mc.model.dmabuf import EXPORTER, IMPORTER, KERNEL, USERSPACE
from dmabuf_mc.model.platform import HARDWARE

CORE = "dma-buf"
CALLERS = {EXPORTER: "Exporter", USERSPACE: "Userspace", KERNEL: "vmap user", IMPORTER: "Importer"}
"""The lifeline of each caller that is not a device; `Importer` only for a call no
importer is named in (the last dma_buf_put)."""
EXPORTER_DEVICE = "Exporter device"
"""A videobuf2 exporter's own device, for a configuration where it DMAs."""
DMA = ("dma_read", "dma_write")


def lifelines(cfg: Configuration) -> list[str]:
    """Every lifeline a trace of `cfg` can use, in the order drawn: callers, the dma-buf
    core, cache, memory, the exporter's device if it DMAs, then each importer (its driver
    and its device)."""
    own = [EXPORTER_DEVICE] if cfg.exporter.dma != "none" else []
    return [*CALLERS.values(), CORE, "Cache", "Memory", *own, *(i.name for i in cfg.importers)]


def arrow(cfg: Configuration, act: Action) -> tuple[str, str]:
    """(caller, callee) for one action instance."""
    f, p = act.family, act.params
    importers = {i.name for i in cfg.importers}
    if act.actor == HARDWARE:
        return ("Memory", "Cache") if f == "speculative_fill" else ("Cache", "Memory")
    if f in DMA:  # the device itself
        return (EXPORTER_DEVICE if act.actor == EXPORTER else act.actor, "Memory")
    if f in ("vb2_qbuf", "vb2_dqbuf"):
        return (CALLERS[USERSPACE], EXPORTER_DEVICE)
    if act.actor in importers:  # its driver: a job's fence
        return (act.actor, CORE)
    caller = p[0] if act.actor == IMPORTER and p and p[0] in importers else CALLERS.get(act.actor, act.actor)
    if f in ("cpu_read", "cpu_write"):
        return (caller, "Cache" if cfg.cached else "Memory")
    return (caller, CORE)
