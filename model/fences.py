"""Device jobs behind `dma_resv` fences (configurations with `jobs = "fenced"`).

In the kernel a device access is a job: the driver submits it and adds its fence to the
buffer's reservation object (`dma_resv_add_fence`, usage `DMA_RESV_USAGE_WRITE` for a job
that writes, `DMA_RESV_USAGE_READ` for one that only reads; include/linux/dma-resv.h, the
usages since 7bc80a5462c3, v5.19, before that exclusive and shared fences), the device runs
it, and completion signals the fence (`dma_fence_signal`). The device's `dma_read` and
`dma_write` (model.clients) happen only while its job's fence is pending.

`dma_buf_begin_cpu_access` (drivers/dma-buf/dma-buf.c) calls the exporter's
`begin_cpu_access` first and only then waits for the fences (`__dma_buf_begin_cpu_access`:
`dma_resv_wait_timeout` with `dma_resv_usage_rw(write)`), in every release since the wait was
added (Chris Wilson, "dma-buf: Wait on the reservation object when sync'ing before CPU
access", v4.9). The wait is a step of its own here, so hardware moves can happen between the
callback and the wait.
"""

from __future__ import annotations

from dmabuf_mc.checker.ir import FALSE, TRUE, Expr, and_, not_, or_
from dmabuf_mc.checker.ts import Action, Effect, action
from dmabuf_mc.model.config import Importer
from dmabuf_mc.model.policy import Policy
from dmabuf_mc.model.state import CPU_WRITES, DEVICE_READS, DEVICE_WRITES, DIRECTION, DmabufState

WRITE = "DMA_RESV_USAGE_WRITE"
READ = "DMA_RESV_USAGE_READ"


def usage(imp: Importer) -> str:
    """The usage an importer's job fence is added with: WRITE when the device writes the
    buffer, READ when it only reads it (the implicit-sync rule of include/linux/dma-resv.h)."""
    return WRITE if imp.writes else READ


def job_directions(imp: Importer) -> tuple[str, ...]:
    """The mapping directions that cover everything the importer's job does."""
    return tuple(d for d in DIRECTION.labels
                 if (not imp.reads or d in DEVICE_READS) and (not imp.writes or d in DEVICE_WRITES))


def blocking(st: DmabufState, cpu_writes: Expr) -> Expr:
    """Whether a fence that a CPU access must wait for is pending: a write waits for every
    fence, a read only for WRITE fences (`dma_resv_usage_rw`: a write waits at usage READ,
    which includes WRITE)."""
    return or_(*(and_(fence.eq(True), TRUE if usage(st.importer(d)) == WRITE else cpu_writes)
                 for d, fence in st.fence.items()))


def blocking_for(st: DmabufState, direction: str) -> Expr:
    """`blocking` for a CPU access in `direction`."""
    return blocking(st, TRUE if direction in CPU_WRITES else FALSE)


def job_pending(st: DmabufState, d: str) -> Expr:
    """Whether importer `d`'s job runs: always under atomic jobs, else while its fence is pending."""
    return st.fence[d].eq(True) if d in st.fence else TRUE


def no_job(st: DmabufState, d: str) -> Expr:
    """Whether importer `d` has no job in flight (always, under atomic jobs)."""
    return st.fence[d].eq(False) if d in st.fence else TRUE


def dma_resv_add_fence(st: DmabufState, policy: Policy, imp: Importer) -> Action:
    """The importer's driver submits a job and adds its fence to the buffer's dma_resv
    (dma_resv_add_fence). The job is programmed with the importer's mapping, so it must be
    live and cover the job; and userspace submits no follow-up work before SYNC_END (uapi
    dma-buf.h struct dma_buf_sync)."""
    d = imp.name
    guard = and_(st.life.eq("exported"), st.attached[d].eq(True), st.fence[d].eq(False))
    obligations = [
        policy.obligation("dma-through-live-mapping", st.mapped[d].is_in(*job_directions(imp))),
        policy.obligation("no-device-work-in-cpu-bracket", st.no_cpu_bracket()),
    ]
    eff = Effect()
    eff.set(st.fence[d], TRUE)
    return action("dma_resv_add_fence", (d, usage(imp)), d, guard, eff, obligations)


def dma_fence_signal(st: DmabufState, imp: Importer) -> Action:
    """The job completes and the device's driver signals its fence (dma_fence_signal)."""
    d = imp.name
    eff = Effect()
    eff.set(st.fence[d], FALSE)
    return action("dma_fence_signal", (d,), d, st.fence[d].eq(True), eff)


def dma_resv_wait_timeout(st: DmabufState, client: str) -> Action:
    """The second half of dma_buf_begin_cpu_access (`__dma_buf_begin_cpu_access`): after the
    exporter's callback, wait until no fence of usage `dma_resv_usage_rw(write)` is pending;
    then begin returns and the client may touch the buffer."""
    bracket = st.cpu_access[client]
    guard = and_(st.life.eq("exported"), st.fence_wait[client].eq(True),
                 not_(blocking(st, bracket.is_in(*CPU_WRITES))))
    eff = Effect()
    eff.set(st.fence_wait[client], FALSE)
    params = (client,) if len(st.clients) > 1 else ()
    return action("dma_resv_wait_timeout", params, client, guard, eff)


def fence_actions(st: DmabufState, policy: Policy) -> list[Action]:
    """Each importer's job submission and completion, and each client's wait for fences."""
    acts: list[Action] = []
    for imp in st.cfg.importers:
        if imp.name in st.fence:
            acts += [dma_resv_add_fence(st, policy, imp), dma_fence_signal(st, imp)]
    acts += [dma_resv_wait_timeout(st, client) for client in st.fence_wait]
    return acts
