"""The DMA-API misuse monitor: what CONFIG_DMA_API_DEBUG (kernel/dma/debug.c) would report
about a call, recorded as one transient observation per check, each its own property
(docs/semantics.md "Properties").

A call site records each kind of misuse it can commit with one of these functions, inside
whatever `eff.when(...)` block makes the call; several records of one kind in one action
add up (`Effect.flag`):

- `dead_mapping`: a sync or unmap of a table that is not mapped (check_sync, check_unmap:
  "memory it has not allocated");
- `sync_direction` / `unmap_direction`: another direction than the map's (check_sync
  exempts a DMA_BIDIRECTIONAL mapping, check_unmap does not);
- `partial_sync`: a sync of part of a mapping, e.g. sgt->nents of a merged IOMMU mapping
  instead of orig_nents (check_sync: "different entry count");
- `overlap`: recorded by `model.dma_api.dma_map` itself for every map (add_dma_entry).
"""

from __future__ import annotations

from collections.abc import Callable

from dmabuf_mc.checker.ir import TRUE, Const, Expr, and_, eq, ne, or_
from dmabuf_mc.checker.ts import Effect, Var
from dmabuf_mc.model.exporters import AS_PASSED, CpuAccess
from dmabuf_mc.model.kernels import DmaDebugOverlap
from dmabuf_mc.model.state import DIRECTION, DmabufState

TRACKED = ("DMA_FROM_DEVICE", "DMA_BIDIRECTIONAL")
"""Directions whose mappings dma-debug's cacheline tracking holds: a DMA_TO_DEVICE mapping
is never inserted, "the device is not writing memory" (active_cacheline_insert)."""


def dead_mapping(st: DmabufState, eff: Effect, when: Expr) -> None:
    """A sync or unmap, where `when` holds, of a table that is not mapped."""
    eff.flag(st.obs_sync_dead, when)


def _direction_code(direction: str) -> Const:
    return Const(DIRECTION.code(direction))


def sync_direction(st: DmabufState, eff: Effect, mapped: Expr, direction: str, when: Expr = TRUE) -> None:
    """A dma_sync_* in `direction` of a live mapping made with `mapped`, where `when` holds:
    an error unless the directions agree or the mapping is DMA_BIDIRECTIONAL (check_sync)."""
    other = and_(ne(mapped, _direction_code(direction)), ne(mapped, _direction_code("DMA_BIDIRECTIONAL")))
    eff.flag(st.obs_sync_direction, and_(when, other))


def unmap_direction(st: DmabufState, eff: Effect, mapped: Expr, direction: str, when: Expr = TRUE) -> None:
    """A dma_unmap_* in `direction` of a mapping made with `mapped`, where `when` holds: any
    other direction is an error, DMA_BIDIRECTIONAL included (check_unmap)."""
    eff.flag(st.obs_sync_direction, and_(when, ne(mapped, _direction_code(direction))))


def partial_sync(st: DmabufState, eff: Effect, when: Expr) -> None:
    """A sync, where `when` holds, that covers only part of its mapping."""
    eff.flag(st.obs_sync_partial, when)


Read = Callable[[Var], Expr]


def mappings(st: DmabufState, read: Read, but: str = "") -> dict[str, Expr]:
    """Every DMA-API mapping of the buffer's pages other than device `but`'s, each with the
    direction it was made with (an expression; DMA_NONE when there is none), reading the
    state through `read`: each importer's table (its own or the one kept for it),
    udmabuf's misc device mapping (begin_cpu_udmabuf), vb2-dma-sg's own mapping of
    buf->dma_sgt (made at allocation in buf->dma_dir), and the DMA_BIDIRECTIONAL entry
    dma_alloc_coherent makes for the exporter's device (debug_dma_alloc_coherent)."""
    found = {imp.name: read(st.sgt_dir.get(imp.name, st.mapped[imp.name])) for imp in st.cfg.importers}
    if st.misc_dir is not None:
        found["misc"] = read(st.misc_dir)
    kind = st.cfg.exporter.kind
    if kind.cpu_access is CpuAccess.EXPORTER_DEVICE:
        fixed = kind.cpu_access_direction
        found["exporter"] = _direction_code("DMA_BIDIRECTIONAL" if fixed == AS_PASSED else fixed)
    elif st.cfg.buffer.source.coherent_alloc:
        found["exporter"] = _direction_code("DMA_BIDIRECTIONAL")
    found.pop(but, None)
    return found


def overlap(st: DmabufState, eff: Effect, device: str, direction: str, skip_cpu_sync: bool) -> None:
    """dma_map_* for `device`: add_dma_entry reports the new mapping when its direction is
    tracked and a tracked mapping of the same pages is live, as the kernel's release and
    arch decide (model.kernels.DmaDebugOverlap; not for DMA_ATTR_SKIP_CPU_SYNC since
    c2bbf9d1e9ac). The live one is in the tree whatever attributes it was made with."""
    rule = st.cfg.kernel.dma_debug_overlap
    if not rule.reports or direction not in TRACKED or (skip_cpu_sync and rule is DmaDebugOverlap.WITHOUT_SKIP):
        return
    eff.flag(st.obs_overlap, or_(*(tracked(d) for d in mappings(st, eff.get, device).values())))


def tracked(mapped: Expr) -> Expr:
    """A mapping made with `mapped` is live and in dma-debug's cacheline tracking."""
    return or_(*(eq(mapped, _direction_code(t)) for t in TRACKED))
