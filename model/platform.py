"""The platform: the CPU cache in front of memory, and the hardware's own moves.

Cache maintenance follows the configuration's `kernel.arch` (DOMAIN.md §3.3): on arm64
after c50f11c6196f the for-device operation *cleans* in every direction; before it, and
on arm32, a DMA_FROM_DEVICE for-device operation *invalidates*. The for-CPU operation
invalidates unless DMA_TO_DEVICE. An invalidate drops a dirty line's data. A dirty line
may be written back, and an invalid line speculatively refilled, at any time (§12). A
lazy IOMMU's flush queue may drain at any time too (§6).
"""

from __future__ import annotations

from checker.ir import FALSE, Expr, and_, ite
from checker.ts import Action, Effect, action
from model.state import DmabufState

HARDWARE = "hardware"


def line_param(ln: int) -> str:
    return f"line{ln}"


def cpu_view(st: DmabufState, eff: Effect, ln: int) -> Expr:
    """Whether what a CPU load of line `ln` returns is the latest value: a valid cache line
    hits; otherwise memory is read (an uncached mapping always reads memory, §4)."""
    if not st.cfg.cached:
        return eff.get(st.memory_latest[ln])
    return ite(eff.is_(st.cache[ln], "invalid"), eff.get(st.memory_latest[ln]), eff.get(st.cache_latest[ln]))


def cpu_store(st: DmabufState, eff: Effect, ln: int, latest: Expr) -> None:
    """A CPU store of a whole line, holding the latest value or not: through a cacheable
    mapping it dirties the line; through an uncached/WC mapping it reaches memory."""
    if st.cfg.cached:
        eff.set(st.cache[ln], "dirty")
        eff.set(st.cache_latest[ln], latest)
    else:
        eff.set(st.memory_latest[ln], latest)


def only_latest_in(st: DmabufState, eff: Effect, ln: int, keep: str) -> None:
    """A new value was written into copy `keep` ('cache', 'memory' or a device name):
    every other copy of the line is now stale."""
    if keep != "cache":
        eff.set(st.cache_latest[ln], FALSE)
    if keep != "memory":
        eff.set(st.memory_latest[ln], FALSE)
    for d, slots in st.bounce_latest.items():
        if d != keep:
            eff.set(slots[ln], FALSE)


def clean(st: DmabufState, eff: Effect, ln: int) -> None:
    """Clean to the point of coherency: a dirty line is written back and stays valid."""
    dirty = eff.is_(st.cache[ln], "dirty")
    with eff.when(dirty):
        eff.set(st.memory_latest[ln], eff.get(st.cache_latest[ln]))
        eff.set(st.cache[ln], "clean")


def invalidate(st: DmabufState, eff: Effect, ln: int) -> None:
    """Invalidate: the line is dropped, dirty data included."""
    eff.set(st.cache[ln], "invalid")
    eff.set(st.cache_latest[ln], FALSE)


def arch_sync_dma_for_device(st: DmabufState, eff: Effect, direction: str, lines: range) -> None:
    """Clean to PoC; DMA_FROM_DEVICE invalidates instead on arm32 and on arm64 before
    c50f11c6196f (§3.3). x86 never gets here: its devices are all dma-coherent."""
    drop = direction == "DMA_FROM_DEVICE" and st.cfg.kernel.arch in ("arm32", "arm64-before-c50f11c6196f")
    for ln in lines:
        (invalidate if drop else clean)(st, eff, ln)


def arch_sync_dma_for_cpu(st: DmabufState, eff: Effect, direction: str, lines: range) -> None:
    """Invalidate unless DMA_TO_DEVICE, on every arm (§3.3)."""
    if direction != "DMA_TO_DEVICE":
        for ln in lines:
            invalidate(st, eff, ln)


def hardware_actions(st: DmabufState) -> list[Action]:
    """Eviction and speculative fill while the pages are the buffer's, and a lazy IOMMU's
    deferred IOTLB flush, each possible at any time."""
    alive = st.life.ne("released")
    acts = []
    for ln in st.lines:
        p = (line_param(ln),)
        eff = Effect()
        with eff.when(st.cache[ln].eq("dirty")):
            eff.set(st.memory_latest[ln], st.cache_latest[ln].ref)
        invalidate(st, eff, ln)
        acts.append(action("cache_evict", p, HARDWARE, and_(alive, st.cache[ln].ne("invalid")), eff))
        if st.cfg.cached:
            eff = Effect()
            eff.set(st.cache[ln], "clean")
            eff.set(st.cache_latest[ln], st.memory_latest[ln].ref)
            guard = and_(alive, st.cache[ln].eq("invalid"))
            acts.append(action("speculative_fill", p, HARDWARE, guard, eff))
    for d, stale in st.iotlb_stale.items():
        eff = Effect()
        eff.set(stale, FALSE)
        acts.append(action("iommu_flush_queue", (d,), HARDWARE, stale.eq(True), eff))
    return acts

