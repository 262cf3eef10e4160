"""The platform: CPU cache lines in front of memory, and the hardware's own moves.

Every line the CPU can reach through a cacheable address is a `Line`: the buffer's lines
(an uncached or write-combined buffer's too, through the linear-map alias the kernel keeps
cacheable) and each bounce slot's lines (swiotlb's `mem->vaddr`). Cache maintenance follows
the configured kernel (arch/arm64/mm/cache.S, arch/arm/mm/dma-mapping.c): for-device
cleans, except DMA_FROM_DEVICE on arm32 and on arm64 before c50f11c6196f, which
invalidates; for-CPU invalidates unless DMA_TO_DEVICE. An invalidate drops a dirty line's
data. A dirty line may be written back, and an invalid line speculatively refilled, at any
time; a lazy IOMMU's flush queue may drain at any time too.
"""

from __future__ import annotations

from dmabuf_mc.checker.ir import FALSE, Expr, and_, ite
from dmabuf_mc.checker.ts import Action, Effect, action
from dmabuf_mc.model.state import DmabufState, Line

HARDWARE = "hardware"


def line_param(ln: int) -> str:
    return f"line{ln}"


def cached_view(eff: Effect, line: Line) -> Expr:
    """Whether a load through a cacheable address returns the latest value: a valid cache
    line hits, else memory is read."""
    return ite(eff.is_(line.cache, "invalid"), eff.get(line.memory), eff.get(line.cache_latest))


def cached_store(eff: Effect, line: Line, latest: Expr) -> None:
    """A store of a whole line through a cacheable address: the line is dirty."""
    eff.set(line.cache, "dirty")
    eff.set(line.cache_latest, latest)


def cpu_view(st: DmabufState, eff: Effect, ln: int) -> Expr:
    """What a CPU load through the buffer's CPU mapping (mmap, vmap, the exporter's own)
    returns: an uncached or write-combined mapping reads memory, whatever the alias holds."""
    return cached_view(eff, st.line(ln)) if st.cfg.cached else eff.get(st.memory_latest[ln])


def cpu_store(st: DmabufState, eff: Effect, ln: int, latest: Expr) -> None:
    """A CPU store through the buffer's CPU mapping: cacheable, it dirties the line; uncached
    or write-combined, it reaches memory and leaves the alias line as it was."""
    if st.cfg.cached:
        cached_store(eff, st.line(ln), latest)
    else:
        eff.set(st.memory_latest[ln], latest)


def only_latest_in(st: DmabufState, eff: Effect, ln: int, keep: str) -> None:
    """A new value was written into copy `keep` ('cache', 'memory' or a device name, whose
    bounce slot's memory holds it): every other copy of the line is now stale."""
    if keep != "cache":
        eff.set(st.cache_latest[ln], FALSE)
    if keep != "memory":
        eff.set(st.memory_latest[ln], FALSE)
    for d, slots in st.bounce_latest.items():
        if d != keep:
            eff.set(slots[ln], FALSE)
    for latest in st.slot_cache_latest.values():
        eff.set(latest[ln], FALSE)


def clean(eff: Effect, line: Line) -> None:
    """Clean to the point of coherency: a dirty line is written back and stays valid."""
    with eff.when(eff.is_(line.cache, "dirty")):
        eff.set(line.memory, eff.get(line.cache_latest))
        eff.set(line.cache, "clean")


def invalidate(eff: Effect, line: Line) -> None:
    """Invalidate: the line is dropped, dirty data included."""
    eff.set(line.cache, "invalid")
    eff.set(line.cache_latest, FALSE)


def arch_sync_dma_for_device(st: DmabufState, eff: Effect, direction: str, lines: list[Line]) -> None:
    """Clean to PoC; DMA_FROM_DEVICE invalidates instead on arm32 and on arm64 before
    c50f11c6196f. x86 never gets here: its devices are all dma-coherent."""
    drop = direction == "DMA_FROM_DEVICE" and st.cfg.kernel.invalidates_from_device
    for line in lines:
        (invalidate if drop else clean)(eff, line)


def arch_sync_dma_for_cpu(eff: Effect, direction: str, lines: list[Line]) -> None:
    """Invalidate unless DMA_TO_DEVICE, on every arm."""
    if direction != "DMA_TO_DEVICE":
        for line in lines:
            invalidate(eff, line)


def _line_moves(line: Line, where: tuple[str, ...], alive: Expr) -> list[Action]:
    """Eviction (write-back of a dirty line) and speculative fill of one line while `alive`."""
    evict = Effect()
    with evict.when(line.cache.eq("dirty")):
        evict.set(line.memory, line.cache_latest.ref)
    invalidate(evict, line)
    fill = Effect()
    fill.set(line.cache, "clean")
    fill.set(line.cache_latest, line.memory.ref)
    return [action("cache_evict", where, HARDWARE, and_(alive, line.cache.ne("invalid")), evict),
            action("speculative_fill", where, HARDWARE, and_(alive, line.cache.eq("invalid")), fill)]


def hardware_actions(st: DmabufState) -> list[Action]:
    """Eviction and speculative fill of the buffer's lines while the pages are the buffer's
    (through the linear alias for uncached buffers too) and of a bounce slot's lines while
    the slot is in use; a lazy IOMMU's deferred IOTLB flush. Each possible at any time."""
    alive = st.life.ne("released")
    acts = []
    for ln in st.lines:
        acts += _line_moves(st.line(ln), (line_param(ln),), alive)
    for d in st.slot_cache:
        for ln in st.lines:
            acts += _line_moves(st.slot_line(d, ln), (f"{d}-slot", line_param(ln)), st.dma_mapped(d))
    for d, stale in st.iotlb_stale.items():
        eff = Effect()
        eff.set(stale, FALSE)
        acts.append(action("iommu_flush_queue", (d,), HARDWARE, stale.eq(True), eff))
    return acts
