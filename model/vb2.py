"""The exporting device as a DMA master: a videobuf2 exporter's own queue.

A V4L2 driver whose buffers are exported (VIDIOC_EXPBUF) still DMAs into them itself
through `buf->dma_sgt`. vb2 hands the buffer to the device at QBUF, after the `prepare`
memop synced it for the device, and back at completion, after the `finish` memop synced it
for the CPU (videobuf2-core.c: `__buf_prepare` -> `__vb2_buf_mem_prepare`, `vb2_buffer_done`
-> `__vb2_buf_mem_finish`). Which memops sync is the allocator's (`Configuration.memops_sync`),
and userspace may skip them with the V4L2 cache hints (`config.CACHE_HINTS`,
videobuf2-v4l2.c: `set_buffer_cache_hints`). The device's reads and writes are
`model.clients.exporter_dma_read/_write`.
"""

from __future__ import annotations

from dmabuf_mc.checker.ir import FALSE, TRUE, and_
from dmabuf_mc.checker.ts import Action, Effect, action
from dmabuf_mc.model.clients import exporter_dma_read, exporter_dma_write
from dmabuf_mc.model.dma_api import dma_sync_for_cpu, dma_sync_for_device, exporter_device
from dmabuf_mc.model.dmabuf import USERSPACE
from dmabuf_mc.model.policy import Policy
from dmabuf_mc.model.state import DmabufState


def prepare_syncs(st: DmabufState) -> bool:
    """Whether the prepare memop syncs for the device: it does maintenance for this buffer
    and userspace did not pass V4L2_BUF_FLAG_NO_CACHE_CLEAN (vb->skip_cache_sync_on_prepare;
    vb2_dma_sg_prepare, vb2_dc_prepare)."""
    return st.cfg.memops_sync and "V4L2_BUF_FLAG_NO_CACHE_CLEAN" not in st.cfg.exporter.cache_hints


def finish_syncs(st: DmabufState) -> bool:
    """Whether the finish memop syncs for the CPU: as for prepare, with
    V4L2_BUF_FLAG_NO_CACHE_INVALIDATE; an output (DMA_TO_DEVICE) queue always skips it
    (videobuf2-core.c: init_buffer_cache_hints)."""
    ex = st.cfg.exporter
    skipped = "V4L2_BUF_FLAG_NO_CACHE_INVALIDATE" in ex.cache_hints or ex.queue_direction == "DMA_TO_DEVICE"
    return st.cfg.memops_sync and not skipped


def vb2_qbuf(st: DmabufState) -> Action:
    """VIDIOC_QBUF of the exported buffer on the exporter's own queue: vb2_core_qbuf ->
    __buf_prepare -> __vb2_buf_mem_prepare, whose prepare memop is
    dma_sync_sgtable_for_device(buf->dev, sgt, buf->dma_dir) unless skipped; the device owns
    the buffer until it is done. A queued buffer cannot be queued again (-EINVAL)."""
    assert st.queued is not None
    eff = Effect()
    if prepare_syncs(st):
        dma_sync_for_device(st, eff, exporter_device(st), st.cfg.exporter.queue_direction, st.lines)
    eff.set(st.queued, TRUE)
    guard = and_(st.life.ne("released"), st.queued.eq(False))
    return action("vb2_qbuf", (), USERSPACE, guard, eff)


def vb2_dqbuf(st: DmabufState) -> Action:
    """The device is done with the buffer and userspace dequeues it: vb2_buffer_done ->
    __vb2_buf_mem_finish, whose finish memop is dma_sync_sgtable_for_cpu(buf->dev, sgt,
    buf->dma_dir) unless skipped, then VIDIOC_DQBUF (vb2_core_dqbuf), which does no
    maintenance of its own. The CPU owns the buffer again. The model ends at the release of
    the pages, so nothing follows it."""
    assert st.queued is not None
    eff = Effect()
    if finish_syncs(st):
        dma_sync_for_cpu(st, eff, exporter_device(st), st.cfg.exporter.queue_direction, st.lines)
    eff.set(st.queued, FALSE)
    return action("vb2_dqbuf", (), USERSPACE, and_(st.life.ne("released"), st.queued.eq(True)), eff)


def vb2_actions(st: DmabufState, policy: Policy) -> list[Action]:
    """QBUF, DQBUF and the exporting device's DMA, for an exporter whose device DMAs."""
    if st.queued is None:
        return []
    dma = st.cfg.exporter.dma
    acts = [vb2_qbuf(st), vb2_dqbuf(st)]
    if "read" in dma:
        acts += [exporter_dma_read(st, policy, ln) for ln in st.lines]
    if "write" in dma:
        acts.append(exporter_dma_write(st, policy))
    return acts
