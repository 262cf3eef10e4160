"""The buffer's users: CPU loads and stores (userspace mmap, kernel vmap, the exporter's
own memcpy) and device DMA. Each access records what it saw in the ghost observations.

A device that snoops reads a dirty CPU line instead of memory, and its writes invalidate
the CPU's copy; one that does not snoop reads and writes memory around the cache (dma-api.rst).
A bounced device touches only its swiotlb slot (swiotlb.c).
"""

from __future__ import annotations

from dmabuf_mc.checker.ir import FALSE, TRUE, Const, Expr, and_, ite, not_, or_
from dmabuf_mc.checker.ts import Action, Effect, Obligation, action
from dmabuf_mc.model.config import Importer
from dmabuf_mc.model.exporters import AS_PASSED
from dmabuf_mc.model.fences import job_pending
from dmabuf_mc.model.platform import cpu_store, cpu_view, invalidate, line_param, only_latest_in
from dmabuf_mc.model.policy import Policy
from dmabuf_mc.model.state import CPU_READS, CPU_WRITES, DEVICE_READS, DEVICE_WRITES, OBSERVED, DmabufState

HOW_CPU = {
    "mmap": "userspace",
    "vmap": "kernel",
    "exporter": "exporter",
}


def _observed(latest: Expr) -> Expr:
    """What a read saw, as an OBSERVED value."""
    return ite(latest, Const(OBSERVED.code("latest")), Const(OBSERVED.code("stale")))


def ownership_breach_by_cpu(st: DmabufState) -> Expr:
    """The CPU touches the buffer while a device owns a live streaming mapping (dma-api.rst):
    an importer's, or the exporting device's while the buffer is queued to it."""
    breaches = [and_(st.mapped[d].ne("DMA_NONE"), st.cpu_owned[d].eq(False)) for d in st.mapped]
    return or_(*breaches, *([st.queued.eq(True)] if st.queued else []))


def _cpu_guard(st: DmabufState, via: str) -> Expr:
    """The client can touch the buffer: it has its mapping, and it is not blocked in
    dma_buf_begin_cpu_access waiting for fences."""
    blocked = st.waiting(HOW_CPU[via])
    if via == "mmap":
        return and_(st.mmap.eq(True), not_(blocked))
    if via == "vmap":
        return and_(st.life.eq("exported"), not_(blocked))
    return and_(st.life.ne("released"), not_(blocked))


def _cpu_obligation(st: DmabufState, policy: Policy, via: str, allowed: tuple[str, ...]) -> Obligation:
    if via == "exporter":
        ex = st.cfg.exporter
        own = (ex.own_access_direction,) if ex.own_access_direction != AS_PASSED else allowed
        # Before dma_buf_export there is no dma_buf to bracket with, and nobody to share with.
        bracket = st.cpu_access["exporter"] if ex.brackets_own_cpu_access else None
        holds = or_(st.life.eq("allocated"), bracket.is_in(*own)) if bracket is not None else TRUE
        return policy.obligation("exporter-brackets-own-cpu-access", holds)
    return policy.obligation("cpu-access-bracketed", st.cpu_access[HOW_CPU[via]].is_in(*allowed))


def _cpu_obligations(st: DmabufState, policy: Policy, via: str, allowed: tuple[str, ...]) -> list[Obligation]:
    queued = [st.mapped[i.name].eq("DMA_NONE") for i in st.cfg.importers if i.mapping == "per-job"]
    queued += [st.queued.eq(False)] if st.queued else []
    obligations = [_cpu_obligation(st, policy, via, allowed)]
    if queued:
        obligations.append(policy.obligation("no-cpu-access-while-queued", and_(*queued)))
    if st.device_access:
        idle = and_(*(v.eq(False) for v in st.device_access.values()))
        obligations.append(policy.obligation("device-access-bracketed", idle))
    return obligations


def cpu_read(st: DmabufState, policy: Policy, via: str, ln: int) -> Action:
    """A CPU load of one line through `via` (mmap, vmap)."""
    eff = Effect()
    eff.set(st.obs_cpu_read, _observed(cpu_view(st, eff, ln)))
    eff.set(st.obs_ownership, ownership_breach_by_cpu(st))
    obs = _cpu_obligations(st, policy, via, CPU_READS)
    return action("cpu_read", (via, line_param(ln)), HOW_CPU[via], _cpu_guard(st, via), eff, obs)


def cpu_write(st: DmabufState, policy: Policy, via: str, ln: int) -> Action:
    """A CPU store of a new value into one line through `via` (mmap, vmap, the exporter's
    own kernel mapping)."""
    eff = Effect()
    cpu_store(st, eff, ln, TRUE)
    only_latest_in(st, eff, ln, "cache" if st.cfg.cached else "memory")
    eff.set(st.obs_ownership, ownership_breach_by_cpu(st))
    obs = _cpu_obligations(st, policy, via, CPU_WRITES)
    return action("cpu_write", (via, line_param(ln)), HOW_CPU[via], _cpu_guard(st, via), eff, obs)


def reaches_pages(st: DmabufState, imp: Importer) -> Expr:
    """Whether a DMA reaches the pages: always without an IOMMU (dma-direct addresses are
    physical); behind one only through a live translation, which a lazy IOMMU keeps after
    unmap until its flush queue drains (iommu.strict). Otherwise the access faults."""
    if not imp.iommu:
        return TRUE
    stale = st.iotlb_stale[imp.name].eq(True) if imp.name in st.iotlb_stale else FALSE
    return or_(st.dma_mapped(imp.name), stale)


def _dma_common(
    st: DmabufState, policy: Policy, eff: Effect, imp: Importer, dirs: tuple[str, ...]
) -> tuple[Expr, Expr, list[Obligation]]:
    """Observations and obligations shared by a device's reads and writes, and whether
    the access reaches the pages."""
    d = imp.name
    mapped = st.mapped[d].ne("DMA_NONE")
    reaches = reaches_pages(st, imp)
    eff.set(st.obs_dma, reaches)
    eff.set(st.obs_dma_unmapped, not_(st.mapped[d].is_in(*dirs)))
    if st.cfg.bounces(imp):
        eff.set(st.obs_dma_above_mask, not_(st.dma_mapped(d)))
    if imp.needs_contiguous and not imp.iommu and not st.cfg.buffer.contiguous:
        eff.set(st.obs_dma_noncontiguous, TRUE)
    eff.set(st.obs_ownership, and_(mapped, st.cpu_owned[d].eq(True)))
    guard = and_(st.life.ne("allocated"), job_pending(st, d))
    # Under fenced jobs the driver's obligations bind at submit (model.fences.dma_resv_add_fence):
    # the device runs what it was given until the fence signals.
    obligations = [] if st.cfg.fenced else [
        policy.obligation("dma-through-live-mapping", st.mapped[d].is_in(*dirs)),
        policy.obligation("no-device-work-in-cpu-bracket", st.no_cpu_bracket()),
    ]
    if d in st.device_access:
        obligations.append(policy.obligation("device-access-bracketed", st.device_access[d].eq(True)))
    return guard, reaches, obligations


def device_view(st: DmabufState, snoops: bool, ln: int) -> Expr:
    """Whether a device's read of line `ln` of the pages returns the latest value: a snooping
    device reads a dirty CPU line instead of memory, one that does not snoop reads memory."""
    if snoops:
        return ite(st.cache[ln].eq("dirty"), st.cache_latest[ln].ref, st.memory_latest[ln].ref)
    return st.memory_latest[ln].ref


def dma_read(st: DmabufState, policy: Policy, imp: Importer, ln: int) -> Action:
    """The device reads one line: its bounce slot, else a dirty CPU line if it snoops,
    else memory. A read that faults observes nothing."""
    d = imp.name
    eff = Effect()
    from_memory = device_view(st, imp.snoops, ln)
    latest = from_memory
    if st.cfg.bounces(imp):
        latest = ite(st.dma_mapped(d), st.bounce_latest[d][ln].ref, from_memory)
    guard, reaches, obligations = _dma_common(st, policy, eff, imp, DEVICE_READS)
    none = Const(OBSERVED.code("none"))
    eff.set(st.obs_device_read, ite(reaches, _observed(latest), none))
    return action("dma_read", (d, line_param(ln)), d, guard, eff, obligations)


def device_write_memory(st: DmabufState, eff: Effect, snoops: bool, ln: int) -> None:
    """A device writes a new value into line `ln` of the pages: memory holds the only latest
    copy; a snooping device's write also invalidates the CPU's line."""
    only_latest_in(st, eff, ln, "memory")
    eff.set(st.memory_latest[ln], TRUE)
    if snoops:
        invalidate(eff, st.line(ln))


def _dma_write_line(st: DmabufState, eff: Effect, imp: Importer, ln: int) -> None:
    d = imp.name
    if st.cfg.bounces(imp):
        with eff.when(st.dma_mapped(d)):
            only_latest_in(st, eff, ln, d)
            eff.set(st.bounce_latest[d][ln], TRUE)
        with eff.when(not_(st.dma_mapped(d))):
            device_write_memory(st, eff, imp.snoops, ln)
    else:
        device_write_memory(st, eff, imp.snoops, ln)


def dma_write(st: DmabufState, policy: Policy, imp: Importer, lines: range) -> Action:
    """The device writes new values into `lines`: into its bounce slot if bounced, else
    into memory (a snooping device also invalidates the CPU's lines). A write that faults
    changes nothing."""
    eff = Effect()
    guard, reaches, obligations = _dma_common(st, policy, eff, imp, DEVICE_WRITES)
    with eff.when(reaches):
        for ln in lines:
            _dma_write_line(st, eff, imp, ln)
    params = (imp.name, line_param(lines[0])) if len(lines) == 1 and imp.partial_writes else (imp.name, "buffer")
    return action("dma_write", params, imp.name, guard, eff, obligations)


def _exporter_dma_common(st: DmabufState, policy: Policy, eff: Effect) -> tuple[Expr, list[Obligation]]:
    """The exporting device DMAs through its own mapping (vb2's buf->dma_sgt), which lives as
    long as the buffer: the access always reaches the pages. Outside QBUF..DQBUF the CPU owns
    the buffer, so a DMA then breaks DMA-API ownership."""
    assert st.queued is not None
    eff.set(st.obs_dma, TRUE)
    eff.set(st.obs_ownership, st.queued.eq(False))
    obligations = [
        policy.obligation("exporter-dma-while-queued", st.queued.eq(True)),
        policy.obligation("no-device-work-in-cpu-bracket", st.no_cpu_bracket()),
    ]
    return st.life.ne("released"), obligations


def exporter_dma_read(st: DmabufState, policy: Policy, ln: int) -> Action:
    """The exporting device reads one line of a buffer queued to it (a V4L2 output queue)."""
    eff = Effect()
    guard, obligations = _exporter_dma_common(st, policy, eff)
    eff.set(st.obs_device_read, _observed(device_view(st, st.cfg.exporter.snoops, ln)))
    return action("dma_read", ("exporter", line_param(ln)), "exporter", guard, eff, obligations)


def exporter_dma_write(st: DmabufState, policy: Policy) -> Action:
    """The exporting device writes a frame into the whole buffer queued to it (a V4L2
    capture queue), around the CPU cache unless it snoops."""
    eff = Effect()
    guard, obligations = _exporter_dma_common(st, policy, eff)
    for ln in st.lines:
        device_write_memory(st, eff, st.cfg.exporter.snoops, ln)
    return action("dma_write", ("exporter", "buffer"), "exporter", guard, eff, obligations)


def client_actions(st: DmabufState, policy: Policy) -> list[Action]:
    """CPU accesses by the clients the configuration has, and each importer's DMA."""
    acts: list[Action] = []
    cpu_clients = [("mmap", st.cfg.mmap), ("vmap", st.cfg.vmap)]
    if st.cfg.exporter.cpu_writes:
        cpu_clients.append(("exporter", "write"))
    for via, access in cpu_clients:
        for ln in st.lines:
            if "read" in access:
                acts.append(cpu_read(st, policy, via, ln))
            if "write" in access:
                acts.append(cpu_write(st, policy, via, ln))
    for imp in st.cfg.importers:
        if imp.reads:
            acts += [dma_read(st, policy, imp, ln) for ln in st.lines]
        if imp.writes and imp.partial_writes:
            acts += [dma_write(st, policy, imp, range(ln, ln + 1)) for ln in st.lines]
        elif imp.writes:
            acts.append(dma_write(st, policy, imp, st.lines))
    return acts

