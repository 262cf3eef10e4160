"""The named properties, as invariants over the model's state."""

from __future__ import annotations

from dmabuf_mc.checker.ir import TRUE, and_, implies, not_, or_
from dmabuf_mc.checker.ts import Property
from dmabuf_mc.model.state import DmabufState

DOCS: dict[str, str] = {
    "device-reads-latest": "no device DMA read returns data older than the latest write "
    "(no non-snooping importer reads around dirty CPU lines)",
    "cpu-reads-latest": "no CPU read returns data older than the latest write "
    "(no stale line after a device write, no missing bounce copy-back)",
    "no-lost-writes": "the latest value of every line survives in some copy "
    "(no eviction over a device write, no invalidate of a dirty line, no stale copy-back)",
    "dma-within-mapping": "a device touches the buffer only through a live mapping "
    "in its direction (no IOMMU fault, no DMA after unmap, detach or free)",
    "dma-addressable": "a device without IOMMU reaches memory above its DMA mask only "
    "through a swiotlb bounce buffer",
    "contiguous-when-required": "a device that needs contiguous memory and has no IOMMU "
    "only DMAs to a contiguous buffer",
    "no-use-after-free": "the pages are released only when no attachment, mapping or CPU "
    "mapping remains, and no DMA touches them afterwards",
    "dma-api-ownership": "strict DMA-API mode: the CPU touches the buffer only when it "
    "owns every live mapping, and a device DMAs only when it owns its mapping",
    "dma-api-rules": "cache maintenance, syncs and unmaps are made only on live mappings, with the "
    "direction they were mapped with (or a DMA_BIDIRECTIONAL mapping) and over all of them "
    "(Documentation/core-api/dma-api.rst; what dma-debug checks)",
    "no-refusal": "every dma_buf_attach and dma_buf_map_attachment a client makes succeeds; "
    "a violation is reported as REFUSED: the policy rejects the configuration",
}
REFUSAL = "no-refusal"


def properties(st: DmabufState) -> tuple[Property, ...]:
    """The properties over one configuration's state, in DOCS order."""
    dma = st.obs_dma.eq(True)
    latest_somewhere = []
    for ln in st.lines:
        copies = [and_(st.cache[ln].ne("invalid"), st.cache_latest[ln].eq(True)), st.memory_latest[ln].eq(True)]
        copies += [slots[ln].eq(True) for slots in st.bounce_latest.values()]
        copies += [and_(st.slot_cache[d][ln].ne("invalid"), latest[ln].eq(True))
                   for d, latest in st.slot_cache_latest.items()]
        latest_somewhere.append(or_(*copies))
    released = st.life.eq("released")
    holders = [a.eq(True) for a in st.attached.values()] + [m.ne("DMA_NONE") for m in st.mapped.values()]
    any_mapping = or_(*(m.ne("DMA_NONE") for m in st.mapped.values()))
    holds = {
        "device-reads-latest": (st.obs_device_read.ne("stale"), st.obs_device_read.ne("none")),
        "cpu-reads-latest": (st.obs_cpu_read.ne("stale"), st.obs_cpu_read.ne("none")),
        "no-lost-writes": (and_(*latest_somewhere), TRUE),
        "dma-within-mapping": (st.obs_dma_unmapped.eq(False), or_(dma, st.obs_dma_unmapped.eq(True))),
        "dma-addressable": (st.obs_dma_above_mask.eq(False), dma),
        "contiguous-when-required": (st.obs_dma_noncontiguous.eq(False), dma),
        "no-use-after-free": (
            implies(released, and_(not_(or_(*holders, st.mmap.eq(True))), not_(dma))),
            released,
        ),
        "dma-api-ownership": (st.obs_ownership.eq(False), any_mapping),
        "dma-api-rules": (st.obs_misuse.eq(False), any_mapping),
        REFUSAL: (st.obs_refused.eq(False), TRUE),
    }
    return tuple(Property(name, DOCS[name], *holds[name], refusal=name == REFUSAL) for name in DOCS)
