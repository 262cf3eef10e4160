"""Exporter kinds: what `map_dma_buf` and `begin/end_cpu_access` do, as data.

DOMAIN.md §1.4, §2.4, §7, §9. The axis the seed thread's bug lives on: some exporters
map with cache maintenance for the importer, some with `DMA_ATTR_SKIP_CPU_SYNC`; some
sync every mapped attachment on CPU access, some do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

# What begin/end_cpu_access do.
SYNC_MAPPED_ATTACHMENTS = "mapped-attachments"
SYNC_NOTHING = "nothing"


@dataclass(frozen=True)
class ExporterKind:
    name: str
    doc: str
    map_skip_cpu_sync: bool
    """map/unmap_dma_buf pass DMA_ATTR_SKIP_CPU_SYNC: no cache maintenance for the importer."""
    cpu_access_sync: str
    """SYNC_MAPPED_ATTACHMENTS: begin = dma_sync_sgtable_for_cpu and end = _for_device on
    each mapped attachment's device; SYNC_NOTHING: no callbacks, or no-op callbacks."""


EXPORTER_KINDS: dict[str, ExporterKind] = {
    k.name: k
    for k in (
        ExporterKind(
            "heap",
            "system/CMA dma-buf heap: map with dma_map_sgtable(dev, dir, 0); begin/end sync "
            "each mapped attachment, skipping unmapped ones (heaps/system_heap.c, §2.4, §7)",
            map_skip_cpu_sync=False,
            cpu_access_sync=SYNC_MAPPED_ATTACHMENTS,
        ),
        ExporterKind(
            "drm-prime",
            "DRM PRIME helpers: drm_gem_map_dma_buf maps with DMA_ATTR_SKIP_CPU_SYNC; "
            "no begin/end_cpu_access (drm_prime.c, §1.4, §9)",
            map_skip_cpu_sync=True,
            cpu_access_sync=SYNC_NOTHING,
        ),
        ExporterKind(
            "vb2-dma-contig",
            "videobuf2-dma-contig exporter: map with DMA_ATTR_SKIP_CPU_SYNC, begin/end are "
            "no-ops returning 0 (videobuf2-dma-contig.c, §2.4, §8)",
            map_skip_cpu_sync=True,
            cpu_access_sync=SYNC_NOTHING,
        ),
        ExporterKind(
            "udmabuf-v4.20",
            "udmabuf as merged in v4.20, before 284562e1f348 added begin/end_cpu_access: "
            "maps with cache maintenance, no CPU-access callbacks (§8)",
            map_skip_cpu_sync=False,
            cpu_access_sync=SYNC_NOTHING,
        ),
    )
}
