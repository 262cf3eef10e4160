"""Exporter kinds: what each exporter's `dma_buf_ops` do, as data, per kernel version.

The axis the seed thread's bug lives on: some exporters map with cache maintenance for the
importer, some with `DMA_ATTR_SKIP_CPU_SYNC`; some keep the attachment's mapping until
detach (the core's `cache_sgt_mapping`, DRM PRIME's own attachment, videobuf2's exporters);
some sync every mapped attachment on CPU access, some their own device, some nothing.

A *family* (`heap`, `drm-prime`, `udmabuf`, ...) names a driver; the kernel version picks
its *state* (`udmabuf@1ffe09590121`), one frozen `ExporterKind`. A configuration may name
a state directly, and override any field in its `[exporter]` table, so a buggy or proposed
implementation is written as data, not code. docs/semantics.md cites each state.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from dmabuf_mc.model.kernels import (
    CACHE_SGT_MAPPING,
    CACHE_SGT_MAPPING_REMOVED,
    HEAPS,
    HEAPS_SKIP_UNMAPPED,
    UDMABUF,
    UDMABUF_CPU_ACCESS,
    UDMABUF_DMA_MASK,
    UDMABUF_SKIP_CPU_SYNC,
    VB2_DMA_SG_CPU_ACCESS,
    VB2_DMA_SG_ORIG_NENTS,
    Change,
    Version,
)


class CpuAccess(StrEnum):
    """Whose mappings begin/end_cpu_access sync."""

    MAPPED_ATTACHMENTS = "mapped-attachments"
    ALL_ATTACHMENTS = "all-attachments"
    EXPORTER_DEVICE = "exporter-device"
    MISC_DEVICE = "misc-device"
    NOTHING = "nothing"


CPU_ACCESS_DOC = {
    CpuAccess.MAPPED_ATTACHMENTS: "dma_sync_sgtable_for_cpu/_for_device on each attachment that is mapped "
    "(heaps since 4c68e499bb9d, v5.11)",
    CpuAccess.ALL_ATTACHMENTS: "the same on every attachment, mapped or not (heaps before 4c68e499bb9d): "
    "an unmapped attachment's table is synced",
    CpuAccess.EXPORTER_DEVICE: "sync the exporter's own device mapping (vb2-dma-sg: buf->dev)",
    CpuAccess.MISC_DEVICE: "sync a mapping to a device no importer uses (udmabuf's misc device, 64-bit "
    "mask, dev_is_dma_coherent() false on arm/arm64); the first begin creates it with a for-device map",
    CpuAccess.NOTHING: "no callbacks, or callbacks that return 0",
}


class BeginSync(StrEnum):
    FOR_CPU = "for-cpu"
    """begin syncs for the CPU and end for the device (1ffe09590121)."""
    FOR_DEVICE = "for-device"
    """begin syncs for the device and end for the CPU: swapped, as 284562e1f348 had it."""


class MappingCache(StrEnum):
    """Who keeps an attachment's mapping between dma_buf_map_attachment calls."""

    NONE = "none"
    """Every map and unmap reaches the DMA API."""
    CORE = "cache_sgt_mapping"
    """The dma-buf core keeps the first mapping until detach; another direction is -EBUSY
    unless the kept one is DMA_BIDIRECTIONAL; unmap is a no-op (v5.3-v6.15)."""
    PRIME_ATTACHMENT = "drm_prime_attachment"
    """drm_gem_map_dma_buf before v5.3 keeps it in struct drm_prime_attachment: any other
    direction is -EBUSY; drm_gem_map_detach unmaps."""
    EXPORTER = "exporter-remap"
    """videobuf2's exporters keep it in the attachment: the same direction returns it with no
    maintenance, another unmaps and remaps; unmap does nothing; detach unmaps."""


class CoherentFlag(StrEnum):
    """What P1's dma_coherent flag would be for an exporter's buffers."""

    EXPORTER_DEVICE = "exporter-device"
    ALWAYS = "always"
    NEVER = "never"


AS_PASSED = "as-passed"
"""begin/end pass on the direction begin/end_cpu_access got (not a fixed one)."""
DIRECTIONS = (AS_PASSED, "DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE")


@dataclass(frozen=True)
class ExporterKind:
    name: str
    doc: str
    sources: tuple[str, ...]
    """Allocation sources this exporter's buffers come from (model.config.SOURCES)."""
    map_cpu_sync: bool
    """map/unmap_dma_buf do cache maintenance; false: DMA_ATTR_SKIP_CPU_SYNC on both (dma-attributes.rst)."""
    mapping_cache: MappingCache
    cpu_access: CpuAccess
    begin_sync: BeginSync
    cpu_access_direction: str
    """AS_PASSED, or the direction begin/end always pass (vb2-dma-sg passes buf->dma_dir)."""
    sync_nents: bool
    """begin/end pass sgt->nents, the mapped count, instead of orig_nents: behind an IOMMU
    that merged the entries, only the first line is synced (kernel/dma/direct.h, a704a3c503ae)."""
    coherent_flag: CoherentFlag


KIND_FIELDS: dict[str, Any] = {
    "map_cpu_sync": bool,
    "mapping_cache": tuple(MappingCache),
    "cpu_access": tuple(CpuAccess),
    "begin_sync": tuple(BeginSync),
    "cpu_access_direction": DIRECTIONS,
    "sync_nents": bool,
    "coherent_flag": tuple(CoherentFlag),
}
"""The fields a configuration may override, with their type or allowed values."""
assert set(KIND_FIELDS) == {f.name for f in fields(ExporterKind)} - {"name", "doc", "sources"}


def _kind(name: str, doc: str, sources: tuple[str, ...], **overrides: Any) -> ExporterKind:
    """A kind that differs from the mainline heap only where it says so."""
    base = ExporterKind(name, doc, sources, map_cpu_sync=True, mapping_cache=MappingCache.NONE,
                        cpu_access=CpuAccess.MAPPED_ATTACHMENTS, begin_sync=BeginSync.FOR_CPU,
                        cpu_access_direction=AS_PASSED, sync_nents=False, coherent_flag=CoherentFlag.NEVER)
    return replace(base, **overrides)


HEAP_SOURCES = ("system-heap", "cma-heap")
DRIVER_SOURCES = ("driver-cached", "driver-uncached", "dma-alloc-coherent", "dma-alloc-wc")
PRIME = dict(map_cpu_sync=False, cpu_access=CpuAccess.NOTHING, coherent_flag=CoherentFlag.EXPORTER_DEVICE)
UDMABUF_MISC = dict(cpu_access=CpuAccess.MISC_DEVICE, sync_nents=True)
VB2_DMA_SG: dict[str, Any] = dict(sources=("driver-cached",), mapping_cache=MappingCache.EXPORTER,
                                  cpu_access=CpuAccess.NOTHING, coherent_flag=CoherentFlag.EXPORTER_DEVICE)
VB2_DMA_SG_BEGIN_END = dict(cpu_access=CpuAccess.EXPORTER_DEVICE, cpu_access_direction="DMA_FROM_DEVICE")

STATES: dict[str, ExporterKind] = {
    k.name: k
    for k in (
        _kind("heap@4c68e499bb9d", "system/CMA dma-buf heap: map with dma_map_sgtable(dev, dir, 0); begin/end "
              "sync each mapped attachment, skipping unmapped ones (heaps/system_heap.c, v5.11+)", HEAP_SOURCES),
        _kind("heap@efa04fefebbd", "system/CMA heap v5.6-v5.10 (heap-helpers.c): dma_map_sg/dma_unmap_sg "
              "with maintenance on every map and unmap (heap_helper_ops has no cache_sgt_mapping); "
              "begin/end sync every attachment's table, mapped or not, until 4c68e499bb9d", HEAP_SOURCES,
              cpu_access=CpuAccess.ALL_ATTACHMENTS),
        _kind("heap-uncached", "the vendor 'system-uncached' heap (P12, not mainline): write-combined CPU "
              "mappings, DMA_ATTR_SKIP_CPU_SYNC on map/unmap, no per-attachment syncs, pages "
              "flushed once at allocation", ("system-heap-uncached", "cma-heap-uncached"),
              map_cpu_sync=False, cpu_access=CpuAccess.NOTHING),
        _kind("drm-prime@drm_prime_attachment", "DRM PRIME helpers before v5.3: drm_gem_map_dma_buf maps "
              "with DMA_ATTR_SKIP_CPU_SYNC and keeps the table in drm_prime_attachment until "
              "detach; no begin/end_cpu_access (drm_prime.c)", DRIVER_SOURCES,
              mapping_cache=MappingCache.PRIME_ATTACHMENT, **PRIME),
        _kind("drm-prime@f13e143e7444", "DRM PRIME helpers v5.3-v6.15: drm_gem_map_dma_buf maps with "
              "DMA_ATTR_SKIP_CPU_SYNC; the core keeps the mapping (cache_sgt_mapping); no "
              "begin/end_cpu_access (drm_prime.c)", DRIVER_SOURCES, mapping_cache=MappingCache.CORE, **PRIME),
        _kind("drm-prime@b72f66f22c0e", "DRM PRIME helpers since v6.16: every map and unmap reaches "
              "drm_gem_map_dma_buf / drm_gem_unmap_dma_buf, with DMA_ATTR_SKIP_CPU_SYNC", DRIVER_SOURCES, **PRIME),
        _kind("vb2-dma-contig", "videobuf2-dma-contig exporter since v5.4: vb2_dc_dmabuf_ops_map maps with "
              "DMA_ATTR_SKIP_CPU_SYNC and keeps the mapping per direction; begin/end are no-ops "
              "returning 0 (videobuf2-dma-contig.c; before v5.4 it mapped with maintenance)", DRIVER_SOURCES,
              map_cpu_sync=False,
              mapping_cache=MappingCache.EXPORTER, cpu_access=CpuAccess.NOTHING,
              coherent_flag=CoherentFlag.EXPORTER_DEVICE),
        _kind("vb2-dma-sg@before-d4db5eb57cab", "videobuf2-dma-sg exporter before v5.9: "
              "vb2_dma_sg_dmabuf_ops_map maps with maintenance and keeps the mapping per direction until "
              "detach; no begin/end_cpu_access", **VB2_DMA_SG),
        _kind("vb2-dma-sg@d4db5eb57cab", "videobuf2-dma-sg exporter v5.9-v6.15: maps as before; begin/end "
              "sync the queue's own device (buf->dev) with the queue's direction over sgt->nents, which "
              "an IOMMU merge makes smaller than orig_nents; the direction is a capture queue's",
              **(VB2_DMA_SG | VB2_DMA_SG_BEGIN_END), sync_nents=True),
        _kind("vb2-dma-sg@a704a3c503ae", "videobuf2-dma-sg exporter since v6.16: as v5.9-v6.15, but begin/end "
              "sync orig_nents (dma_sync_sgtable_for_*)", **(VB2_DMA_SG | VB2_DMA_SG_BEGIN_END)),
        _kind("vb2-vmalloc", "videobuf2-vmalloc exporter: vmalloc pages; vb2_vmalloc_dmabuf_ops_map maps "
              "with maintenance and keeps the mapping per direction until detach; no "
              "begin/end_cpu_access; P1 R1.5 flags it coherent", ("driver-cached",),
              mapping_cache=MappingCache.EXPORTER, cpu_access=CpuAccess.NOTHING, coherent_flag=CoherentFlag.ALWAYS),
        _kind("udmabuf@fbb0de795078", "udmabuf as merged in v4.20: maps with cache maintenance, no "
              "CPU-access callbacks (v4.20-v5.5)", ("memfd",), cpu_access=CpuAccess.NOTHING),
        _kind("udmabuf@284562e1f348", "udmabuf with 284562e1f348's begin/end: begin synced for the "
              "device and end for the CPU; merged together with its fix 1ffe09590121 in v5.6, so "
              "never in a release", ("memfd",), begin_sync=BeginSync.FOR_DEVICE, **UDMABUF_MISC),
        _kind("udmabuf@before-9e9fa6a9198b", "udmabuf v5.6 until 9e9fa6a9198b (v6.0): maps for the importer "
              "with maintenance, cache_sgt_mapping; the misc device has no DMA mask, so begin_cpu_udmabuf's "
              "map of it fails and begin/end do no cache maintenance (they return an error)", ("memfd",),
              mapping_cache=MappingCache.CORE, cpu_access=CpuAccess.NOTHING),
        _kind("udmabuf@1ffe09590121", "udmabuf v6.0 (9e9fa6a9198b gave the misc device its DMA mask) to "
              "v6.15: maps for the importer with maintenance, cache_sgt_mapping; begin/end sync the "
              "udmabuf misc device", ("memfd",),
              mapping_cache=MappingCache.CORE, **UDMABUF_MISC),
        _kind("udmabuf@b72f66f22c0e", "udmabuf v6.16-v7.1: the core keeps no mapping, so every importer "
              "map and unmap does maintenance; begin/end sync the misc device", ("memfd",), **UDMABUF_MISC),
        _kind("udmabuf@504e2b4ab97a", "udmabuf since 504e2b4ab97a (v7.2): every map and unmap, the misc "
              "device's included, passes DMA_ATTR_SKIP_CPU_SYNC, so the first begin_cpu_udmabuf does "
              "no maintenance (a follow-up fix was posted, not merged)", ("memfd",), map_cpu_sync=False,
              **UDMABUF_MISC),
    )
}
"""Every exporter state, by name."""

ALIASES = {
    "heap-sync-unmapped": "heap@efa04fefebbd",
    "udmabuf-v4.20": "udmabuf@fbb0de795078",
    "udmabuf-swapped": "udmabuf@284562e1f348",
}
"""Older names of states, still accepted in files."""


@dataclass(frozen=True)
class Family:
    """A driver whose callbacks changed over time: its states, each from a change on."""

    name: str
    since: Change | None
    """The change that added the driver, if the tables start after it."""
    states: tuple[tuple[Change | None, str], ...]
    """(change, state) in order: the last change a version has picks the state."""

    def state(self, v: Version) -> str:
        chosen = ""
        for change, name in self.states:
            if change is None or change.applies(v):
                chosen = name
        return chosen


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("heap", HEAPS, ((None, "heap@efa04fefebbd"), (HEAPS_SKIP_UNMAPPED, "heap@4c68e499bb9d"))),
        Family("drm-prime", None, ((None, "drm-prime@drm_prime_attachment"),
                                      (CACHE_SGT_MAPPING, "drm-prime@f13e143e7444"),
                                      (CACHE_SGT_MAPPING_REMOVED, "drm-prime@b72f66f22c0e"))),
        Family("udmabuf", UDMABUF, ((None, "udmabuf@fbb0de795078"),
                                    (UDMABUF_CPU_ACCESS, "udmabuf@before-9e9fa6a9198b"),
                                    (UDMABUF_DMA_MASK, "udmabuf@1ffe09590121"),
                                    (CACHE_SGT_MAPPING_REMOVED, "udmabuf@b72f66f22c0e"),
                                    (UDMABUF_SKIP_CPU_SYNC, "udmabuf@504e2b4ab97a"))),
        Family("vb2-dma-sg", None, ((None, "vb2-dma-sg@before-d4db5eb57cab"),
                                    (VB2_DMA_SG_CPU_ACCESS, "vb2-dma-sg@d4db5eb57cab"),
                                    (VB2_DMA_SG_ORIG_NENTS, "vb2-dma-sg@a704a3c503ae"))),
    )
}
"""Families whose state the kernel version picks; every other kind is one state."""

KIND_NAMES: tuple[str, ...] = (*FAMILIES, *STATES, *ALIASES)
"""Every name `[exporter] kind` accepts."""


class KindUnavailable(ValueError):
    """The family did not exist in the configured kernel."""


def exporter_kind(name: str, version: Version) -> ExporterKind:
    """The exporter state `name` means under kernel `version`: a family's state for that
    version, or a named state as it is."""
    if name in FAMILIES:
        family = FAMILIES[name]
        if family.since is not None and not family.since.applies(version):
            raise KindUnavailable(f"a kernel with {name} (since v{family.since.mainline}), got v{version}")
        return STATES[family.state(version)]
    return STATES[ALIASES.get(name, name)]


def family_of(kind: ExporterKind) -> str:
    """The family or single-state name a kind belongs to (`udmabuf@1ffe09590121` -> `udmabuf`)."""
    return kind.name.split("@")[0]
