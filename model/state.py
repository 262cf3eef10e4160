"""The DMA-buf model's state variables, per configuration.

Data are abstracted to freshness: for each cache line, whether each copy (the CPU cache
line, memory, each device's swiotlb bounce slot in memory and the slot's own CPU cache
line) holds the *latest* value written. A write makes its copy the only latest one; cache
maintenance and bounce copies move freshness between copies. The buffer's cache lines
exist for every buffer: an uncached or write-combined buffer still has its cacheable
linear-map alias. Observations (what the last step's read returned) are transient ghost
variables, so a stale read is a plain state predicate and a trace ends on the read.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmabuf_mc.checker.ir import FALSE, Expr, and_
from dmabuf_mc.checker.ts import BOOL, Var, enum
from dmabuf_mc.model.config import Configuration, Importer
from dmabuf_mc.model.exporters import CpuAccess, MappingCache

# enum dma_data_direction, with the kernel's values (include/linux/dma-direction.h).
# DMA_NONE doubles as "no mapping" / "outside a CPU-access bracket".
DIRECTION = enum("dma_data_direction", "DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE", "DMA_NONE")
LINE = enum("cache line", "invalid", "clean", "dirty")
LIFECYCLE = enum("dma_buf", "allocated", "exported", "released")
OBSERVED = enum("read", "none", "latest", "stale")

# Directions in which a device reads / writes the buffer (dma-api.rst).
DEVICE_READS = ("DMA_TO_DEVICE", "DMA_BIDIRECTIONAL")
DEVICE_WRITES = ("DMA_FROM_DEVICE", "DMA_BIDIRECTIONAL")
# DMA_BUF_IOCTL_SYNC flags: READ -> DMA_FROM_DEVICE, WRITE -> DMA_TO_DEVICE, RW -> BIDIRECTIONAL (uapi dma-buf.h).
CPU_READS = ("DMA_FROM_DEVICE", "DMA_BIDIRECTIONAL")
CPU_WRITES = ("DMA_TO_DEVICE", "DMA_BIDIRECTIONAL")


@dataclass(frozen=True)
class Line:
    """One cache line of cacheable memory: the CPU's cache line in front of it, whether that
    line holds the latest value, and whether memory does. The buffer's lines and each
    bounce slot's lines are such lines."""

    cache: Var
    cache_latest: Var
    memory: Var


CPU_CLIENTS = {
    "exporter": "the exporter's own kernel user, when it brackets its writes (P9)",
    "userspace": "a userspace process with an mmap of the fd and DMA_BUF_IOCTL_SYNC",
    "kernel": "an importer's kernel driver with dma_buf_vmap",
}
"""Who can bracket CPU access. dma_buf_begin/end_cpu_access keep no state in the kernel:
each client brackets on its own, overlapping the others in any order and direction."""


def bracketing_clients(cfg: Configuration) -> tuple[str, ...]:
    """The clients of `cfg` that call begin/end_cpu_access, in CPU_CLIENTS order."""
    present = {"exporter": cfg.exporter.brackets_own_cpu_access, "userspace": cfg.userspace_mmap,
               "kernel": cfg.vmap != "none"}
    return tuple(c for c in CPU_CLIENTS if present[c])


class DmabufState:
    """The variables of one configuration, with handles by line and by importer. Variables
    a configuration's knobs do not need are left out, so they cost no states."""

    def __init__(self, cfg: Configuration, device_bracketing: bool = False) -> None:
        self.cfg = cfg
        kind = cfg.exporter.kind
        self.lines = range(cfg.buffer.lines)
        self.life = Var("dma_buf", LIFECYCLE, "dma_buf")
        self.mmap = Var("mmap", BOOL, "cpu")
        self.clients = bracketing_clients(cfg)
        # One bracket per client; with one client (or none) the variable keeps its plain name.
        self.cpu_access: dict[str, Var] = (
            {c: Var(f"cpu_access[{c}]", DIRECTION, "cpu") for c in self.clients} if len(self.clients) > 1
            else {c: Var("cpu_access", DIRECTION, "cpu") for c in self.clients or ("",)})
        self.cache = [Var(f"cache[{ln}]", LINE, f"line {ln}") for ln in self.lines]
        self.cache_latest = [Var(f"cache_latest[{ln}]", BOOL, f"line {ln}") for ln in self.lines]
        self.memory_latest = [Var(f"memory_latest[{ln}]", BOOL, f"line {ln}") for ln in self.lines]
        self.attached: dict[str, Var] = {}
        self.mapped: dict[str, Var] = {}
        self.cpu_owned: dict[str, Var] = {}
        self.bounce_latest: dict[str, list[Var]] = {}  # the slot's memory
        self.slot_cache: dict[str, list[Var]] = {}  # the slot's own CPU cache line (swiotlb's mem->vaddr)
        self.slot_cache_latest: dict[str, list[Var]] = {}
        self.sgt_dir: dict[str, Var] = {}  # the mapping kept until detach (core, PRIME or vb2 cache)
        self.has_mapped: dict[str, Var] = {}  # a map-once or held importer already mapped
        self.iotlb_stale: dict[str, Var] = {}  # lazy IOMMU: an unmapped translation not yet flushed
        self.device_access: dict[str, Var] = {}  # P4/P10: inside begin/end device access
        # The attachment's table has a dma_address from a map, for an exporter that syncs every
        # attachment's table: dma-direct syncs the address a never-mapped table leaves at 0.
        self.ever_mapped: dict[str, Var] = {}
        self.fence: dict[str, Var] = {}  # fenced jobs: the importer's job fence is pending in dma_resv
        # fenced jobs: the client is inside dma_buf_begin_cpu_access, past the callback, waiting
        # for fences; one client keeps the plain name, as cpu_access does.
        self.fence_wait: dict[str, Var] = {}
        if cfg.fenced and cfg.fence_wait == "after-callback":
            self.fence_wait = {c: Var(f"fence_wait[{c}]" if len(self.clients) > 1 else "fence_wait", BOOL, "cpu")
                               for c in self.clients}
        for imp in cfg.importers:
            d = imp.name
            if cfg.fenced:
                self.fence[d] = Var(f"fence[{d}]", BOOL, d)
            self.attached[d] = Var(f"attached[{d}]", BOOL, d)
            self.mapped[d] = Var(f"mapped[{d}]", DIRECTION, d)
            self.cpu_owned[d] = Var(f"cpu_owned[{d}]", BOOL, d)
            if cfg.bounces(imp):
                self.bounce_latest[d] = [Var(f"bounce_latest[{d}][{ln}]", BOOL, d) for ln in self.lines]
            if self.slot_cached(imp):
                self.slot_cache[d] = [Var(f"slot_cache[{d}][{ln}]", LINE, d) for ln in self.lines]
                self.slot_cache_latest[d] = [Var(f"slot_cache_latest[{d}][{ln}]", BOOL, d) for ln in self.lines]
            if kind.mapping_cache is not MappingCache.NONE or cfg.attach_maps(imp):
                self.sgt_dir[d] = Var(f"sgt_dir[{d}]", DIRECTION, d)
            if imp.mapping in ("once", "held"):
                self.has_mapped[d] = Var(f"has_mapped[{d}]", BOOL, d)
            if imp.iommu and cfg.kernel.iommu == "lazy":
                self.iotlb_stale[d] = Var(f"iotlb_stale[{d}]", BOOL, d)
            if device_bracketing:
                self.device_access[d] = Var(f"device_access[{d}]", BOOL, d)
            if kind.cpu_access is CpuAccess.ALL_ATTACHMENTS and not imp.iommu:
                self.ever_mapped[d] = Var(f"ever_mapped[{d}]", BOOL, d)
        self.misc_dir = Var("misc_dir", DIRECTION, "exporter") if kind.cpu_access == "misc-device" else None
        # Queued to the exporting device (videobuf2: from vb2_qbuf until vb2_dqbuf), when it DMAs.
        self.queued = Var("queued", BOOL, "exporter") if cfg.exporter.dma != "none" else None
        obs = "observed"
        self.obs_device_read = Var("device_read", OBSERVED, obs, transient=True)
        self.obs_cpu_read = Var("cpu_read", OBSERVED, obs, transient=True)
        self.obs_dma = Var("dma", BOOL, obs, transient=True)
        self.obs_dma_unmapped = Var("dma_without_mapping", BOOL, obs, transient=True)
        self.obs_dma_above_mask = Var("dma_above_mask", BOOL, obs, transient=True)
        self.obs_dma_noncontiguous = Var("dma_noncontiguous", BOOL, obs, transient=True)
        self.obs_ownership = Var("ownership_breach", BOOL, obs, transient=True)
        # DMA-API misuse, one observation per dma-debug check (model.misuse records them).
        self.obs_sync_dead = Var("sync_of_dead_mapping", BOOL, obs, transient=True)
        self.obs_sync_direction = Var("sync_in_other_direction", BOOL, obs, transient=True)
        self.obs_sync_partial = Var("partial_sync", BOOL, obs, transient=True)
        self.obs_overlap = Var("overlapping_mapping", BOOL, obs, transient=True)
        self.obs_refused = Var("refused", BOOL, obs, transient=True)

    def slot_cached(self, imp: Importer) -> bool:
        """Whether the slot's own CPU cache line matters: the bounce copies go through the
        slot's cacheable kernel address (swiotlb_bounce), and a device that does not snoop
        reads and writes the slot's memory around it. For a snooping device the line and
        the slot's memory are one coherent copy."""
        return self.cfg.bounces(imp) and not imp.snoops

    def line(self, ln: int) -> Line:
        """The buffer's line `ln`, through its cacheable (linear-map) address."""
        return Line(self.cache[ln], self.cache_latest[ln], self.memory_latest[ln])

    def slot_line(self, d: str, ln: int) -> Line:
        """Line `ln` of importer `d`'s bounce slot, whose CPU cache line is modelled."""
        return Line(self.slot_cache[d][ln], self.slot_cache_latest[d][ln], self.bounce_latest[d][ln])

    def core_keeps(self, d: str) -> bool:
        """Whether the dma-buf core keeps `d`'s mapping in attach->sgt and hands it back on
        every map: cache_sgt_mapping (v5.3-v6.15), or the table dma_buf_dynamic_attach made
        for a dynamic importer (before v6.16)."""
        return self.cfg.exporter.kind.mapping_cache is MappingCache.CORE or self.cfg.attach_maps(self.importer(d))

    def dma_mapped(self, d: str) -> Expr:
        """The device's mapping exists at the DMA-API level: the importer's own, or the one
        its exporter or the dma-buf core keeps until detach. A bounce slot lives as long."""
        if d in self.sgt_dir:
            return self.sgt_dir[d].ne("DMA_NONE")
        return self.mapped[d].ne("DMA_NONE")

    def waiting(self, client: str) -> Expr:
        """Whether `client` is still inside dma_buf_begin_cpu_access, waiting for fences."""
        return self.fence_wait[client].eq(True) if client in self.fence_wait else FALSE

    def no_cpu_bracket(self) -> Expr:
        """No client is between begin_cpu_access and end_cpu_access."""
        return and_(*(v.eq("DMA_NONE") for v in self.cpu_access.values()))

    def importer(self, name: str) -> Importer:
        return next(i for i in self.cfg.importers if i.name == name)

    def device_variables(self, d: str) -> tuple[Var, ...]:
        """Importer `d`'s own variables, in the same order for every importer."""
        slot = [v for ln in self.lines if d in self.slot_cache
                for v in (self.slot_cache[d][ln], self.slot_cache_latest[d][ln])]
        optional = (self.sgt_dir, self.has_mapped, self.iotlb_stale, self.device_access, self.fence, self.ever_mapped)
        return (self.attached[d], self.mapped[d], self.cpu_owned[d], *self.bounce_latest.get(d, []), *slot,
                *(v[d] for v in optional if d in v))

    def variables(self) -> tuple[Var, ...]:
        per_device = [v for d in self.attached for v in self.device_variables(d)]
        return (
            self.life, self.mmap, *self.cpu_access.values(), *self.fence_wait.values(),
            *([self.misc_dir] if self.misc_dir else []), *([self.queued] if self.queued else []),
            *[v for ln in self.lines for v in (self.cache[ln], self.cache_latest[ln], self.memory_latest[ln])],
            *per_device,
            self.obs_device_read, self.obs_cpu_read, self.obs_dma, self.obs_dma_unmapped,
            self.obs_dma_above_mask, self.obs_dma_noncontiguous, self.obs_ownership,
            self.obs_sync_dead, self.obs_sync_direction, self.obs_sync_partial, self.obs_overlap, self.obs_refused,
        )

    def initial(self) -> dict[str, int]:
        """Allocated, not exported, each line as the allocator leaves it
        (`Configuration.initial_line`); no bounce slot is in use."""
        line, cache_latest, memory_latest = self.cfg.initial_line()
        init = {v.name: 0 for v in self.variables()}
        for bracket in self.cpu_access.values():
            init[bracket.name] = DIRECTION.code("DMA_NONE")
        for ln in self.lines:
            init[self.cache[ln].name] = LINE.code(line)
            init[self.cache_latest[ln].name] = int(cache_latest)
            init[self.memory_latest[ln].name] = int(memory_latest)
        for v in (*self.mapped.values(), *self.sgt_dir.values(), *([self.misc_dir] if self.misc_dir else [])):
            init[v.name] = DIRECTION.code("DMA_NONE")
        return init
