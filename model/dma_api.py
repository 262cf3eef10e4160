"""The streaming DMA API as dma-direct and iommu-dma implement it: maps, unmaps and syncs,
with swiotlb bounce copies (kernel/dma/direct.h, swiotlb.c), IOTLB invalidation (iommu.strict) and ownership
hand-over (dma-api.rst).

A bounced mapping gives the device a second copy (swiotlb.c): the device sees only the bounce
slot, the CPU only the original. The copies go through the CPU cache on both sides (the
slot's kernel address and the original's linear alias are cacheable), so the arch syncs
on the slot decide what a non-coherent device sees. Which copies happen follows
`kernel.swiotlb` (docs/semantics.md): sync_for_cpu and unmap copy back only for
DMA_FROM_DEVICE / DMA_BIDIRECTIONAL; unmap with DMA_ATTR_SKIP_CPU_SYNC copies nothing
back and skips the arch syncs.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmabuf_mc.checker.ir import FALSE, TRUE
from dmabuf_mc.checker.ts import Effect
from dmabuf_mc.model import misuse
from dmabuf_mc.model.config import Importer
from dmabuf_mc.model.kernels import Swiotlb
from dmabuf_mc.model.platform import (
    arch_sync_dma_for_cpu,
    arch_sync_dma_for_device,
    cached_store,
    cached_view,
    invalidate,
)
from dmabuf_mc.model.state import DEVICE_READS, DEVICE_WRITES, DmabufState, Line


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
    arch default (false on arm/arm64, dev_is_dma_coherent); its mask is forced to 64 bits (udmabuf.c)."""
    return DmaDevice("misc", st.cfg.dma_coherent(False), False, False, False)


def _bounce_lines(st: DmabufState, dev: DmaDevice, lines: range) -> list[Line]:
    """The slot lines whose CPU cache lines the arch syncs on the slot reach."""
    return [st.slot_line(dev.name, ln) for ln in lines] if dev.name in st.slot_cache else []


def swiotlb_bounce_to_device(st: DmabufState, eff: Effect, dev: DmaDevice, lines: range) -> None:
    """swiotlb_bounce(DMA_TO_DEVICE): memcpy from the original through its cacheable linear
    alias (phys_to_virt, even for pages the CPU maps uncached) into the slot through its
    cacheable kernel address: the slot's cache line is dirty, its memory unchanged."""
    for ln in lines:
        value = cached_view(eff, st.line(ln))
        if dev.name in st.slot_cache:
            cached_store(eff, st.slot_line(dev.name, ln), value)
        else:
            eff.set(st.bounce_latest[dev.name][ln], value)


def swiotlb_bounce_to_cpu(st: DmabufState, eff: Effect, dev: DmaDevice, lines: range) -> None:
    """swiotlb_bounce(DMA_FROM_DEVICE): memcpy from the slot through its cacheable address
    into the original through its cacheable linear alias: the original's line is dirty."""
    for ln in lines:
        slot = st.bounce_latest[dev.name][ln]
        value = cached_view(eff, st.slot_line(dev.name, ln)) if dev.name in st.slot_cache else eff.get(slot)
        cached_store(eff, st.line(ln), value)


def _map_copies(st: DmabufState, direction: str, skip_cpu_sync: bool) -> bool:
    """Whether swiotlb_tbl_map_single copies the original into the slot (swiotlb.c)."""
    rule = st.cfg.kernel.swiotlb
    if rule in (Swiotlb.AA6F, Swiotlb.REINSTATED):
        return True
    if rule is Swiotlb.DDBD:
        return not skip_cpu_sync
    return not skip_cpu_sync and direction in DEVICE_READS


def _sync_for_device_copies(st: DmabufState, direction: str) -> bool:
    """Whether swiotlb_sync_single_for_device copies the original into the slot."""
    return st.cfg.kernel.swiotlb is Swiotlb.AA6F or direction in DEVICE_READS


def swiotlb_map(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, skip_cpu_sync: bool) -> None:
    """swiotlb_map: take a slot, copy into it as the kernel version does, then clean the slot
    for a non-coherent device unless DMA_ATTR_SKIP_CPU_SYNC (kernel/dma/swiotlb.c)."""
    if _map_copies(st, direction, skip_cpu_sync):
        swiotlb_bounce_to_device(st, eff, dev, st.lines)
    if not dev.coherent and not skip_cpu_sync:
        arch_sync_dma_for_device(st, eff, direction, _bounce_lines(st, dev, st.lines))


def _own(st: DmabufState, eff: Effect, dev: DmaDevice, cpu: bool) -> None:
    if dev.importer:
        eff.set(st.cpu_owned[dev.name], TRUE if cpu else FALSE)


def dma_map(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, skip_cpu_sync: bool) -> None:
    """dma_map_sgtable(dev, sgt, dir, attrs): bounce if the device cannot reach the pages,
    else clean for a non-coherent device unless DMA_ATTR_SKIP_CPU_SYNC (kernel/dma/direct.h). The
    device owns the buffer from here on; an IOMMU translation exists again. dma-debug
    checks the new mapping for overlaps (add_dma_entry)."""
    misuse.overlap(st, eff, dev.name, direction, skip_cpu_sync)
    if dev.bounces:
        swiotlb_map(st, eff, dev, direction, skip_cpu_sync)
    elif not dev.coherent and not skip_cpu_sync:
        arch_sync_dma_for_device(st, eff, direction, [st.line(ln) for ln in st.lines])
    if dev.name in st.iotlb_stale:
        eff.set(st.iotlb_stale[dev.name], FALSE)
    if dev.importer and dev.name in st.ever_mapped:
        eff.set(st.ever_mapped[dev.name], TRUE)
    _own(st, eff, dev, cpu=False)


def dma_sync_for_cpu(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, lines: range) -> None:
    """dma_direct_sync_single_for_cpu over `lines`: arch invalidate of what the device wrote
    (the slot, if bounced) for a non-coherent device, then swiotlb_sync_single_for_cpu's
    copy-back for DMA_FROM_DEVICE/BIDIRECTIONAL (kernel/dma/direct.h). The CPU owns it now."""
    if not dev.coherent:
        targets = _bounce_lines(st, dev, lines) if dev.bounces else [st.line(ln) for ln in lines]
        arch_sync_dma_for_cpu(eff, direction, targets)
    if dev.bounces and direction in DEVICE_WRITES:
        swiotlb_bounce_to_cpu(st, eff, dev, lines)
    _own(st, eff, dev, cpu=True)


def dma_sync_for_device(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, lines: range) -> None:
    """dma_direct_sync_single_for_device over `lines`: swiotlb_sync_single_for_device's copy
    into the slot as the kernel version does, then the arch clean of the slot or the pages
    for a non-coherent device (kernel/dma/direct.h). The device owns it again."""
    if dev.bounces and _sync_for_device_copies(st, direction):
        swiotlb_bounce_to_device(st, eff, dev, lines)
    if not dev.coherent:
        targets = _bounce_lines(st, dev, lines) if dev.bounces else [st.line(ln) for ln in lines]
        arch_sync_dma_for_device(st, eff, direction, targets)
    _own(st, eff, dev, cpu=False)


def dma_unmap(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, skip_cpu_sync: bool) -> None:
    """dma_unmap_sgtable: sync for the CPU unless DMA_ATTR_SKIP_CPU_SYNC (which leaves
    device writes in a bounce slot behind, swiotlb.c), free the bounce slot, and drop the IOMMU
    translation, which a lazy IOMMU keeps in the IOTLB until its flush queue drains (iommu.strict)."""
    if not skip_cpu_sync:
        dma_sync_for_cpu(st, eff, dev, direction, st.lines)
    for slot in st.bounce_latest.get(dev.name, []):
        eff.set(slot, FALSE)
    for ln in st.lines if dev.name in st.slot_cache else ():
        invalidate(eff, st.slot_line(dev.name, ln))
    if dev.name in st.iotlb_stale:
        eff.set(st.iotlb_stale[dev.name], TRUE)
    _own(st, eff, dev, cpu=False)
