"""The dma-buf API: one action per kernel call, guards ("requires") before effects.

Follows the "dma buf device access" and CPU-access DOC sections of drivers/dma-buf/
dma-buf.c. What map and begin/end do for caches is the exporter's
choice (`model.exporters`); the DMA API underneath is `model.dma_api`. A policy may make
attach or map refuse (the call returns an error and nothing is recorded), or bracket
device access (P4, P10).
"""

from __future__ import annotations

from dmabuf_mc.checker.ir import FALSE, TRUE, Expr, and_, not_
from dmabuf_mc.checker.ts import Action, Effect, Obligation, action
from dmabuf_mc.model import callbacks, misuse
from dmabuf_mc.model.callbacks import ALL_DIRECTIONS
from dmabuf_mc.model.dma_api import DmaDevice, dma_sync_for_cpu, dma_sync_for_device, importer_device
from dmabuf_mc.model.exporters import AS_PASSED, MappingCache
from dmabuf_mc.model.fences import blocking_for, no_job
from dmabuf_mc.model.policy import Policy
from dmabuf_mc.model.state import DmabufState

IMPORTER = "importer"
EXPORTER = "exporter"
USERSPACE = "userspace"
KERNEL = "kernel"


def dma_buf_export(st: DmabufState) -> Action:
    """dma_buf_export + dma_buf_fd: the buffer can now be shared (dma_buf_export)."""
    eff = Effect()
    eff.set(st.life, "exported")
    return action("dma_buf_export", (), EXPORTER, st.life.eq("allocated"), eff)


def dma_coherent_flag(st: DmabufState, policy: Policy) -> bool:
    """P1's dmabuf->dma_coherent for this buffer (R1.3-R1.6)."""
    flag = {"exporter-device": st.cfg.dma_coherent(st.cfg.exporter.coherent), "always": True, "never": False}
    set_ = flag[st.cfg.exporter.kind.coherent_flag]
    return set_ and not (policy.is_("attach", "rejects-noncoherent-unless-uncached") and not st.cfg.cached)


def attach_refused(st: DmabufState, policy: Policy, d: str) -> bool:
    """Whether dma_buf_attach(dmabuf, dev) returns -EINVAL under the policy (P1 R1.2)."""
    if policy.is_("attach", "accepts"):
        return False
    return dma_coherent_flag(st, policy) and not st.cfg.dma_coherent(st.importer(d).coherent)


def map_refused(st: DmabufState, policy: Policy, dev: DmaDevice) -> bool:
    """Whether the map fails under DMA_ATTR_REQUIRE_COHERENT (P8 R8.4)."""
    return policy.is_("map", "requires-coherent") and (not dev.coherent or dev.bounces)


def dma_buf_attach(st: DmabufState, policy: Policy, d: str) -> Action:
    """dma_buf_attach(dmabuf, dev), or dma_buf_dynamic_attach for a dynamic importer: the
    exporter records the attachment, unmapped (dma_buf_attach, system_heap_attach), or the
    policy refuses it and nothing is recorded. Before v6.16 a dynamic importer of a static
    exporter leaves attach mapped (`_map_at_attach`)."""
    guard = and_(st.life.eq("exported"), st.attached[d].eq(False), _lifetime_guard(st, d, "attach"))
    eff = Effect()
    at_attach = st.cfg.attach_maps(st.importer(d))
    if attach_refused(st, policy, d) or (at_attach and map_refused(st, policy, importer_device(st, st.importer(d)))):
        eff.set(st.obs_refused, TRUE)
    else:
        eff.set(st.attached[d], TRUE)
        if at_attach:
            _map_at_attach(st, policy, eff, d)
    name = "dma_buf_dynamic_attach" if st.importer(d).dynamic else "dma_buf_attach"
    return action(name, (d,), IMPORTER, guard, eff)


def _map_at_attach(st: DmabufState, policy: Policy, eff: Effect, d: str) -> None:
    """dma_buf_dynamic_attach before de68b17d5d07 (v6.16): when importer-dynamic !=
    exporter-dynamic the core calls the exporter's map_dma_buf with DMA_BIDIRECTIONAL and
    keeps the table in attach->sgt; dma_buf_map_attachment hands it back, dma_buf_detach
    unmaps it."""
    callbacks.map_dma_buf(st, policy, eff, d, "DMA_BIDIRECTIONAL")
    eff.set(st.sgt_dir[d], "DMA_BIDIRECTIONAL")


def _lifetime_guard(st: DmabufState, d: str, call: str) -> Expr:
    """What the importer's driver does with its attachment over its life. A map-once
    importer maps once per attachment. A held one attaches once, maps right after, and at
    its release unmaps, never inside its own driver's CPU bracket, then detaches: the
    mapping lives from attach to release (a display scanning out, a GPU whose CPU_PREP and
    CPU_FINI never overlap its unmap, an RDMA memory region)."""
    imp = st.importer(d)
    once = imp.mapping in ("once", "held")
    held = imp.mapping == "held"
    if call == "map" and once:
        return st.has_mapped[d].eq(False)
    if call == "attach" and held:
        return st.has_mapped[d].eq(False)  # still set after its detach: never attached again
    if call == "unmap" and imp.vmap_user:
        return st.cpu_access[KERNEL].eq("DMA_NONE")
    if call == "detach" and held:
        return and_(st.has_mapped[d].eq(True), st.mapped[d].eq("DMA_NONE"))
    return TRUE


def dma_buf_detach(st: DmabufState, policy: Policy, d: str) -> Action:
    """dma_buf_detach: the attachment goes; its mapping must already be gone (dma_buf_detach). A
    mapping the core kept (cache_sgt_mapping) is unmapped by the core, then the exporter's
    detach runs."""
    guard = and_(st.life.eq("exported"), st.attached[d].eq(True), _lifetime_guard(st, d, "detach"))
    ob = policy.obligation("unmap-before-detach", st.mapped[d].eq("DMA_NONE"))
    eff = Effect()
    eff.set(st.attached[d], FALSE)
    # The core unmaps attach->sgt through the exporter's unmap_dma_buf, which for an exporter
    # keeping its own mapping (DRM PRIME before v5.3, videobuf2) does nothing: its detach unmaps.
    if st.core_keeps(d) and st.cfg.exporter.kind.mapping_cache in (MappingCache.NONE, MappingCache.CORE):
        callbacks.unmap_kept(st, policy, eff, d)
    callbacks.detach(st, policy, eff, d)
    if d in st.has_mapped and st.importer(d).mapping == "once":
        eff.set(st.has_mapped[d], FALSE)
    if d in st.ever_mapped:
        eff.set(st.ever_mapped[d], FALSE)  # the next attach allocates a new table
    return action("dma_buf_detach", (d,), IMPORTER, guard, eff, [ob, *_after_fence(st, policy, d)])


def _after_fence(st: DmabufState, policy: Policy, d: str) -> list[Obligation]:
    """Under fenced jobs: the importer's job no longer uses its mapping (dma-api-howto.rst:
    unmap when the DMA activity is finished)."""
    return [policy.obligation("unmap-after-fence-signalled", no_job(st, d))] if d in st.fence else []


def dma_buf_map_attachment(st: DmabufState, policy: Policy, d: str, direction: str) -> Action:
    """dma_buf_map_attachment -> the exporter's map_dma_buf, which maps the pages for the
    importer's device, with or without cache maintenance (dma_buf_map_attachment). Under cache_sgt_mapping
    only the first call reaches the exporter; later ones get the kept table back, or -EBUSY
    for a direction it does not cover unless it is DMA_BIDIRECTIONAL. A dynamic importer
    before v6.16 always gets the DMA_BIDIRECTIONAL table its attach made."""
    dev = importer_device(st, st.importer(d))
    eff = Effect()
    guard = and_(st.life.eq("exported"), st.attached[d].eq(True), st.mapped[d].eq("DMA_NONE"),
                 _lifetime_guard(st, d, "map"))
    if d in st.has_mapped:
        eff.set(st.has_mapped[d], TRUE)
    if map_refused(st, policy, dev):
        eff.set(st.obs_refused, TRUE)
        return action("dma_buf_map_attachment", (d, direction), IMPORTER, guard, eff)
    if st.core_keeps(d):
        kept = st.sgt_dir[d]
        with eff.when(kept.eq("DMA_NONE")):
            callbacks.map_dma_buf(st, policy, eff, d, direction)
            eff.set(kept, direction)
        busy = and_(kept.ne("DMA_NONE"), kept.ne(direction), kept.ne("DMA_BIDIRECTIONAL"))
    else:
        busy = callbacks.map_dma_buf(st, policy, eff, d, direction)
    with eff.when(busy):
        eff.set(st.obs_refused, TRUE)
    with eff.when(not_(busy)):
        eff.set(st.mapped[d], direction)
    return action("dma_buf_map_attachment", (d, direction), IMPORTER, guard, eff)


def dma_buf_unmap_attachment(st: DmabufState, policy: Policy, d: str, direction: str) -> Action:
    """dma_buf_unmap_attachment -> unmap_dma_buf (dma_buf_unmap_attachment), unless the core keeps the mapping
    until detach (cache_sgt_mapping, or a dynamic importer's attach-time table before v6.16).
    Unmapping with another direction than the map's is a DMA-API error (dma-debug reports it)."""
    eff = Effect()
    if not st.core_keeps(d):
        callbacks.unmap_dma_buf(st, policy, eff, d, direction)
    eff.set(st.mapped[d], "DMA_NONE")
    misuse.unmap_direction(st, eff, st.mapped[d].ref, direction)
    guard = and_(st.life.eq("exported"), st.attached[d].eq(True), st.mapped[d].ne("DMA_NONE"),
                 _lifetime_guard(st, d, "unmap"))
    if d in st.device_access:
        guard = and_(guard, st.device_access[d].eq(False))
    ob = policy.obligation("unmap-in-mapped-direction", st.mapped[d].eq(direction))
    return action("dma_buf_unmap_attachment", (d, direction), IMPORTER, guard, eff, [ob, *_after_fence(st, policy, d)])


def _bracket_params(st: DmabufState, client: str, direction: str) -> tuple[str, ...]:
    """The call's parameters: the client is named when more than one brackets."""
    return (client, direction) if len(st.clients) > 1 else (direction,)


def dma_buf_begin_cpu_access(st: DmabufState, policy: Policy, client: str, direction: str) -> Action:
    """dma_buf_begin_cpu_access(dir) by one client (DMA_BUF_IOCTL_SYNC START from
    userspace): the exporter's begin_cpu_access prepares the CPU's view. The kernel keeps
    no bracket state, so another client's bracket may be open meanwhile; there is a dma_buf
    to call it on only once it is exported (dma_buf_begin_cpu_access). Under fenced jobs the
    core waits for the implicit fences after the callback (__dma_buf_begin_cpu_access), a
    step of its own (model.fences.dma_resv_wait_timeout); userspace is to wait before it
    calls (uapi dma-buf.h struct dma_buf_sync)."""
    bracket = st.cpu_access[client]
    guard = and_(st.life.eq("exported"), bracket.eq("DMA_NONE"))
    obligations = []
    if st.cfg.fenced and st.cfg.fence_wait == "before-callback":
        guard = and_(guard, not_(blocking_for(st, direction)))
    elif client == USERSPACE and st.cfg.fenced:
        obligations.append(policy.obligation("userspace-waits-before-sync-start", not_(blocking_for(st, direction))))
    eff = Effect()
    callbacks.begin_cpu_access(st, policy, eff, direction)
    eff.set(bracket, direction)
    if client in st.fence_wait:
        eff.set(st.fence_wait[client], TRUE)  # model.fences.dma_resv_wait_timeout completes the call
    return action("dma_buf_begin_cpu_access", _bracket_params(st, client, direction), client, guard, eff,
                  obligations)


def dma_buf_end_cpu_access(st: DmabufState, policy: Policy, client: str, direction: str) -> Action:
    """dma_buf_end_cpu_access(dir) by one client (DMA_BUF_IOCTL_SYNC END): the exporter's
    end_cpu_access hands the buffer back to the devices (dma_buf_end_cpu_access)."""
    eff = Effect()
    callbacks.end_cpu_access(st, policy, eff, direction)
    bracket = st.cpu_access[client]
    eff.set(bracket, "DMA_NONE")
    ob = policy.obligation("end-matches-begin", bracket.eq(direction))
    guard = and_(st.life.eq("exported"), bracket.ne("DMA_NONE"), not_(st.waiting(client)))
    return action("dma_buf_end_cpu_access", _bracket_params(st, client, direction), client, guard, eff, [ob])


def dma_buf_device_access(st: DmabufState, d: str, begin: bool) -> Action:
    """P4/P10's dma_buf_begin/end_device_access(attach, dir): the exporter syncs the
    importer's mapping for the device before its job and for the CPU after it (R4.2, R10.2)."""
    imp = st.importer(d)
    dev = importer_device(st, imp)
    eff = Effect()
    for direction in imp.map_directions:
        with eff.when(st.mapped[d].eq(direction)):
            (dma_sync_for_device if begin else dma_sync_for_cpu)(st, eff, dev, direction, st.lines)
    eff.set(st.device_access[d], TRUE if begin else FALSE)
    guard = and_(st.mapped[d].ne("DMA_NONE"), st.device_access[d].eq(not begin))
    name = "dma_buf_begin_device_access" if begin else "dma_buf_end_device_access"
    return action(name, (d,), IMPORTER, guard, eff)


def dma_buf_mmap(st: DmabufState) -> Action:
    """mmap of the dma-buf fd: the exporter's mmap, a cached mapping for heaps (dma_buf_mmap)."""
    eff = Effect()
    eff.set(st.mmap, TRUE)
    return action("dma_buf_mmap", (), USERSPACE, and_(st.life.eq("exported"), st.mmap.eq(False)), eff)


def munmap(st: DmabufState) -> Action:
    """munmap: the VMA, and the file reference it held, go away."""
    eff = Effect()
    eff.set(st.mmap, FALSE)
    return action("munmap", (), USERSPACE, st.mmap.eq(True), eff)


def dma_buf_put(st: DmabufState, policy: Policy) -> Action:
    """The last dma_buf_put: the exporter's release frees the pages (dma_buf_release). A
    mapping VMA holds a file reference, so it cannot be the last put while mmapped."""
    eff = Effect()
    eff.set(st.life, "released")
    none_attached = and_(*(a.eq(False) for a in st.attached.values()))
    ob = policy.obligation("detach-before-put", none_attached)
    guard = and_(st.life.eq("exported"), st.mmap.eq(False))
    return action("dma_buf_put", (), IMPORTER, guard, eff, [ob])


def cpu_access_directions(st: DmabufState, client: str) -> tuple[str, ...]:
    """The directions a client passes to begin/end_cpu_access: all three for userspace and
    vmap users, the driver's own for an exporter that brackets with a fixed direction."""
    own = st.cfg.exporter.own_access_direction
    return (own,) if client == EXPORTER and own != AS_PASSED else ALL_DIRECTIONS


def api_actions(st: DmabufState, policy: Policy) -> list[Action]:
    """Every dma-buf API call instance this configuration allows."""
    acts = [dma_buf_export(st)]
    for imp in st.cfg.importers:
        acts += [dma_buf_attach(st, policy, imp.name), dma_buf_detach(st, policy, imp.name)]
        for direction in imp.map_directions:
            acts.append(dma_buf_map_attachment(st, policy, imp.name, direction))
            acts.append(dma_buf_unmap_attachment(st, policy, imp.name, direction))
        if imp.name in st.device_access:
            acts += [dma_buf_device_access(st, imp.name, begin) for begin in (True, False)]
    for client in st.clients:
        for direction in cpu_access_directions(st, client):
            acts.append(dma_buf_begin_cpu_access(st, policy, client, direction))
            acts.append(dma_buf_end_cpu_access(st, policy, client, direction))
    if st.cfg.userspace_mmap:
        acts += [dma_buf_mmap(st), munmap(st)]
    acts.append(dma_buf_put(st, policy))
    return acts
