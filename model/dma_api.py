"""The streaming DMA API as dma-direct and iommu-dma implement it: maps, unmaps and syncs,
with swiotlb bounce copies (DOMAIN.md §3.2, §5.2), IOTLB invalidation (§6) and ownership
hand-over (§0).

A bounced mapping gives the device a second copy (§5.3): the device sees only the bounce
slot, the CPU only the original. Copies follow `kernel.swiotlb`: after aa6f8dcbab47, map
and sync_for_device copy original -> bounce in every direction; before ddbd89deb7d3 only
for DMA_TO_DEVICE / DMA_BIDIRECTIONAL. sync_for_cpu and unmap copy back only for
DMA_FROM_DEVICE / DMA_BIDIRECTIONAL; unmap with DMA_ATTR_SKIP_CPU_SYNC copies nothing
back. The bounce slot's own CPU cache lines are not modelled: the arch sync on the slot
is assumed to make the CPU's copy visible to the device.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.ir import FALSE, TRUE
from checker.ts import Effect
from model.config import Importer
from model.platform import arch_sync_dma_for_cpu, arch_sync_dma_for_device, cpu_store, cpu_view
from model.state import DEVICE_READS, DEVICE_WRITES, DmabufState


@dataclass(frozen=True)
class DmaDevice:
    """The device a DMA-API call is made for, as the DMA API sees it."""

    name: str
    coherent: bool
    """dev_is_dma_coherent(): no cache maintenance when true."""
    bounces: bool
    """Its mappings of this buffer go through a swiotlb slot."""
    iommu: bool
    importer: bool
    """An importer: its ownership and bounce slot are state variables."""


def importer_device(st: DmabufState, imp: Importer) -> DmaDevice:
    return DmaDevice(imp.name, st.cfg.dma_coherent(imp.coherent), st.cfg.bounces(imp), imp.iommu, True)


def exporter_device(st: DmabufState) -> DmaDevice:
    """The exporter's own device (vb2-dma-sg's buf->dev): 64-bit, never bounced here."""
    ex = st.cfg.exporter
    return DmaDevice("exporter", st.cfg.dma_coherent(ex.coherent), False, ex.iommu, False)


def misc_device(st: DmabufState) -> DmaDevice:
    """udmabuf's misc device: never configured for DMA, so dev_is_dma_coherent() is the
    arch default (false on arm/arm64, §3.1); its mask is forced to 64 bits (§2.4)."""
    return DmaDevice("misc", st.cfg.dma_coherent(False), False, False, False)


def _swiotlb_copies_to_device(st: DmabufState, direction: str) -> bool:
    return st.cfg.kernel.swiotlb == "aa6f8dcbab47" or direction in DEVICE_READS


def swiotlb_bounce_to_device(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str) -> None:
    """memcpy original -> bounce slot (§5.2): the slot gets what a CPU load of the original
    sees. Before ddbd89deb7d3 a DMA_FROM_DEVICE map or sync left the slot as it was."""
    if _swiotlb_copies_to_device(st, direction):
        for ln in st.lines:
            eff.set(st.bounce_latest[dev.name][ln], cpu_view(st, eff, ln))


def swiotlb_bounce_to_cpu(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str) -> None:
    """memcpy bounce slot -> original iff the device may have written (§5.2), a CPU store
    through the kernel mapping of every line of the slot."""
    if direction in DEVICE_WRITES:
        for ln in st.lines:
            cpu_store(st, eff, ln, eff.get(st.bounce_latest[dev.name][ln]))


def _own(st: DmabufState, eff: Effect, dev: DmaDevice, cpu: bool) -> None:
    if dev.importer:
        eff.set(st.cpu_owned[dev.name], TRUE if cpu else FALSE)


def dma_map(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, skip_cpu_sync: bool) -> None:
    """dma_map_sgtable(dev, sgt, dir, attrs): bounce if the device cannot reach the pages,
    else clean for a non-coherent device unless DMA_ATTR_SKIP_CPU_SYNC (§3.2). The
    device owns the buffer from here on; an IOMMU translation exists again."""
    if dev.bounces:
        swiotlb_bounce_to_device(st, eff, dev, direction)
    elif not dev.coherent and not skip_cpu_sync:
        arch_sync_dma_for_device(st, eff, direction, st.lines)
    if dev.name in st.iotlb_stale:
        eff.set(st.iotlb_stale[dev.name], FALSE)
    _own(st, eff, dev, cpu=False)


def dma_sync_for_cpu(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, lines: range) -> None:
    """dma_sync_sgtable_for_cpu over `lines`: arch invalidate for a non-coherent device,
    then the swiotlb copy-back (§3.2, §5.2). The CPU owns the buffer now."""
    if dev.bounces:
        swiotlb_bounce_to_cpu(st, eff, dev, direction)
    elif not dev.coherent:
        arch_sync_dma_for_cpu(st, eff, direction, lines)
    _own(st, eff, dev, cpu=True)


def dma_sync_for_device(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, lines: range) -> None:
    """dma_sync_sgtable_for_device over `lines`: swiotlb copy original -> bounce, else arch
    clean for a non-coherent device (§3.2, §5.2). The device owns it again."""
    if dev.bounces:
        swiotlb_bounce_to_device(st, eff, dev, direction)
    elif not dev.coherent:
        arch_sync_dma_for_device(st, eff, direction, lines)
    _own(st, eff, dev, cpu=False)


def dma_unmap(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, skip_cpu_sync: bool) -> None:
    """dma_unmap_sgtable: sync for the CPU unless DMA_ATTR_SKIP_CPU_SYNC (which leaves
    device writes in a bounce slot behind, §5.2), free the bounce slot, and drop the IOMMU
    translation, which a lazy IOMMU keeps in the IOTLB until its flush queue drains (§6)."""
    if not skip_cpu_sync:
        dma_sync_for_cpu(st, eff, dev, direction, st.lines)
    for slot in st.bounce_latest.get(dev.name, []):
        eff.set(slot, FALSE)
    if dev.name in st.iotlb_stale:
        eff.set(st.iotlb_stale[dev.name], TRUE)
    _own(st, eff, dev, cpu=False)
