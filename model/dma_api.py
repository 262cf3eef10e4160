"""The streaming DMA API as dma-direct implements it: maps, unmaps and syncs, with
swiotlb bounce copies (DOMAIN.md §3.2, §5.2) and ownership hand-over (§0).

A bounced mapping gives the device a second copy (§5.3): the device sees only the bounce
slot, the CPU only the original. Copies follow §5.2 after aa6f8dcbab47: map and
sync_for_device always copy original -> bounce; sync_for_cpu and unmap copy back only for
DMA_FROM_DEVICE / DMA_BIDIRECTIONAL; unmap with DMA_ATTR_SKIP_CPU_SYNC copies nothing back.
The bounce slot's own CPU cache lines are not modelled: the arch sync on the slot is
assumed to make the CPU's copy visible to the device.
"""

from __future__ import annotations

from checker.ir import FALSE, TRUE
from checker.ts import Effect
from model.config import Importer
from model.platform import arch_sync_dma_for_cpu, arch_sync_dma_for_device, cpu_store, cpu_view
from model.state import DmabufState


def swiotlb_bounce_to_device(st: DmabufState, eff: Effect, imp: Importer) -> None:
    """memcpy original -> bounce slot: the slot gets what a CPU load of the original sees."""
    for ln in st.lines:
        eff.set(st.bounce_latest[imp.name][ln], cpu_view(st, eff, ln))


def swiotlb_bounce_to_cpu(st: DmabufState, eff: Effect, imp: Importer) -> None:
    """memcpy bounce slot -> original, a CPU store through the kernel mapping."""
    for ln in st.lines:
        cpu_store(st, eff, ln, eff.get(st.bounce_latest[imp.name][ln]))


def dma_map(st: DmabufState, eff: Effect, imp: Importer, direction: str, skip_cpu_sync: bool) -> None:
    """dma_map_sgtable(dev, sgt, dir, attrs): bounce if the device cannot reach the pages,
    else clean for a non-coherent device unless DMA_ATTR_SKIP_CPU_SYNC (§3.2). The
    device owns the buffer from here on."""
    if st.cfg.bounces(imp):
        swiotlb_bounce_to_device(st, eff, imp)
    elif not imp.coherent and not skip_cpu_sync:
        arch_sync_dma_for_device(st, eff, direction)
    eff.set(st.cpu_owned[imp.name], FALSE)


def dma_sync_for_cpu(st: DmabufState, eff: Effect, imp: Importer, direction: str) -> None:
    """dma_sync_sgtable_for_cpu: arch invalidate for a non-coherent device, then the
    swiotlb copy-back iff FROM_DEVICE or BIDIRECTIONAL (§3.2, §5.2). The CPU owns it now."""
    if st.cfg.bounces(imp):
        if direction in ("DMA_FROM_DEVICE", "DMA_BIDIRECTIONAL"):
            swiotlb_bounce_to_cpu(st, eff, imp)
    elif not imp.coherent:
        arch_sync_dma_for_cpu(st, eff, direction)
    eff.set(st.cpu_owned[imp.name], TRUE)


def dma_sync_for_device(st: DmabufState, eff: Effect, imp: Importer, direction: str) -> None:
    """dma_sync_sgtable_for_device: swiotlb copy original -> bounce always, else arch
    clean for a non-coherent device (§3.2, §5.2). The device owns it again."""
    if st.cfg.bounces(imp):
        swiotlb_bounce_to_device(st, eff, imp)
    elif not imp.coherent:
        arch_sync_dma_for_device(st, eff, direction)
    eff.set(st.cpu_owned[imp.name], FALSE)


def dma_unmap(st: DmabufState, eff: Effect, imp: Importer, direction: str, skip_cpu_sync: bool) -> None:
    """dma_unmap_sgtable: sync for the CPU unless DMA_ATTR_SKIP_CPU_SYNC (which leaves
    device writes in a bounce slot behind, §5.2), then free the bounce slot."""
    if not skip_cpu_sync:
        dma_sync_for_cpu(st, eff, imp, direction)
    for slot in st.bounce_latest.get(imp.name, []):
        eff.set(slot, FALSE)
    eff.set(st.cpu_owned[imp.name], FALSE)
