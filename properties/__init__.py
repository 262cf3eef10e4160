"""The named properties, as invariants over the model's state; which are checked by
default (every one but OPT_IN), and the group names that stand for several."""

from __future__ import annotations

from dmabuf_mc.checker.ir import TRUE, Const, and_, implies, ne, not_, or_
from dmabuf_mc.checker.ts import Property
from dmabuf_mc.model import misuse
from dmabuf_mc.model.state import DIRECTION, DmabufState

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
    "dma-api-sync-live": "syncs and unmaps are made only on live mappings (dma-debug check_sync, "
    "check_unmap: \"memory it has not allocated\")",
    "dma-api-direction": "a sync is made in the direction its mapping was made with, or on a "
    "DMA_BIDIRECTIONAL mapping; an unmap in exactly that direction (dma-debug check_sync, check_unmap)",
    "dma-api-whole-mapping": "a sync covers the whole mapping: orig_nents entries, not the nents "
    "of a merged IOMMU mapping (dma-debug check_sync: \"different entry count\")",
    "dma-api-no-overlap": "no map finds the first cache line of its pages held by another live "
    "mapping that is not DMA_TO_DEVICE, when this kernel's dma-debug reports it (add_dma_entry: "
    "\"cacheline tracking EEXIST, overlapping mappings aren't supported\")",
    "no-refusal": "every dma_buf_attach and dma_buf_map_attachment a client makes succeeds; "
    "a violation is reported as REFUSED: the policy rejects the configuration",
}
REFUSAL = "no-refusal"
OPT_IN = ("dma-api-ownership", "dma-api-no-overlap")
"""Checked only when named: strict DMA-API ownership is no dma-buf rule (several devices and
the CPU may access a buffer at once), and dma-debug's overlap check fires on every buffer
two importers map for writing at once, which is what dma-buf is for (docs/semantics.md)."""
GROUPS: dict[str, tuple[str, ...]] = {
    "dma-api-rules": ("dma-api-sync-live", "dma-api-direction", "dma-api-whole-mapping"),
    "dma-debug": ("dma-api-sync-live", "dma-api-direction", "dma-api-whole-mapping", "dma-api-no-overlap"),
}
"""Names that stand for several properties: `dma-api-rules` is what that one property
checked before it was split; `dma-debug` adds the overlap check, all CONFIG_DMA_API_DEBUG
reports of the calls the model makes."""
DEFAULT = tuple(p for p in DOCS if p not in OPT_IN)


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
    live = [ne(d, Const(DIRECTION.code("DMA_NONE"))) for d in misuse.mappings(st, lambda v: v.ref).values()]
    two_mappings = or_(*(and_(a, b) for i, a in enumerate(live) for b in live[i + 1:]))
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
        "dma-api-sync-live": (st.obs_sync_dead.eq(False), any_mapping),
        "dma-api-direction": (st.obs_sync_direction.eq(False), any_mapping),
        "dma-api-whole-mapping": (st.obs_sync_partial.eq(False), any_mapping),
        "dma-api-no-overlap": (st.obs_overlap.eq(False), two_mappings),
        REFUSAL: (st.obs_refused.eq(False), TRUE),
    }
    return tuple(Property(name, DOCS[name], *holds[name], refusal=name == REFUSAL, default=name in DEFAULT)
                 for name in DOCS)
