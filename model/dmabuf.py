"""The dma-buf API: one action per kernel call, guards ("requires") before effects.

Follows the "dma buf device access" and CPU-access DOC sections of drivers/dma-buf/
dma-buf.c (DOMAIN.md §1, §2). What map and begin/end do for caches is the exporter's
choice (`model.exporters`); the DMA API underneath is `model.dma_api`.
"""

from __future__ import annotations

from checker.ir import FALSE, TRUE, and_
from checker.ts import Action, Effect, action
from model.dma_api import dma_map, dma_sync_for_cpu, dma_sync_for_device, dma_unmap
from model.exporters import SYNC_MAPPED_ATTACHMENTS
from model.policy import Policy
from model.state import DmabufState

IMPORTER = "importer"
EXPORTER = "exporter"
USERSPACE = "userspace"
KERNEL = "kernel"


def dma_buf_export(st: DmabufState) -> Action:
    """dma_buf_export + dma_buf_fd: the buffer can now be shared (§1.1)."""
    eff = Effect()
    eff.set(st.life, "exported")
    return action("dma_buf_export", (), EXPORTER, st.life.eq("allocated"), eff)


def dma_buf_attach(st: DmabufState, d: str) -> Action:
    """dma_buf_attach(dmabuf, dev): the exporter records the attachment, unmapped (§1.3, §7)."""
    eff = Effect()
    eff.set(st.attached[d], TRUE)
    guard = and_(st.life.eq("exported"), st.attached[d].eq(False))
    return action("dma_buf_attach", (d,), IMPORTER, guard, eff)


def dma_buf_detach(st: DmabufState, policy: Policy, d: str) -> Action:
    """dma_buf_detach: the attachment goes; its mapping must already be gone (§1.6)."""
    eff = Effect()
    eff.set(st.attached[d], FALSE)
    ob = policy.obligation("unmap-before-detach", st.mapped[d].eq("DMA_NONE"))
    return action("dma_buf_detach", (d,), IMPORTER, st.attached[d].eq(True), eff, [ob])


def dma_buf_map_attachment(st: DmabufState, d: str, direction: str) -> Action:
    """dma_buf_map_attachment -> the exporter's map_dma_buf, which maps the pages for the
    importer's device, with or without cache maintenance (§1.4)."""
    imp = st.importer(d)
    eff = Effect()
    dma_map(st, eff, imp, direction, st.cfg.exporter.kind.map_skip_cpu_sync)
    eff.set(st.mapped[d], direction)
    guard = and_(st.attached[d].eq(True), st.mapped[d].eq("DMA_NONE"))
    return action("dma_buf_map_attachment", (d, direction), IMPORTER, guard, eff)


def dma_buf_unmap_attachment(st: DmabufState, policy: Policy, d: str, direction: str) -> Action:
    """dma_buf_unmap_attachment -> unmap_dma_buf: dma_unmap_sgtable for the device (§1.4)."""
    imp = st.importer(d)
    eff = Effect()
    dma_unmap(st, eff, imp, direction, st.cfg.exporter.kind.map_skip_cpu_sync)
    eff.set(st.mapped[d], "DMA_NONE")
    guard = and_(st.attached[d].eq(True), st.mapped[d].ne("DMA_NONE"))
    ob = policy.obligation("unmap-in-mapped-direction", st.mapped[d].eq(direction))
    return action("dma_buf_unmap_attachment", (d, direction), IMPORTER, guard, eff, [ob])


def _sync_mapped_attachments(st: DmabufState, eff: Effect, direction: str, for_cpu: bool) -> None:
    """A heap's begin/end_cpu_access: dma_sync_sgtable_for_cpu/_for_device on each
    attachment that is currently mapped; unmapped ones are skipped (§2.4)."""
    for imp in st.cfg.importers:
        with eff.when(st.mapped[imp.name].ne("DMA_NONE")):
            if for_cpu:
                dma_sync_for_cpu(st, eff, imp, direction)
            else:
                dma_sync_for_device(st, eff, imp, direction)


def cpu_access_actor(st: DmabufState) -> str:
    """Who brackets CPU access: userspace (DMA_BUF_IOCTL_SYNC), a vmap user, or the exporter."""
    if st.cfg.userspace_mmap:
        return USERSPACE
    return KERNEL if st.cfg.vmap != "none" else EXPORTER


def dma_buf_begin_cpu_access(st: DmabufState, direction: str) -> Action:
    """dma_buf_begin_cpu_access(dir) (DMA_BUF_IOCTL_SYNC START from userspace): the
    exporter's begin_cpu_access prepares the CPU's view (§2.1, §2.4)."""
    eff = Effect()
    if st.cfg.exporter.kind.cpu_access_sync == SYNC_MAPPED_ATTACHMENTS:
        _sync_mapped_attachments(st, eff, direction, for_cpu=True)
    eff.set(st.cpu_access, direction)
    guard = and_(st.life.ne("released"), st.cpu_access.eq("DMA_NONE"))
    return action("dma_buf_begin_cpu_access", (direction,), cpu_access_actor(st), guard, eff)


def dma_buf_end_cpu_access(st: DmabufState, policy: Policy, direction: str) -> Action:
    """dma_buf_end_cpu_access(dir) (DMA_BUF_IOCTL_SYNC END): the exporter's
    end_cpu_access hands the buffer back to the devices (§2.1, §2.4)."""
    eff = Effect()
    if st.cfg.exporter.kind.cpu_access_sync == SYNC_MAPPED_ATTACHMENTS:
        _sync_mapped_attachments(st, eff, direction, for_cpu=False)
    eff.set(st.cpu_access, "DMA_NONE")
    ob = policy.obligation("end-matches-begin", st.cpu_access.eq(direction))
    guard = st.cpu_access.ne("DMA_NONE")
    return action("dma_buf_end_cpu_access", (direction,), cpu_access_actor(st), guard, eff, [ob])


def dma_buf_mmap(st: DmabufState) -> Action:
    """mmap of the dma-buf fd: the exporter's mmap, a cached mapping for heaps (§2.3)."""
    eff = Effect()
    eff.set(st.mmap, TRUE)
    return action("dma_buf_mmap", (), USERSPACE, and_(st.life.eq("exported"), st.mmap.eq(False)), eff)


def munmap(st: DmabufState) -> Action:
    """munmap: the VMA, and the file reference it held, go away."""
    eff = Effect()
    eff.set(st.mmap, FALSE)
    return action("munmap", (), USERSPACE, st.mmap.eq(True), eff)


def dma_buf_put(st: DmabufState, policy: Policy) -> Action:
    """The last dma_buf_put: the exporter's release frees the pages (§1.1, §1.6). A
    mapping VMA holds a file reference, so it cannot be the last put while mmapped."""
    eff = Effect()
    eff.set(st.life, "released")
    none_attached = and_(*(a.eq(False) for a in st.attached.values()))
    ob = policy.obligation("detach-before-put", none_attached)
    guard = and_(st.life.eq("exported"), st.mmap.eq(False))
    return action("dma_buf_put", (), IMPORTER, guard, eff, [ob])


def api_actions(st: DmabufState, policy: Policy) -> list[Action]:
    """Every dma-buf API call instance this configuration allows."""
    acts = [dma_buf_export(st)]
    for imp in st.cfg.importers:
        acts += [dma_buf_attach(st, imp.name), dma_buf_detach(st, policy, imp.name)]
        for direction in imp.map_directions:
            acts.append(dma_buf_map_attachment(st, imp.name, direction))
            acts.append(dma_buf_unmap_attachment(st, policy, imp.name, direction))
    if st.cfg.userspace_mmap or st.cfg.vmap != "none" or st.cfg.exporter.brackets_own_cpu_access:
        for direction in ("DMA_FROM_DEVICE", "DMA_TO_DEVICE", "DMA_BIDIRECTIONAL"):
            acts.append(dma_buf_begin_cpu_access(st, direction))
            acts.append(dma_buf_end_cpu_access(st, policy, direction))
    if st.cfg.userspace_mmap:
        acts += [dma_buf_mmap(st), munmap(st)]
    acts.append(dma_buf_put(st, policy))
    return acts

