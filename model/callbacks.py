"""The exporter's `dma_buf_ops`, one function per callback, driven by the exporter state
(`model.exporters`): what `map_dma_buf`, `unmap_dma_buf`, `detach`, `begin_cpu_access` and
`end_cpu_access` do to caches, mappings and bounce slots (docs/semantics.md).

Each function adds its effects to the calling action's `Effect`; the dma-buf core's part
(guards, the core's own mapping cache, refusals) is `model.dmabuf`.
"""

from __future__ import annotations

from dmabuf_mc.checker.ir import FALSE, TRUE, Const, Expr, and_, not_
from dmabuf_mc.checker.ts import Effect
from dmabuf_mc.model import misuse
from dmabuf_mc.model.dma_api import (
    DmaDevice,
    dma_map,
    dma_sync_for_cpu,
    dma_sync_for_device,
    dma_unmap,
    exporter_device,
    importer_device,
    misc_device,
)
from dmabuf_mc.model.exporters import AS_PASSED, BeginSync, CpuAccess, MappingCache
from dmabuf_mc.model.policy import Policy
from dmabuf_mc.model.state import DIRECTION, DmabufState

ALL_DIRECTIONS = ("DMA_FROM_DEVICE", "DMA_TO_DEVICE", "DMA_BIDIRECTIONAL")


def skip_cpu_sync(st: DmabufState, policy: Policy) -> bool:
    """Whether map/unmap_dma_buf pass DMA_ATTR_SKIP_CPU_SYNC, under the policy's map rule."""
    if policy.is_("map", "skip-cpu-sync", "cpu-sync"):
        return policy.is_("map", "skip-cpu-sync")
    return not st.cfg.exporter.kind.map_cpu_sync


def unmap_kept(st: DmabufState, policy: Policy, eff: Effect, d: str) -> None:
    """dma_unmap_sgtable of the mapping kept for `d` (by the core or the exporter), in the
    direction it was made with; nothing is kept afterwards."""
    dev = importer_device(st, st.importer(d))
    for direction in ALL_DIRECTIONS:
        with eff.when(eff.is_(st.sgt_dir[d], direction)):
            dma_unmap(st, eff, dev, direction, skip_cpu_sync(st, policy))
    eff.set(st.sgt_dir[d], "DMA_NONE")


def map_dma_buf(st: DmabufState, policy: Policy, eff: Effect, d: str, direction: str) -> Expr:
    """The exporter's map_dma_buf for `d`; returns when it fails with -EBUSY. Without a kept
    mapping (or under the core's cache_sgt_mapping, which calls it once) it maps; DRM PRIME
    before v5.3 returns its kept table for the same direction and -EBUSY for another;
    videobuf2's exporters return the kept table for the same direction and otherwise unmap
    it and map again (vb2_*_dmabuf_ops_map)."""
    dev = importer_device(st, st.importer(d))
    skip = skip_cpu_sync(st, policy)
    cache = st.cfg.exporter.kind.mapping_cache
    if cache in (MappingCache.NONE, MappingCache.CORE):
        dma_map(st, eff, dev, direction, skip)
        return FALSE
    kept = st.sgt_dir[d]
    same = kept.eq(direction)
    if cache is MappingCache.PRIME_ATTACHMENT:
        busy = and_(kept.ne("DMA_NONE"), not_(same))
        with eff.when(kept.eq("DMA_NONE")):
            dma_map(st, eff, dev, direction, skip)
            eff.set(kept, direction)
        return busy
    with eff.when(not_(same)):
        with eff.when(kept.ne("DMA_NONE")):
            unmap_kept(st, policy, eff, d)
        dma_map(st, eff, dev, direction, skip)
        eff.set(kept, direction)
    return FALSE


def unmap_dma_buf(st: DmabufState, policy: Policy, eff: Effect, d: str, direction: str) -> None:
    """The exporter's unmap_dma_buf: dma_unmap_sgtable, unless the exporter keeps the mapping
    until detach (DRM PRIME before v5.3, videobuf2: "nothing to be done")."""
    if st.cfg.exporter.kind.mapping_cache is MappingCache.NONE:
        dma_unmap(st, eff, importer_device(st, st.importer(d)), direction, skip_cpu_sync(st, policy))


def detach(st: DmabufState, policy: Policy, eff: Effect, d: str) -> None:
    """The exporter's detach: a mapping it keeps is unmapped now (drm_gem_map_detach,
    vb2_*_dmabuf_ops_detach)."""
    if st.cfg.exporter.kind.mapping_cache in (MappingCache.PRIME_ATTACHMENT, MappingCache.EXPORTER):
        with eff.when(st.sgt_dir[d].ne("DMA_NONE")):
            unmap_kept(st, policy, eff, d)


def _sync(st: DmabufState, eff: Effect, dev: DmaDevice, direction: str, for_cpu: bool, live: Expr) -> None:
    """One dma_sync_sgtable_for_cpu/_for_device the exporter makes when `live`; passing
    sgt->nents over a merged IOMMU mapping syncs only the first line (kernel/dma/direct.h),
    a DMA-API error."""
    partial = st.cfg.exporter.kind.sync_nents and dev.iommu and len(st.lines) > 1
    with eff.when(live):
        (dma_sync_for_cpu if for_cpu else dma_sync_for_device)(st, eff, dev, direction,
                                                               range(1) if partial else st.lines)
    if partial:
        misuse.partial_sync(st, eff, live)


def _attachment_syncs(st: DmabufState, eff: Effect, access: CpuAccess, direction: str, for_cpu: bool) -> None:
    """The heaps' loop over buffer->attachments: every attachment that exists, or only the
    mapped ones since 4c68e499bb9d; each with its own device and table. Syncing an
    attachment's table that is not mapped is a DMA-API error, and reaches the pages only
    through iommu-dma (sg_phys) or a dma_address a former map left (dma-direct syncs
    dma_to_phys(sg_dma_address), 0 for a table never mapped: 449fa54d6815, 4c68e499bb9d)."""
    for imp in st.cfg.importers:
        d = imp.name
        table = st.sgt_dir.get(d, st.mapped[d])
        mapped = table.ne("DMA_NONE")
        dev = importer_device(st, imp)
        attached = st.attached[d].eq(True)
        # An unmapped table has no bounce slot: syncing it reaches only the pages.
        live = mapped if access is CpuAccess.MAPPED_ATTACHMENTS or dev.bounces else attached
        if d in st.ever_mapped and not dev.bounces:
            live = and_(live, st.ever_mapped[d].eq(True))
        _sync(st, eff, dev, direction, for_cpu, live)
        misuse.sync_direction(st, eff, table.ref, direction, mapped)
        if access is CpuAccess.ALL_ATTACHMENTS:
            misuse.dead_mapping(st, eff, and_(attached, not_(mapped)))


def _cpu_access_syncs(st: DmabufState, eff: Effect, access: CpuAccess, direction: str, for_cpu: bool) -> None:
    """The syncs begin/end_cpu_access make, with the DMA-API errors they commit."""
    if access in (CpuAccess.MAPPED_ATTACHMENTS, CpuAccess.ALL_ATTACHMENTS):
        _attachment_syncs(st, eff, access, direction, for_cpu)
    elif access is CpuAccess.EXPORTER_DEVICE:
        fixed = st.cfg.exporter.kind.cpu_access_direction
        mapped_dir = Const(DIRECTION.code("DMA_BIDIRECTIONAL" if fixed == AS_PASSED else fixed))
        _sync(st, eff, exporter_device(st), direction, for_cpu, TRUE)
        misuse.sync_direction(st, eff, mapped_dir, direction)
    elif access is CpuAccess.MISC_DEVICE:
        assert st.misc_dir is not None
        mapped = st.misc_dir.ne("DMA_NONE")
        _sync(st, eff, misc_device(st), direction, for_cpu, mapped)
        misuse.sync_direction(st, eff, st.misc_dir.ref, direction, mapped)


def cpu_access_rule(st: DmabufState, policy: Policy) -> tuple[CpuAccess, BeginSync]:
    """Whose mappings begin/end sync, and whether begin syncs for the CPU or (swapped)
    for the device, under the policy's cpu-access rule."""
    kind = st.cfg.exporter.kind
    if policy.is_("cpu-access", "mapped-attachments"):
        return CpuAccess.MAPPED_ATTACHMENTS, BeginSync.FOR_CPU
    if policy.is_("cpu-access", "nothing"):
        return CpuAccess.NOTHING, kind.begin_sync
    if policy.is_("cpu-access", "swapped"):
        access = kind.cpu_access if kind.cpu_access is not CpuAccess.NOTHING else CpuAccess.MAPPED_ATTACHMENTS
        return access, BeginSync.FOR_DEVICE
    return kind.cpu_access, kind.begin_sync


def callback_direction(st: DmabufState, direction: str) -> str:
    """The direction begin/end pass to the DMA API: the one they got, or the exporter's own."""
    fixed = st.cfg.exporter.kind.cpu_access_direction
    return direction if fixed == AS_PASSED else fixed


def begin_cpu_access(st: DmabufState, policy: Policy, eff: Effect, direction: str) -> None:
    """The exporter's begin_cpu_access: prepare the CPU's view. udmabuf's first begin
    creates its misc-device mapping (begin_cpu_udmabuf), a for-device sync unless it maps
    with DMA_ATTR_SKIP_CPU_SYNC as since 504e2b4ab97a."""
    access, begin_sync = cpu_access_rule(st, policy)
    passed = callback_direction(st, direction)
    if access is CpuAccess.MISC_DEVICE:
        misc = st.misc_dir
        assert misc is not None
        with eff.when(misc.eq("DMA_NONE")):
            dma_map(st, eff, misc_device(st), passed, skip_cpu_sync(st, policy))
            eff.set(misc, passed)
    _cpu_access_syncs(st, eff, access, passed, for_cpu=begin_sync is BeginSync.FOR_CPU)


def end_cpu_access(st: DmabufState, policy: Policy, eff: Effect, direction: str) -> None:
    """The exporter's end_cpu_access: hand the buffer back to the devices."""
    access, begin_sync = cpu_access_rule(st, policy)
    _cpu_access_syncs(st, eff, access, callback_direction(st, direction), for_cpu=begin_sync is not BeginSync.FOR_CPU)
