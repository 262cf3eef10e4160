"""Exporter kinds: what `map_dma_buf` and `begin/end_cpu_access` do, as data.

DOMAIN.md §1.4, §2.4, §7, §8, §9. The axis the seed thread's bug lives on: some exporters
map with cache maintenance for the importer, some with `DMA_ATTR_SKIP_CPU_SYNC`; some
sync every mapped attachment on CPU access, some their own device, some nothing. Every
field can be overridden in a configuration's `[exporter]` table, so a buggy or proposed
implementation is written as data, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

# Whose mapping begin/end_cpu_access sync (CPU_ACCESS values).
SYNC_MAPPED_ATTACHMENTS = "mapped-attachments"
SYNC_ALL_ATTACHMENTS = "all-attachments"
SYNC_EXPORTER_DEVICE = "exporter-device"
SYNC_MISC_DEVICE = "misc-device"
SYNC_NOTHING = "nothing"
CPU_ACCESS = {
    SYNC_MAPPED_ATTACHMENTS: "dma_sync_sgtable_for_cpu/_for_device on each attachment that is mapped "
    "(heaps after 'Skip sync if not mapped', 2020)",
    SYNC_ALL_ATTACHMENTS: "the same on every attachment, mapped or not (heaps before that fix): "
    "an unmapped attachment's table is synced",
    SYNC_EXPORTER_DEVICE: "sync the exporter's own device mapping (vb2-dma-sg: buf->dev)",
    SYNC_MISC_DEVICE: "sync a mapping to a device no importer uses (udmabuf's misc device, 64-bit "
    "mask, dev_is_dma_coherent() false on arm/arm64); the first begin creates it with a for-device map",
    SYNC_NOTHING: "no callbacks, or callbacks that return 0",
}
BEGIN_SYNC = {
    "for-cpu": "begin syncs for the CPU and end for the device (1ffe09590121)",
    "for-device": "begin syncs for the device and end for the CPU: swapped, as udmabuf had it "
    "before 1ffe09590121",
}
# What direction begin/end pass to the DMA API: the one begin/end_cpu_access got, or a fixed one.
AS_PASSED = "as-passed"
COHERENT_FLAG = {
    "exporter-device": "dev_is_dma_coherent() of the exporting device (P1 R1.3, R1.4)",
    "always": "always set (P1 R1.5, vb2-vmalloc)",
    "never": "never set (heaps, udmabuf: P1 leaves them alone)",
}


@dataclass(frozen=True)
class ExporterKind:
    name: str
    doc: str
    sources: tuple[str, ...]
    """Allocation sources this exporter's buffers come from (model.config.SOURCES)."""
    map_cpu_sync: bool
    """map/unmap_dma_buf do cache maintenance; false: DMA_ATTR_SKIP_CPU_SYNC on both (§3.4)."""
    caches_mapping: bool
    """dma_buf_ops.cache_sgt_mapping: the core keeps the first mapping until detach, so later
    map/unmap calls never reach the exporter (§8 udmabuf)."""
    cpu_access: str
    """Whose mapping begin/end_cpu_access sync: a CPU_ACCESS key."""
    begin_sync: str
    """A BEGIN_SYNC key."""
    cpu_access_direction: str
    """AS_PASSED, or the direction begin/end always pass (vb2-dma-sg passes buf->dma_dir)."""
    sync_nents: bool
    """begin/end pass sgt->nents, the mapped count, instead of orig_nents: behind an IOMMU
    that merged the entries, only the first line is synced (§3.2, a704a3c503ae)."""
    coherent_flag: str
    """What P1's dma_coherent flag would be for its buffers: a COHERENT_FLAG key."""


KIND_FIELDS: dict[str, Any] = {
    "map_cpu_sync": bool,
    "caches_mapping": bool,
    "cpu_access": tuple(CPU_ACCESS),
    "begin_sync": tuple(BEGIN_SYNC),
    "cpu_access_direction": (AS_PASSED, "DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE"),
    "sync_nents": bool,
    "coherent_flag": tuple(COHERENT_FLAG),
}
"""The fields a configuration may override, with their type or allowed values."""
assert set(KIND_FIELDS) == {f.name for f in fields(ExporterKind)} - {"name", "doc", "sources"}


def _kind(name: str, doc: str, sources: tuple[str, ...], **overrides: Any) -> ExporterKind:
    """A kind that differs from the mainline heap only where it says so."""
    base = ExporterKind(name, doc, sources, map_cpu_sync=True, caches_mapping=False,
                        cpu_access=SYNC_MAPPED_ATTACHMENTS, begin_sync="for-cpu",
                        cpu_access_direction=AS_PASSED, sync_nents=False, coherent_flag="never")
    return replace(base, **overrides)


HEAP_SOURCES = ("system-heap", "cma-heap")
DRIVER_SOURCES = ("driver-cached", "driver-uncached", "dma-alloc-coherent", "dma-alloc-wc")

EXPORTER_KINDS: dict[str, ExporterKind] = {
    k.name: k
    for k in (
        _kind("heap", "system/CMA dma-buf heap: map with dma_map_sgtable(dev, dir, 0); begin/end sync "
              "each mapped attachment, skipping unmapped ones (heaps/system_heap.c, §2.4, §7)", HEAP_SOURCES),
        _kind("heap-sync-unmapped", "system/CMA heap before 'dma-buf: heaps: Skip sync if not mapped' "
              "(2020): begin/end sync every attachment's table, mapped or not (§2.4)", HEAP_SOURCES,
              cpu_access=SYNC_ALL_ATTACHMENTS),
        _kind("heap-uncached", "the vendor 'system-uncached' heap (P12, §7): write-combined CPU "
              "mappings, DMA_ATTR_SKIP_CPU_SYNC on map/unmap, no per-attachment syncs, pages "
              "cleaned once at allocation", ("system-heap-uncached", "cma-heap-uncached"),
              map_cpu_sync=False, cpu_access=SYNC_NOTHING),
        _kind("drm-prime", "DRM PRIME helpers: drm_gem_map_dma_buf maps with DMA_ATTR_SKIP_CPU_SYNC; "
              "no begin/end_cpu_access (drm_prime.c, §1.4, §9)", DRIVER_SOURCES,
              map_cpu_sync=False, cpu_access=SYNC_NOTHING, coherent_flag="exporter-device"),
        _kind("vb2-dma-contig", "videobuf2-dma-contig exporter: map with DMA_ATTR_SKIP_CPU_SYNC, "
              "begin/end are no-ops returning 0 (videobuf2-dma-contig.c, §2.4, §8)", DRIVER_SOURCES,
              map_cpu_sync=False, cpu_access=SYNC_NOTHING, coherent_flag="exporter-device"),
        _kind("vb2-dma-sg", "videobuf2-dma-sg exporter: map with maintenance; begin/end "
              "(d4db5eb57cab) sync the queue's own device with the queue's direction, over "
              "orig_nents since a704a3c503ae (§2.4); the direction is a capture queue's",
              ("driver-cached",), cpu_access=SYNC_EXPORTER_DEVICE, cpu_access_direction="DMA_FROM_DEVICE",
              coherent_flag="exporter-device"),
        _kind("vb2-vmalloc", "videobuf2-vmalloc exporter: vmalloc pages, map with maintenance, no "
              "begin/end_cpu_access (videobuf2-vmalloc.c); P1 R1.5 flags it coherent",
              ("driver-cached",), cpu_access=SYNC_NOTHING, coherent_flag="always"),
        _kind("udmabuf", "udmabuf after 1ffe09590121 (~v6.1): maps for the importer with "
              "maintenance, cache_sgt_mapping; begin/end sync the udmabuf misc device (§8)", ("memfd",),
              caches_mapping=True, cpu_access=SYNC_MISC_DEVICE, sync_nents=True),
        _kind("udmabuf-swapped", "udmabuf with 284562e1f348's begin/end (2019): begin synced for "
              "the device and end for the CPU, until 1ffe09590121 swapped them back (§8, P9)", ("memfd",),
              cpu_access=SYNC_MISC_DEVICE, begin_sync="for-device", sync_nents=True),
        _kind("udmabuf-v4.20", "udmabuf as merged in v4.20, before 284562e1f348 added "
              "begin/end_cpu_access: maps with cache maintenance, no CPU-access callbacks (§8)", ("memfd",),
              cpu_access=SYNC_NOTHING),
    )
}
