"""Kernel versions: which rule each released kernel had, with the commit that set it.

A configuration names a kernel (`[kernel] version = "5.15.33"`) and every version-dependent
rule follows from it: arm64's cache maintenance for DMA_FROM_DEVICE, swiotlb's bounce
copies, and each exporter's callbacks (docs/semantics.md). A rule can still be overridden
by name in the same table, for "this kernel, but with that patch".

Stable backports are listed per series: a point release at or after the backport has the
newer rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Arch(StrEnum):
    """The machine: which arch_sync_dma_for_* the DMA API calls, if any."""

    ARM64 = "arm64"
    ARM32 = "arm32"
    X86 = "x86"
    """No ARCH_HAS_SYNC_DMA_*: dev_is_dma_coherent() is always true."""


class ArchSync(StrEnum):
    """What arm64's arch_sync_dma_for_device does for DMA_FROM_DEVICE (arch/arm64/mm/cache.S)."""

    CLEAN = "c50f11c6196f"
    """"arm64: mm: Don't invalidate FROM_DEVICE buffers at start of DMA transfer": clean."""
    INVALIDATE = "before-c50f11c6196f"
    """__dma_map_area invalidated FROM_DEVICE buffers: dirty lines were dropped."""


class Swiotlb(StrEnum):
    """Which bounce copies swiotlb_tbl_map_single and swiotlb_sync_single_for_device make."""

    V5_16 = "before-ddbd89deb7d3"
    """Map copies only without DMA_ATTR_SKIP_CPU_SYNC and for TO_DEVICE/BIDIRECTIONAL."""
    DDBD = "ddbd89deb7d3"
    """"swiotlb: fix info leak with DMA_FROM_DEVICE": map copies in every direction without SKIP."""
    AA6F = "aa6f8dcbab47"
    """"swiotlb: rework fix info leak": map and sync_for_device copy always, even with SKIP."""
    REINSTATED = "901c7280ca0d"
    """bddac7c1e02b reverted aa6f8dcbab47; 901c7280ca0d kept its unconditional map copy only."""


class DmaDebugOverlap(StrEnum):
    """When dma-debug's add_dma_entry reports "cacheline tracking EEXIST, overlapping mappings
    aren't supported" for a map whose first cache line a live mapping already holds
    (kernel/dma/debug.c). DMA_TO_DEVICE mappings are never tracked (active_cacheline_insert)."""

    SILENT = "before-2b4bbc6231d7"
    """The EEXIST from active_cacheline_insert was ignored (a TODO comment)."""
    EVERY_MAP = "2b4bbc6231d7"
    """"dma-debug: report -EEXIST errors in add_dma_entry": every overlapping map."""
    WITHOUT_SKIP = "c2bbf9d1e9ac"
    """"dma-debug: teach add_dma_entry() about DMA_ATTR_SKIP_CPU_SYNC": not for a SKIP map."""
    SWIOTLB_ACTIVE = "03521c892bb8"
    """arm64: never, since DMA_BOUNCE_UNALIGNED_KMALLOC is selected and swiotlb is always
    initialised (arch_mm_preinit), so is_swiotlb_active() holds for every device."""
    NO_DMA_MINALIGN = "3d48c9fd78dd"
    """x86: never, since dma_get_cache_alignment() (1) is below L1_CACHE_BYTES."""

    @property
    def reports(self) -> bool:
        return self in (DmaDebugOverlap.EVERY_MAP, DmaDebugOverlap.WITHOUT_SKIP)


ARCH_SYNC_DOC = {
    ArchSync.CLEAN: "arm64 for-device cleans in every direction; for-CPU invalidates unless DMA_TO_DEVICE",
    ArchSync.INVALIDATE: "arm64 for-device with DMA_FROM_DEVICE invalidates (dirty lines are dropped)",
}
SWIOTLB_DOC = {
    Swiotlb.V5_16: "map: original -> slot only without SKIP_CPU_SYNC and only TO_DEVICE/BIDIRECTIONAL; "
    "sync_for_device: TO_DEVICE/BIDIRECTIONAL",
    Swiotlb.DDBD: "map: original -> slot in every direction, without SKIP_CPU_SYNC; sync_for_device: "
    "TO_DEVICE/BIDIRECTIONAL",
    Swiotlb.AA6F: "map and sync_for_device: original -> slot always, in every direction, SKIP or not",
    Swiotlb.REINSTATED: "map: original -> slot always, even with SKIP_CPU_SYNC; sync_for_device: "
    "TO_DEVICE/BIDIRECTIONAL only",
}


@dataclass(frozen=True, order=True)
class Version:
    """A kernel release: mainline `major.minor`, or a stable point release `major.minor.patch`."""

    major: int
    minor: int
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f".{self.patch}" if self.patch else "")

    @property
    def series(self) -> tuple[int, int]:
        return (self.major, self.minor)


def _v(text: str) -> Version:
    return Version(*(int(p) for p in text.split(".")))


MAINLINE: tuple[Version, ...] = (
    Version(4, 20), *(Version(5, m) for m in range(20)), *(Version(6, m) for m in range(20)),
    *(Version(7, m) for m in range(3)),
)
"""The mainline releases the tables cover, v4.20 (udmabuf) to v7.2."""
LATEST = MAINLINE[-1]
DEFAULT = "6.1"
"""The thread's kernel (Oct-Dec 2022)."""
DEFAULT_VERSION = Version(6, 1)


@dataclass(frozen=True)
class Change:
    """A commit that changed a rule: the mainline release it landed in and the first stable
    point release of each older series that got it as a backport."""

    commit: str
    mainline: Version
    backports: tuple[Version, ...] = ()

    def applies(self, v: Version) -> bool:
        if v.series >= self.mainline.series:
            return True
        return any(v.series == b.series and v.patch >= b.patch for b in self.backports)


C50F11C6196F = Change("c50f11c6196f", _v("5.19"), (_v("5.4.201"), _v("5.10.125"), _v("5.15.50"), _v("5.18.6")))
DDBD89DEB7D3 = Change("ddbd89deb7d3", _v("5.17"), (_v("5.4.189"), _v("5.10.110")))
"""In mainline only in v5.17-rc6/rc7 (aa6f8dcbab47 reworked it before v5.17)."""
AA6F8DCBAB47 = Change("aa6f8dcbab47", _v("5.17"), (_v("5.15.29"), _v("5.16.15")))
REVERT_901C7280CA0D = Change("901c7280ca0d", _v("5.18"), (_v("5.10.118"), _v("5.15.33"), _v("5.16.19"), _v("5.17.2")))
"""bddac7c1e02b (the revert) and 901c7280ca0d, together in v5.18-rc1 and the stable trees."""
PREP_CLEAN_ONLY = Change("7bd6680b47fa", _v("6.4"))
"""arm64 arch_dma_prep_coherent cleans only (c44094eee32f, reverted before v6.1, reinstated)."""
HEAPS = Change("efa04fefebbd", _v("5.6"))
"""dma-buf: heaps: the system and CMA heaps are merged."""
HEAPS_SKIP_UNMAPPED = Change("4c68e499bb9d", _v("5.11"))
CACHE_SGT_MAPPING = Change("f13e143e7444", _v("5.3"))
CACHE_SGT_MAPPING_REMOVED = Change("b72f66f22c0e", _v("6.16"))
DYNAMIC_ATTACH = Change("bb42df4662a4", _v("5.7"))
"""dma-buf: add dynamic DMA-buf handling v15: dma_buf_dynamic_attach, importer_ops, pin/unpin."""
PIN_ON_MAP = Change("de68b17d5d07", _v("6.16"))
"""dma-buf: stop mapping sg_tables on attach: a dynamic/static mismatch no longer maps at
dma_buf_dynamic_attach; dma_buf_pin_on_map pins a dynamic exporter's buffer per map instead."""
UDMABUF = Change("fbb0de795078", _v("4.20"))
UDMABUF_CPU_ACCESS = Change("1ffe09590121", _v("5.6"))
UDMABUF_DMA_MASK = Change("9e9fa6a9198b", _v("6.0"), (_v("5.10.141"), _v("5.15.65"), _v("5.19.7")))
"""udmabuf: Set the DMA mask for the udmabuf device (v2), drm-misc-next for v5.20 (v6.0): before it the
misc device had no dma_mask, so begin_cpu_udmabuf's dma_map_sg of it failed (a WARN in
__dma_map_sg_attrs) and begin/end did no cache maintenance. Stable: 5.10.141 and 5.15.65 (from their
-rc1 of 2 Sep 2022); 5.19.7 is inferred from the same day's review."""
UDMABUF_SKIP_CPU_SYNC = Change("504e2b4ab97a", _v("7.2"))
VB2_CACHE_HINTS = Change("f5f5fa73fbfb", _v("5.9"))
VB2_DMA_SG_CPU_ACCESS = Change("d4db5eb57cab", _v("5.9"))
"""media: videobuf2: add begin/end cpu_access callbacks to dma-sg (the same series as f5f5fa73fbfb):
before it a vb2-dma-sg dma-buf had no begin/end_cpu_access."""
VB2_DMA_SG_ORIG_NENTS = Change("a704a3c503ae", _v("6.16"))
"""media: videobuf2: use sgtable-based scatterlist wrappers: begin/end sync orig_nents, not nents.
Backported in June 2025 to 5.10.y, 5.15.y, 6.1.y, 6.6.y, 6.12.y and 6.15.y; point releases not recorded."""
"""media: videobuf2: handle V4L2 buffer cache flags: V4L2_BUF_FLAG_NO_CACHE_INVALIDATE/_CLEAN."""
VB2_NON_COHERENT_MMAP = Change("de27891f675e", _v("5.16"))
"""media: videobuf2: handle non-contiguous DMA allocations: vb2-dma-contig allocates
non-coherent MMAP buffers (V4L2_MEMORY_FLAG_NON_COHERENT) and syncs them in prepare/finish."""


DMA_DEBUG_EEXIST = Change("2b4bbc6231d7", _v("5.14"))
DMA_DEBUG_SKIP_CPU_SYNC = Change("c2bbf9d1e9ac", _v("5.15"))
DMA_DEBUG_SWIOTLB_ACTIVE = Change("03521c892bb8", _v("6.18"))
"""Also queued for 6.6.y, 6.12.y and 6.17.y (October 2025); the point releases are not recorded."""
DMA_DEBUG_DMA_MINALIGN = Change("3d48c9fd78dd", _v("7.0"))
"""A dma-mapping fix of March 2026, taken as v7.0; AUTOSEL proposed it for 6.18.y (not recorded)."""


def dma_debug_overlap_rule(v: Version, arch: Arch) -> DmaDebugOverlap:
    """Which maps dma-debug reports as overlapping in release `v` on `arch`."""
    if arch is Arch.ARM64 and DMA_DEBUG_SWIOTLB_ACTIVE.applies(v):
        return DmaDebugOverlap.SWIOTLB_ACTIVE
    if arch is Arch.X86 and DMA_DEBUG_DMA_MINALIGN.applies(v):
        return DmaDebugOverlap.NO_DMA_MINALIGN
    if DMA_DEBUG_SKIP_CPU_SYNC.applies(v):
        return DmaDebugOverlap.WITHOUT_SKIP
    return DmaDebugOverlap.EVERY_MAP if DMA_DEBUG_EEXIST.applies(v) else DmaDebugOverlap.SILENT


def swiotlb_rule(v: Version) -> Swiotlb:
    """The swiotlb copy rule of release `v` (kernel/dma/swiotlb.c history)."""
    if REVERT_901C7280CA0D.applies(v):
        return Swiotlb.REINSTATED
    if AA6F8DCBAB47.applies(v):
        return Swiotlb.AA6F
    if DDBD89DEB7D3.applies(v):
        return Swiotlb.DDBD
    return Swiotlb.V5_16


def prep_rule(v: Version) -> str:
    """What arm64's arch_dma_prep_coherent does in release `v` (model.config.PREP)."""
    return "clean" if PREP_CLEAN_ONLY.applies(v) else "clean-invalidate"


def arch_sync_rule(v: Version) -> ArchSync:
    return ArchSync.CLEAN if C50F11C6196F.applies(v) else ArchSync.INVALIDATE


class UnknownVersion(ValueError):
    """A version the tables do not cover."""


VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


def parse_version(text: str) -> Version:
    """`"6.1"`, `"5.15.33"` or `"latest"`; a series the tables do not cover is an error."""
    if text == "latest":
        return LATEST
    m = VERSION.match(text)
    if m is None:
        raise UnknownVersion(f"a version like 6.1, 5.15.33 or latest, got {text!r}")
    v = Version(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    if Version(v.major, v.minor) not in MAINLINE:
        known = ", ".join(str(m) for m in MAINLINE)
        raise UnknownVersion(f"a release the tables cover ({known}, or latest), got {text!r}")
    return v
