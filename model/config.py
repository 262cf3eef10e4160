"""Configurations: who shares the buffer, with what hardware, from which allocator.

A configuration is a TOML file a user writes (or one of the named built-ins under
`model/configs/`). It is parsed and validated once, into frozen values; every error names
the file, the field and what was expected (DESIGN.md "Configuration").
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from model.exporters import EXPORTER_KINDS, ExporterKind


class ConfigError(Exception):
    """A configuration file is malformed: which file, which field, what was expected."""

    def __init__(self, file: str, field: str, expected: str) -> None:
        super().__init__(f"{file}: {field}: expected {expected}")
        self.file = file
        self.field = field
        self.expected = expected


@dataclass(frozen=True)
class Source:
    """Where the pages come from (DOMAIN.md §4, §7, §8)."""

    name: str
    doc: str
    coherent_alloc: bool  # dma_alloc_coherent/_wc: uncached CPU mapping on a non-coherent device
    contiguous: bool | None  # None: either, say which in the file
    cpu_zeroed: bool  # zeroed through a cacheable mapping, so lines start dirty


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("system-heap", "alloc_pages(__GFP_ZERO) in the system heap: cached, scattered, "
               "zeroed by the CPU (§7)", False, False, True),
        Source("cma-heap", "cma_alloc in the CMA heap: cached, contiguous, zeroed by the CPU (§7)",
               False, True, True),
        Source("driver-cached", "a driver's own cacheable pages (shmem GEM object, "
               "dma_alloc_noncoherent)", False, None, True),
        Source("memfd", "shmem memfd pages wrapped by udmabuf (§8)", False, False, True),
        Source("dma-alloc-coherent", "dma_alloc_coherent for the exporter's device: uncached "
               "CPU mapping if that device is non-coherent, flushed at allocation (§4)", True, True, False),
        Source("dma-alloc-wc", "dma_alloc_wc for the exporter's device: write-combined CPU "
               "mapping if that device is non-coherent, flushed at allocation (§4)", True, True, False),
    )
}

ALLOWED_SOURCES: dict[str, tuple[str, ...]] = {
    "heap": ("system-heap", "cma-heap"),
    "drm-prime": ("driver-cached", "dma-alloc-coherent", "dma-alloc-wc"),
    "vb2-dma-contig": ("driver-cached", "dma-alloc-coherent", "dma-alloc-wc"),
    "udmabuf-v4.20": ("memfd",),
}


@dataclass(frozen=True)
class Importer:
    """An importing device. `coherent` is what dev_is_dma_coherent() says (so whether the
    DMA API does cache maintenance); `snoops` is what the hardware does (§3.1)."""

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


@dataclass(frozen=True)
class Buffer:
    lines: int
    source: Source
    above_4g: bool
    contiguous: bool
    cpu_zeroed: bool


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

    @property
    def userspace_mmap(self) -> bool:
        return self.mmap != "none"

    @property
    def cached(self) -> bool:
        """Whether the CPU reaches the buffer through a cacheable mapping (§4)."""
        return not (self.buffer.source.coherent_alloc and not self.exporter.coherent)

    def bounces(self, imp: Importer) -> bool:
        """Whether dma_map_* bounces through swiotlb for this importer (§5.1)."""
        return not imp.iommu and imp.dma_mask == 32 and self.buffer.above_4g


ACCESS = ("none", "read", "write", "read-write")


class _Reader:
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

    def sub(self, key: str) -> _Reader:
        self.used.add(key)
        return _Reader(self.file, self.table.get(key, {}), self.field(key))

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used))
            raise ConfigError(self.file, self.field(unknown[0]), f"no such field (known: {known})")


NAME = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")


def _importer(file: str, table: Any, k: int) -> Importer:
    r = _Reader(file, table, f"importer[{k}]")
    name = r.get("name", str, required=True)
    if not NAME.match(name):
        raise ConfigError(file, r.field("name"), f"a short lower-case name like 'isp' or 'gpu0', got {name!r}")
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
    )
    r.done()
    return imp


def parse(text: str, file: str) -> Configuration:
    """Parse and validate a configuration from TOML text; `file` names it in errors."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, "(syntax)", f"valid TOML ({e})") from None
    top = _Reader(file, doc, "")
    name = top.get("name", str, Path(file).stem)
    description = top.get("description", str, "")

    ex = top.sub("exporter")
    kind = EXPORTER_KINDS[ex.choice("kind", sorted(EXPORTER_KINDS))]
    exporter = Exporter(
        kind=kind,
        coherent=ex.get("coherent", bool, False),
        cpu_writes=ex.get("cpu_writes", bool, False),
        brackets_own_cpu_access=ex.get("brackets_own_cpu_access", bool, False),
    )
    ex.done()
    if exporter.brackets_own_cpu_access and not exporter.cpu_writes:
        expected = "exporter.cpu_writes = true (it brackets its own writes)"
        raise ConfigError(file, "exporter.brackets_own_cpu_access", expected)

    bu = top.sub("buffer")
    allowed = ALLOWED_SOURCES[kind.name]
    source = SOURCES[bu.choice("source", allowed, allowed[0])]
    lines = bu.get("lines", int, 1)
    if lines not in (1, 2):
        raise ConfigError(file, "buffer.lines", f"1 or 2 cache lines, got {lines}")
    contiguous = bu.get("contiguous", bool, source.contiguous if source.contiguous is not None else False)
    if source.contiguous is not None and contiguous != source.contiguous:
        raise ConfigError(file, "buffer.contiguous", f"{str(source.contiguous).lower()} for a {source.name} buffer")
    cpu_zeroed = bu.get("cpu_zeroed", bool, source.cpu_zeroed)
    if cpu_zeroed and source.coherent_alloc:
        raise ConfigError(file, "buffer.cpu_zeroed", f"false: {source.name} is flushed at allocation")
    buffer = Buffer(lines, source, bu.get("above_4g", bool, False), contiguous, cpu_zeroed)
    bu.done()

    cl = top.sub("clients")
    mmap = cl.choice("mmap", ACCESS, "none")
    vmap = cl.choice("vmap", ACCESS, "none")
    cl.done()

    top.used.add("importer")
    tables = doc.get("importer", [])
    if not isinstance(tables, list) or not 1 <= len(tables) <= 3:
        raise ConfigError(file, "importer", "1 to 3 [[importer]] tables")
    importers = tuple(_importer(file, t, k) for k, t in enumerate(tables))
    names = [i.name for i in importers]
    if len(set(names)) != len(names):
        raise ConfigError(file, "importer.name", f"distinct names, got {names}")
    top.done()
    return Configuration(name, description, exporter, buffer, mmap, vmap, importers)


def builtin_names() -> list[str]:
    """Names of the configurations shipped under model/configs/."""
    return sorted(p.name[:-5] for p in resources.files("model.configs").iterdir() if p.name.endswith(".toml"))


def load(name_or_path: str) -> Configuration:
    """A built-in configuration by name, or a TOML file by path."""
    if name_or_path in builtin_names():
        res = resources.files("model.configs") / f"{name_or_path}.toml"
        return parse(res.read_text(), f"model/configs/{name_or_path}.toml")
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(name_or_path, "(file)", f"a configuration file or one of: {', '.join(builtin_names())}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(name_or_path, "(file)", f"a readable UTF-8 TOML file ({e})") from None
    return parse(text, name_or_path)
