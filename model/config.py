"""Configurations: who shares the buffer, with what hardware, from which allocator.

A configuration is a TOML file a user writes (or one of the named built-ins under
`model/configs/`). It is parsed and validated once, into frozen values; every error names
the file, the field and what was expected.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from dmabuf_mc.model.exporters import (
    AS_PASSED,
    KIND_FIELDS,
    KIND_NAMES,
    CpuAccess,
    ExporterKind,
    KindUnavailable,
    exporter_kind,
    family_of,
)
from dmabuf_mc.model.kernels import (
    ARCH_SYNC_DOC,
    DEFAULT,
    DEFAULT_VERSION,
    DYNAMIC_ATTACH,
    PIN_ON_MAP,
    SWIOTLB_DOC,
    VB2_CACHE_HINTS,
    VB2_NON_COHERENT_MMAP,
    Arch,
    ArchSync,
    DmaDebugOverlap,
    Swiotlb,
    UnknownVersion,
    Version,
    arch_sync_rule,
    dma_debug_overlap_rule,
    parse_version,
    prep_rule,
    swiotlb_rule,
)


class ConfigError(Exception):
    """A configuration or policy file is malformed: which file (and line, when known),
    which field, what was expected."""

    def __init__(self, file: str, field: str, expected: str, line: int | None = None) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field}: expected {expected}")
        self.file = file
        self.field = field
        self.expected = expected
        self.line = line

    def at(self, text: str) -> ConfigError:
        """The same error with the line of its field in `text`, if it can be found."""
        if self.line is not None:
            return self
        return ConfigError(self.file, self.field, self.expected, locate(text, self.field))


def locate(text: str, field: str) -> int | None:
    """The line where a dotted field (`importer[1].coherent`, `rules.attach`) is set: the
    first assignment of its last key after the header of its table, if any."""
    parts = [re.sub(r"\[\d+\]$", "", p) for p in field.split(".")]
    key, tables = parts[-1], parts[:-1]
    index = int(m.group(1)) if (m := re.search(r"\[(\d+)\]", field)) else 0
    lines = text.splitlines()
    start = 0
    if tables:
        headers = [n for n, ln in enumerate(lines) if re.match(rf"^\s*\[\[?{re.escape(tables[-1])}\]\]?\s*$", ln)]
        if len(headers) > index:
            start = headers[index]
    for n in range(start, len(lines)):
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[n]) or re.match(rf"^\s*\[\[?{re.escape(key)}\]\]?", lines[n]):
            return n + 1
    return None


@dataclass(frozen=True)
class Source:
    """Where the pages come from (docs/semantics.md "Allocation")."""

    name: str
    doc: str
    coherent_alloc: bool  # dma_alloc_coherent/_wc: uncached CPU mapping on a non-coherent device
    contiguous: bool | None  # None: either, say which in the file
    cpu_zeroed: bool  # zeroed through a cacheable mapping, so lines start dirty
    write_combined: bool = False  # the CPU maps it WC/uncached whatever the device


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("system-heap", "alloc_pages(__GFP_ZERO) in the system heap: cached, scattered, "
               "zeroed by the CPU (system_heap.c)", False, False, True),
        Source("cma-heap", "cma_alloc in the CMA heap: cached, contiguous, zeroed by the CPU (cma_heap.c)",
               False, True, True),
        Source("system-heap-uncached", "the vendor system-uncached heap: system-heap pages, "
               "write-combined CPU mappings, cleaned once at allocation (P12)", False, False, False, True),
        Source("cma-heap-uncached", "the vendor cma-uncached heap: CMA pages, write-combined CPU "
               "mappings, cleaned once at allocation (P12)", False, True, False, True),
        Source("driver-cached", "a driver's own cacheable pages (shmem GEM object, "
               "dma_alloc_noncoherent)", False, None, True),
        Source("driver-uncached", "a driver's own pages mapped write-combined or uncached for the "
               "CPU and cleaned once (amdgpu USWC, radeon/nouveau uncached, msm/etnaviv WC BOs)",
               False, None, False, True),
        Source("memfd", "shmem memfd pages wrapped by udmabuf (udmabuf.c)", False, False, True),
        Source("dma-alloc-coherent", "dma_alloc_coherent for the exporter's device: uncached "
               "CPU mapping if that device is non-coherent, flushed at allocation (dma_direct_alloc)",
               True, True, False),
        Source("dma-alloc-wc", "dma_alloc_wc for the exporter's device: write-combined CPU "
               "mapping if that device is non-coherent, flushed at allocation (dma_direct_alloc)", True, True, False),
    )
}

ARCHES: dict[str, str] = {
    "arm64": "arm64: the kernel version decides for-device maintenance of DMA_FROM_DEVICE "
    "(kernel.arch_sync); for-CPU invalidates unless DMA_TO_DEVICE (arch/arm64/mm/dma-mapping.c)",
    "arm32": "arch/arm/mm/dma-mapping.c: map with DMA_FROM_DEVICE invalidates, other "
    "directions clean; for-CPU invalidates unless DMA_TO_DEVICE",
    "x86": "dev_is_dma_coherent() is always true, so the DMA API does no cache maintenance; "
    "a device whose traffic does not snoop (PCIe no-snoop, scan-out) reads memory",
}
LEGACY_ARCH = "arm64-before-c50f11c6196f"
"""An older spelling of arch = "arm64" with arch_sync = "before-c50f11c6196f"."""
SWIOTLB: dict[str, str] = {str(k): v for k, v in SWIOTLB_DOC.items()}
ARCH_SYNC: dict[str, str] = {str(k): v for k, v in ARCH_SYNC_DOC.items()}
IOMMU: dict[str, str] = {
    "strict": "iommu.strict=1: the IOTLB is invalidated at unmap; a later access faults",
    "lazy": "iommu.strict=0: invalidation is deferred to a flush queue that drains at any time; "
    "until then the old translation still reaches the pages",
}
PREP: dict[str, str] = {
    "clean": "arch_dma_prep_coherent cleans the cacheable linear alias (arm64 since 7bd6680b47fa): "
    "a line the pages' previous owner left stays valid, now stale",
    "clean-invalidate": "arch_dma_prep_coherent cleans and invalidates the alias (arm64 before c44094eee32f)",
    "none": "an allocator that does not prep: the previous owner's dirty lines stay in the cache",
}


@dataclass(frozen=True)
class Kernel:
    """Which kernel the check models: its version, and the rules that version had (each
    overridable in the file: "this kernel, but with that patch")."""

    version: Version = DEFAULT_VERSION
    arch: Arch = Arch.ARM64
    arch_sync: ArchSync = ArchSync.CLEAN  # v6.1's; a test checks these against the tables
    swiotlb: Swiotlb = Swiotlb.REINSTATED
    iommu: str = "strict"
    file: str | None = None
    """The kernel file it was described by (its rules over release `version`); None: the release."""

    @classmethod
    def of(cls, version: Version, **overrides: Any) -> Kernel:
        """The kernel `version` with the rules it had, then the overrides."""
        return replace(cls(version, arch_sync=arch_sync_rule(version), swiotlb=swiotlb_rule(version)), **overrides)

    @property
    def dma_debug_overlap(self) -> DmaDebugOverlap:
        """Which overlapping maps dma-debug reports in this kernel (model.kernels)."""
        return dma_debug_overlap_rule(self.version, self.arch)

    @property
    def invalidates_from_device(self) -> bool:
        """Whether arch_sync_dma_for_device(DMA_FROM_DEVICE) invalidates instead of cleaning."""
        return self.arch is Arch.ARM32 or (self.arch is Arch.ARM64 and self.arch_sync is ArchSync.INVALIDATE)


@dataclass(frozen=True)
class Importer:
    """An importing device. `coherent` is what dev_is_dma_coherent() says (so whether the
    DMA API does cache maintenance); `snoops` is what the hardware does (dev_is_dma_coherent)."""

    name: str
    coherent: bool
    snoops: bool
    iommu: bool
    dma_mask: int
    needs_contiguous: bool
    reads: bool
    writes: bool
    map_directions: tuple[str, ...]
    """The directions its driver passes to dma_buf_map_attachment."""
    partial_writes: bool = True
    """A transfer may write some lines and not others; false: every write covers the buffer."""
    mapping: str = "any"
    """MAPPING: when its driver maps and unmaps."""
    vmap_user: bool = False
    """Its driver is the `[clients] vmap` user, so that user's begin/end_cpu_access are the
    driver's own brackets (only for mapping = "held")."""
    dynamic: bool = False
    """It attaches with dma_buf_dynamic_attach and importer_ops (move_notify)."""


MAPPING = {
    "any": "maps and unmaps at any time, and the CPU may access the buffer meanwhile",
    "per-job": "maps at QBUF and unmaps at DQBUF, and the CPU leaves a queued buffer alone "
    "(V4L2: the driver owns it from QBUF until __vb2_dqbuf)",
    "once": "maps once and keeps the mapping until it detaches, and may unmap, detach and attach "
    "again at any time, inside a CPU bracket too",
    "held": "maps right after attach and holds the mapping for the importer's life: unmap then "
    "detach, once, at its release, never again attached; with vmap_user its own CPU brackets "
    "(the vmap user's begin/end_cpu_access) never overlap its unmap (a display scanning out, "
    "a GPU, an RDMA NIC)",
}
DYNAMIC = {
    "false": "dma_buf_attach: a static importer",
    "true": "dma_buf_dynamic_attach with importer_ops: maps and unmaps under dmabuf->resv. Every "
    "modelled exporter is static (no pin/unpin), so before de68b17d5d07 (v6.16) the core maps the "
    "buffer DMA_BIDIRECTIONAL at attach and hands that table back on every map, with no "
    "maintenance, until detach; since then it maps as a static importer does. No modelled exporter "
    "moves its buffer, so move_notify is never called",
}


def natural_direction(reads: bool, writes: bool) -> str:
    """The direction a driver maps with for its transfer: the device reads the buffer
    (DMA_TO_DEVICE), writes it (DMA_FROM_DEVICE) or both."""
    if reads and writes:
        return "DMA_BIDIRECTIONAL"
    return "DMA_TO_DEVICE" if reads else "DMA_FROM_DEVICE"


@dataclass(frozen=True)
class Exporter:
    kind: ExporterKind
    coherent: bool  # dev_is_dma_coherent(exporter's device): decides dma_alloc_* cacheability
    cpu_writes: bool  # the exporter's own kernel CPU writes (memcpy into its buffer)
    brackets_own_cpu_access: bool  # it wraps them in its begin/end_cpu_access (P9)
    own_access_direction: str = AS_PASSED
    """The direction the driver passes to its own begin/end; AS_PASSED: one that covers a write."""
    iommu: bool = False  # the exporter's own device is behind an IOMMU (matters for sync_nents)
    dma: str = "none"
    """ACCESS: what the exporter's own device does to a buffer queued to it (a V4L2 capture
    queue writes, an output queue reads), between vb2_qbuf and vb2_dqbuf."""
    snoops: bool = False
    """Whether the exporter's device's DMA snoops the CPU caches (default: = coherent)."""
    cache_hints: tuple[str, ...] = ()
    """CACHE_HINTS userspace passes at every QBUF of the buffer."""

    @property
    def queue_direction(self) -> str:
        """The vb2 queue's dma_dir: DMA_FROM_DEVICE for capture, DMA_TO_DEVICE for output,
        DMA_BIDIRECTIONAL for a bidirectional queue (vb2_core_queue_init)."""
        return natural_direction("read" in self.dma, "write" in self.dma)


@dataclass(frozen=True)
class Buffer:
    lines: int
    source: Source
    above_4g: bool
    contiguous: bool
    cpu_zeroed: bool
    prep: str = "clean-invalidate"
    """PREP (v6.1's by default): what dma_alloc_coherent/_wc did to the linear alias of pages it remaps uncached."""


@dataclass(frozen=True)
class Configuration:
    name: str
    description: str
    exporter: Exporter
    buffer: Buffer
    mmap: str
    """What userspace does through its mmap of the fd: ACCESS value."""
    vmap: str
    """What an importer's kernel driver does through dma_buf_vmap: ACCESS value."""
    importers: tuple[Importer, ...]
    kernel: Kernel = Kernel()
    jobs: str = "atomic"
    """JOBS: whether a device access is one atomic step or a job behind a dma_resv fence."""
    fence_wait: str = "after-callback"
    """FENCE_WAIT (fenced jobs only): where dma_buf_begin_cpu_access waits for the fences."""

    @property
    def fenced(self) -> bool:
        return self.jobs == "fenced"

    @property
    def userspace_mmap(self) -> bool:
        return self.mmap != "none"

    @property
    def cached(self) -> bool:
        """Whether the CPU reaches the buffer through a cacheable mapping (dma_direct_alloc, heaps, drivers)."""
        if self.buffer.source.write_combined:
            return False
        return not (self.buffer.source.coherent_alloc and not self.dma_coherent(self.exporter.coherent))

    def initial_line(self) -> tuple[str, bool, bool]:
        """A line at allocation: (cache line, whether it holds the latest value, whether
        memory does). Pages zeroed through a cacheable mapping start dirty (system_heap.c:
        __GFP_ZERO). Pages dma_alloc_coherent remaps uncached are zeroed through the uncached
        mapping after arch_dma_prep_coherent (kernel/dma/direct.c: dma_direct_alloc), so
        what the previous owner left in the cacheable alias is stale; write-combined heap and
        driver pages are flushed once after zeroing."""
        source = self.buffer.source
        if self.cached:
            dirty = self.buffer.cpu_zeroed or source.coherent_alloc
            return ("dirty", True, False) if dirty else ("invalid", False, True)
        if not source.coherent_alloc:
            return ("invalid", False, True)
        return {"clean": ("clean", False, True), "clean-invalidate": ("invalid", False, True),
                "none": ("dirty", False, True)}[self.buffer.prep]

    def dma_coherent(self, coherent: bool) -> bool:
        """dev_is_dma_coherent() of a device the file says is (not) coherent: always true on x86."""
        return coherent or self.kernel.arch is Arch.X86

    def attach_maps(self, imp: Importer) -> bool:
        """Whether dma_buf_dynamic_attach maps the buffer for `imp` at attach time and keeps the
        table in attach->sgt until detach: importer-dynamic != exporter-dynamic, before
        de68b17d5d07 (v6.16). No modelled exporter has pin/unpin (dma_buf_is_dynamic is
        false for heaps, udmabuf, videobuf2 and the DRM PRIME helpers), so the mismatch is
        exactly a dynamic importer."""
        return imp.dynamic and not PIN_ON_MAP.applies(self.kernel.version)

    @property
    def memops_sync(self) -> bool:
        """Whether the exporter's vb2 prepare/finish memops sync its device: vb2-dma-sg's always
        (vb2_dma_sg_prepare/_finish); vb2-dma-contig's only for non-coherent, cacheable memory,
        as they return early on a coherent buffer (vb2_dc_prepare/_finish, since de27891f675e)."""
        return family_of(self.exporter.kind) == "vb2-dma-sg" or self.buffer.source.name == "driver-cached"

    def bounces(self, imp: Importer) -> bool:
        """Whether dma_map_* bounces through swiotlb for this importer (dma_direct_map_page)."""
        return not imp.iommu and imp.dma_mask == 32 and self.buffer.above_4g


ACCESS = ("none", "read", "write", "read-write")
MAX_IMPORTERS = 6
"""The most [[importer]] tables a configuration may have: every one adds its own variables,
so states grow fast; sweeps of many cap each check (--max-states)."""
MAX_LINES = 4
"""The most cache lines a buffer may have (buffer.lines)."""
JOBS: dict[str, str] = {
    "atomic": "each device DMA is one step, ordered by the history; no fences",
    "fenced": "a device access is a job: its driver adds a fence to the buffer's dma_resv at "
    "submit (DMA_RESV_USAGE_WRITE if the device writes, READ if it only reads), the device's DMA "
    "runs while the fence is pending, and completion signals it",
}
FENCE_WAIT: dict[str, str] = {
    "after-callback": "dma_buf_begin_cpu_access calls the exporter's begin_cpu_access, then waits "
    "for the implicit fences (every release since the wait came in, v4.9)",
    "before-callback": "a patched core that waits for the implicit fences before the exporter's "
    "begin_cpu_access, as DRM drivers' own cpu_prep ioctls do (not mainline)",
}

KERNEL_RULES: dict[str, dict[str, str]] = {"arch_sync": ARCH_SYNC, "swiotlb": SWIOTLB, "fence_wait": FENCE_WAIT}
"""The rules a kernel file, or a configuration's [kernel] table, may set over its release's."""
KERNEL_FILE = ("a kernel file, found from the configuration's directory: base = the release it starts from, "
               f"then any of {', '.join(KERNEL_RULES)} over that release's rules (a vendor tree, a backport, "
               "a proposed patch), and a description")

EXPORTER_DMA_FAMILIES = ("vb2-dma-contig", "vb2-dma-sg")
"""The exporters whose own device DMAs the buffer between QBUF and DQBUF (vb2_*_prepare/finish)."""
CACHE_HINTS: dict[str, str] = {
    "V4L2_BUF_FLAG_NO_CACHE_CLEAN": "skip the prepare memop's sync for the device at QBUF "
    "(vb->skip_cache_sync_on_prepare)",
    "V4L2_BUF_FLAG_NO_CACHE_INVALIDATE": "skip the finish memop's sync for the CPU when the buffer is "
    "done (vb->skip_cache_sync_on_finish)",
}
"""The V4L2 cache hints (videobuf2-v4l2.c:set_buffer_cache_hints). vb2 honours them only on a queue
with allow_cache_hints and MMAP memory (vb2_queue_allows_cache_hints), which an exported buffer
always is (vb2_core_expbuf): naming one says the driver sets allow_cache_hints."""


class Reader:
    """Typed access to one TOML table, recording field paths for errors."""

    def __init__(self, file: str, table: Any, path: str) -> None:
        self.file = file
        self.path = path
        if not isinstance(table, dict):
            raise ConfigError(file, path or "(top level)", "a table")
        self.table = table
        self.used: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type, default: Any = None, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.table:
            if required:
                raise ConfigError(self.file, self.field(key), f"a {kind.__name__} (required)")
            return default
        value = self.table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise ConfigError(self.file, self.field(key), f"a {kind.__name__}, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...] | list[str], default: str | None = None) -> str:
        value = self.get(key, str, default, required=default is None)
        if value not in choices:
            raise ConfigError(self.file, self.field(key), f"one of {', '.join(choices)}; got {value!r}")
        return value

    def override(self, key: str, choices: tuple[str, ...] | list[str]) -> str | None:
        """An optional field with no default (it overrides one decided elsewhere): None if absent."""
        self.used.add(key)
        return self.choice(key, choices) if key in self.table else None

    def sub(self, key: str) -> Reader:
        self.used.add(key)
        return Reader(self.file, self.table.get(key, {}), self.field(key))

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used))
            raise ConfigError(self.file, self.field(unknown[0]), f"no such field (known: {known})")


MAX_BYTES = 2**20
"""The largest configuration or policy text read: a hundred times the largest built-in
configuration; larger text is refused before it is parsed."""


def _too_large(file: str, size: int) -> ConfigError:
    return ConfigError(file, "(file)", f"a file of at most {MAX_BYTES:,} bytes, got {size:,}")


def read_toml(text: str, file: str) -> dict[str, Any]:
    """TOML text as a table; a syntax error names the file and line."""
    if len(text) > MAX_BYTES:
        raise _too_large(file, len(text))
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"at line (\d+)", str(e))
        raise ConfigError(file, "(syntax)", f"valid TOML ({e})", int(line.group(1)) if line else None) from None
    except RecursionError:
        raise ConfigError(file, "(syntax)", "valid TOML (nested too deeply)") from None
    except ValueError as e:  # the parser's other refusals (a value out of range)
        raise ConfigError(file, "(syntax)", f"valid TOML ({e})") from None


def read_file(path: str) -> str:
    """A file's text, or a ConfigError naming it (a file over MAX_BYTES is not read)."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:
            raise _too_large(path, size)
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, "(file)", f"a readable UTF-8 TOML file ({e})") from None


NAME = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
RESERVED = ("dma_buf", "cpu", "observed", "exporter", "hardware", "kernel", "userspace")  # the model's own trace rows


def _importer(file: str, table: Any, k: int) -> Importer:
    r = Reader(file, table, f"importer[{k}]")
    imp = importer(r)
    r.done()
    return imp


def importer(r: Reader) -> Importer:
    """An importer's fields from its table (a configuration's `[[importer]]`, or a sweep's
    device profile file); the caller says when the table is done."""
    file = r.file
    name = r.get("name", str, required=True)
    if not NAME.match(name) or name in RESERVED:
        raise ConfigError(file, r.field("name"), f"a short lower-case name like 'isp' or 'gpu0', not one of "
                          f"the model's own ({', '.join(RESERVED)}); got {name!r}")
    coherent = r.get("coherent", bool, required=True)
    dma_mask = r.get("dma_mask", int, 64)
    if dma_mask not in (32, 64):
        raise ConfigError(file, r.field("dma_mask"), f"32 or 64, got {dma_mask}")
    reads = r.get("reads", bool, True)
    writes = r.get("writes", bool, False)
    if not (reads or writes):
        raise ConfigError(file, r.field("reads"), "an importer that reads, writes or both")
    directions = r.get("map_directions", list, [natural_direction(reads, writes)])
    natural = natural_direction(reads, writes)
    allowed = (natural,) if natural == "DMA_BIDIRECTIONAL" else (natural, "DMA_BIDIRECTIONAL")
    for k_dir, direction in enumerate(directions):
        if direction not in allowed:
            field = f"{r.field('map_directions')}[{k_dir}]"
            raise ConfigError(file, field, f"one of {', '.join(allowed)} for this importer; got {direction!r}")
    if not directions or len(set(directions)) != len(directions):
        raise ConfigError(file, r.field("map_directions"), "a non-empty list of distinct directions")
    imp = Importer(
        name=name,
        coherent=coherent,
        snoops=r.get("snoops", bool, coherent),
        iommu=r.get("iommu", bool, False),
        dma_mask=dma_mask,
        needs_contiguous=r.get("needs_contiguous", bool, False),
        reads=reads,
        writes=writes,
        map_directions=tuple(directions),
        partial_writes=r.get("partial_writes", bool, True),
        mapping=r.choice("mapping", tuple(MAPPING), "any"),
        vmap_user=r.get("vmap_user", bool, False),
        dynamic=r.get("dynamic", bool, False),
    )
    if imp.vmap_user and imp.mapping != "held":
        raise ConfigError(file, r.field("vmap_user"), 'mapping = "held" (the driver\'s own CPU brackets '
                          f'are kept apart from its unmap only for an importer that holds its mapping); got mapping = '
                          f'"{imp.mapping}"')
    return imp


def _exporter_kind(r: Reader, kernel: Kernel) -> ExporterKind:
    """The named kind as the configured kernel has it, with any of its fields overridden by
    the file (buggy or proposed callbacks written as data)."""
    name = r.choice("kind", KIND_NAMES)
    try:
        kind = exporter_kind(name, kernel.version)
    except KindUnavailable as e:
        raise ConfigError(r.file, r.field("kind"), str(e)) from None
    overrides = {}
    for key, spec in KIND_FIELDS.items():
        if key in r.table:
            overrides[key] = r.get(key, bool) if spec is bool else type(spec[0])(r.choice(key, spec))
    if not overrides:
        return kind
    changed = ", ".join(f"{k} = {v}" for k, v in overrides.items())
    return replace(kind, doc=f"{kind.doc}; modified: {changed}", **overrides)


def _cache_hints(r: Reader) -> tuple[str, ...]:
    """`[exporter] cache_hints`: distinct CACHE_HINTS names."""
    hints = r.get("cache_hints", list, [])
    for k, hint in enumerate(hints):
        if hint not in CACHE_HINTS:
            field = f"{r.field('cache_hints')}[{k}]"
            raise ConfigError(r.file, field, f"one of {', '.join(CACHE_HINTS)}; got {hint!r}")
    if len(set(hints)) != len(hints):
        raise ConfigError(r.file, r.field("cache_hints"), f"distinct hints, got {hints}")
    return tuple(hints)


def _queue_direction(r: Reader, exporter: Exporter) -> ExporterKind:
    """vb2-dma-sg's begin/end sync with the queue's own direction (buf->dma_dir), so a queue
    the file says reads syncs DMA_TO_DEVICE, unless the file overrides the field itself."""
    kind = exporter.kind
    fixed = exporter.queue_direction
    if kind.cpu_access is not CpuAccess.EXPORTER_DEVICE or "cpu_access_direction" in r.table:
        return kind
    if kind.cpu_access_direction == fixed:
        return kind
    return replace(kind, doc=f"{kind.doc}; the queue's direction is {fixed}", cpu_access_direction=fixed)


def _check_exporter_dma(file: str, exporter: Exporter, buffer: Buffer, kernel: Kernel) -> None:
    """The exporter's own DMA and cache hints only where the kernel has them: a videobuf2
    exporter, a non-coherent vb2-dma-contig buffer only since de27891f675e, hints only since
    f5f5fa73fbfb and only where a prepare/finish memop syncs."""
    family = family_of(exporter.kind)
    if exporter.dma != "none" and family not in EXPORTER_DMA_FAMILIES:
        raise ConfigError(file, "exporter.dma", f"\"none\" for a {family} exporter: only the "
                          f"{' and '.join(EXPORTER_DMA_FAMILIES)} exporters DMA with their own device "
                          "(vb2_*_prepare/finish)")
    if exporter.dma != "none" and kernel.arch is Arch.X86 and not exporter.coherent:
        raise ConfigError(file, "exporter.coherent", "true with kernel.arch = \"x86\" for an exporter that DMAs: "
                          "dev_is_dma_coherent() is always true there; a device whose traffic does not snoop "
                          "is coherent = true, snoops = false")
    non_coherent_dc = family == "vb2-dma-contig" and buffer.source.name == "driver-cached"
    if exporter.dma != "none" and non_coherent_dc and not VB2_NON_COHERENT_MMAP.applies(kernel.version):
        raise ConfigError(file, "buffer.source", "\"dma-alloc-coherent\" or \"dma-alloc-wc\": vb2-dma-contig "
                          f"allocates cacheable (non-coherent) MMAP buffers only since "
                          f"{VB2_NON_COHERENT_MMAP.commit} (v{VB2_NON_COHERENT_MMAP.mainline}), got v{kernel.version}")
    if not exporter.cache_hints:
        return
    if exporter.dma == "none":
        raise ConfigError(file, "exporter.cache_hints", "exporter.dma set: the hints skip the syncs around "
                          "the exporting device's own DMA")
    if not VB2_CACHE_HINTS.applies(kernel.version):
        raise ConfigError(file, "exporter.cache_hints", f"a kernel with V4L2 cache hints (since "
                          f"{VB2_CACHE_HINTS.commit}, v{VB2_CACHE_HINTS.mainline}), got v{kernel.version}")
    if family == "vb2-dma-contig" and not non_coherent_dc:
        raise ConfigError(file, "exporter.cache_hints", "[] for a coherent vb2-dma-contig buffer: "
                          "vb2_dc_prepare/vb2_dc_finish do no maintenance on coherent memory, so there is "
                          "nothing to skip (buffer.source = \"driver-cached\" is a V4L2_MEMORY_FLAG_NON_COHERENT "
                          "buffer)")


def _release(r: Reader, key: str) -> Version:
    """A release named by field `key` (a [kernel] version, a kernel file's base)."""
    try:
        return parse_version(r.get(key, str, DEFAULT))
    except UnknownVersion as e:
        raise ConfigError(r.file, r.field(key), str(e)) from None


def _rules(r: Reader) -> dict[str, str]:
    """The KERNEL_RULES a table sets."""
    return {k: v for k, values in KERNEL_RULES.items() if (v := r.override(k, tuple(values))) is not None}


def read_kernel(path: str, text: str) -> tuple[Version, dict[str, str]]:
    """A kernel file's text: the release it starts from (`base`) and the KERNEL_RULES it sets
    over that release's, e.g. a vendor tree with a backport; `description` is for its reader."""
    try:
        r = Reader(path, read_toml(text, path), "")
        r.get("description", str, "")
        if "base" not in r.table:
            raise ConfigError(path, "base", f"the release the kernel starts from, like {DEFAULT} or 5.15.33 (required)")
        base = _release(r, "base")
        rules = _rules(r)
        r.done()
    except ConfigError as e:
        raise e.at(text) from None
    return base, rules


def _kernel(r: Reader, kernels: Mapping[str, str]) -> tuple[Kernel, str]:
    """The `[kernel]` table: a release, or a kernel file (`version = "mine.toml"`, found beside
    the configuration, or its text in `kernels`), with the rules it decides unless the table
    sets them; and the fence_wait rule, which the configuration keeps."""
    name = r.get("version", str, DEFAULT)
    rules: dict[str, str] = {}
    file = None
    if name.endswith(".toml"):
        file = str(Path(r.file).parent / name)
        if file not in kernels and not Path(file).is_file():
            raise ConfigError(r.file, r.field("version"), f"a release like {DEFAULT} or a kernel file; "
                              f"there is no {file}")
        version, rules = read_kernel(file, kernels[file] if file in kernels else read_file(file))
    else:
        version = _release(r, "version")
    arch = r.choice("arch", (*ARCHES, LEGACY_ARCH), "arm64")
    if arch == LEGACY_ARCH:
        arch, rules["arch_sync"] = "arm64", str(ArchSync.INVALIDATE)
    rules |= _rules(r)
    overrides = {k: kind(rules[k]) for k, kind in (("arch_sync", ArchSync), ("swiotlb", Swiotlb)) if k in rules}
    kernel = Kernel.of(version, arch=Arch(arch), iommu=r.choice("iommu", tuple(IOMMU), "strict"), file=file,
                       **overrides)
    return kernel, rules.get("fence_wait", Configuration.fence_wait)


def parse(text: str, file: str, kernels: Mapping[str, str] | None = None) -> Configuration:
    """Parse and validate a configuration from TOML text; `file` names it in errors.
    `kernels`: the text of kernel files by path, read instead of the files (an artefact
    carries the kernel file its configuration names)."""
    try:
        return _parse(text, file, kernels or {})
    except ConfigError as e:
        raise (e.at(text) if e.file == file else e) from None  # or an error in the kernel file it names


def _parse(text: str, file: str, kernels: Mapping[str, str]) -> Configuration:
    doc = read_toml(text, file)
    top = Reader(file, doc, "")
    name = top.get("name", str, Path(file).stem)
    description = top.get("description", str, "")

    kr = top.sub("kernel")
    kernel, fence_wait = _kernel(kr, kernels)
    kr.done()

    ex = top.sub("exporter")
    exporter = Exporter(
        kind=_exporter_kind(ex, kernel),
        coherent=ex.get("coherent", bool, False),
        cpu_writes=ex.get("cpu_writes", bool, False),
        brackets_own_cpu_access=ex.get("brackets_own_cpu_access", bool, False),
        own_access_direction=ex.choice("own_access_direction", KIND_FIELDS["cpu_access_direction"], AS_PASSED),
        iommu=ex.get("iommu", bool, False),
        dma=ex.choice("dma", ACCESS, "none"),
        snoops=ex.get("snoops", bool, ex.get("coherent", bool, False)),
        cache_hints=_cache_hints(ex),
    )
    if exporter.dma != "none":
        exporter = replace(exporter, kind=_queue_direction(ex, exporter))
    elif "snoops" in ex.table:
        raise ConfigError(file, "exporter.snoops", "exporter.dma set: only a device that DMAs snoops or not")
    ex.done()
    if exporter.brackets_own_cpu_access and not exporter.cpu_writes:
        expected = "exporter.cpu_writes = true (it brackets its own writes)"
        raise ConfigError(file, "exporter.brackets_own_cpu_access", expected)
    if exporter.own_access_direction != AS_PASSED and not exporter.brackets_own_cpu_access:
        expected = "exporter.brackets_own_cpu_access = true (the direction of its own bracket)"
        raise ConfigError(file, "exporter.own_access_direction", expected)

    bu = top.sub("buffer")
    allowed = exporter.kind.sources
    source = SOURCES[bu.choice("source", allowed, allowed[0])]
    lines = bu.get("lines", int, 1)
    if not 1 <= lines <= MAX_LINES:
        raise ConfigError(file, "buffer.lines", f"1 to {MAX_LINES} cache lines, got {lines}")
    contiguous = bu.get("contiguous", bool, source.contiguous if source.contiguous is not None else False)
    if source.contiguous is not None and contiguous != source.contiguous:
        raise ConfigError(file, "buffer.contiguous", f"{str(source.contiguous).lower()} for a {source.name} buffer")
    cpu_zeroed = bu.get("cpu_zeroed", bool, source.cpu_zeroed)
    if cpu_zeroed and (source.coherent_alloc or source.write_combined):
        raise ConfigError(file, "buffer.cpu_zeroed", f"false: {source.name} is flushed at allocation")
    prep = bu.choice("prep", tuple(PREP), prep_rule(kernel.version))
    if "prep" in bu.table and not source.coherent_alloc:
        raise ConfigError(file, "buffer.prep", f"a dma-alloc-coherent or dma-alloc-wc source for prep = {prep!r}")
    buffer = Buffer(lines, source, bu.get("above_4g", bool, False), contiguous, cpu_zeroed, prep)
    bu.done()
    _check_exporter_dma(file, exporter, buffer, kernel)

    cl = top.sub("clients")
    mmap = cl.choice("mmap", ACCESS, "none")
    vmap = cl.choice("vmap", ACCESS, "none")
    cl.done()

    jobs = top.choice("jobs", tuple(JOBS), "atomic")
    if "fence_wait" in kr.table and jobs != "fenced":
        raise ConfigError(file, "kernel.fence_wait", 'jobs = "fenced" (the wait is for device jobs\' fences)')

    top.used.add("importer")
    tables = doc.get("importer", [])
    if not isinstance(tables, list) or not 1 <= len(tables) <= MAX_IMPORTERS:
        raise ConfigError(file, "importer", f"1 to {MAX_IMPORTERS} [[importer]] tables")
    importers = tuple(_importer(file, t, k) for k, t in enumerate(tables))
    names = [i.name for i in importers]
    if len(set(names)) != len(names):
        raise ConfigError(file, "importer.name", f"distinct names, got {names}")
    for k, imp in enumerate(importers):
        if kernel.arch is Arch.X86 and not imp.coherent:
            raise ConfigError(file, f"importer[{k}].coherent", "true with kernel.arch = \"x86\": dev_is_dma_coherent() "
                              "is always true there (dev_is_dma_coherent); a device whose traffic does not snoop is "
                              "coherent = true, snoops = false")
    _check_vmap_users(file, importers, vmap)
    for k, imp in enumerate(importers):
        if imp.dynamic and not DYNAMIC_ATTACH.applies(kernel.version):
            raise ConfigError(file, f"importer[{k}].dynamic", f"a kernel with dma_buf_dynamic_attach (since "
                              f"v{DYNAMIC_ATTACH.mainline}, {DYNAMIC_ATTACH.commit}), got v{kernel.version}")
    top.done()
    return Configuration(name, description, exporter, buffer, mmap, vmap, importers, kernel, jobs, fence_wait)


def _check_vmap_users(file: str, importers: tuple[Importer, ...], vmap: str) -> None:
    """At most one importer's driver is the vmap user, and only when there is one."""
    users = [k for k, imp in enumerate(importers) if imp.vmap_user]
    if users and vmap == "none":
        raise ConfigError(file, f"importer[{users[0]}].vmap_user", 'a vmap user: set [clients] vmap to "read", '
                          '"write" or "read-write"')
    if len(users) > 1:
        raise ConfigError(file, f"importer[{users[1]}].vmap_user", f"one vmap user, importer[{users[0]}] already is")


def builtin_names() -> list[str]:
    """Names of the configurations shipped under model/configs/."""
    return sorted(p.name[:-5] for p in resources.files("dmabuf_mc.model.configs").iterdir() if p.name.endswith(".toml"))


def load(name_or_path: str) -> Configuration:
    """A built-in configuration by name, or a TOML file by path."""
    if name_or_path in builtin_names():
        res = resources.files("dmabuf_mc.model.configs") / f"{name_or_path}.toml"
        return parse(res.read_text(), f"model/configs/{name_or_path}.toml")
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(name_or_path, "(file)", f"a configuration file or one of: {', '.join(builtin_names())}")
    return parse(read_file(name_or_path), name_or_path)
