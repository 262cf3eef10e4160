"""Sweeps: families of configurations generated from device profiles, exporters and
placements, so a policy is judged on every mix and not on hand-picked cases.

A generated configuration has a self-describing name, `sweep:KIND/SOURCE/EXPORTER-DEV/
PLACEMENT/DEVICE+DEVICE`, which `model.config.load` understands: a counterexample found in
a sweep replays with `dmabuf-mc check --config 'sweep:...'`. A device is a built-in profile
or a profile file, named by its path (found from the directory the sweep ran in).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import combinations_with_replacement

from dmabuf_mc.model.config import (
    MAX_IMPORTERS,
    SOURCES,
    Buffer,
    ConfigError,
    Configuration,
    Exporter,
    Importer,
    Kernel,
    Reader,
    importer,
    natural_direction,
    read_file,
    read_toml,
)
from dmabuf_mc.model.exporters import FAMILIES, STATES, CoherentFlag, ExporterKind, exporter_kind

PREFIX = "sweep:"


def _device(name: str, coherent: bool, reads: bool, writes: bool, iommu: bool, dma_mask: int = 64,
            needs_contiguous: bool = False, mapping: str = "any") -> Importer:
    return Importer(name=name, coherent=coherent, snoops=coherent, iommu=iommu, dma_mask=dma_mask,
                    needs_contiguous=needs_contiguous, reads=reads, writes=writes,
                    map_directions=(natural_direction(reads, writes),), mapping=mapping)


DEVICES: dict[str, tuple[Importer, str]] = {
    imp.name: (imp, doc)
    for imp, doc in (
        (_device("camera", False, False, True, True, mapping="per-job"),
         "a non-coherent capture device behind an IOMMU, mapping per job (V4L2 QBUF/DQBUF)"),
        (_device("encoder", False, True, False, True, mapping="per-job"),
         "a non-coherent video encoder behind an IOMMU that reads, mapping per job"),
        (_device("display", False, True, False, False, needs_contiguous=True, mapping="once"),
         "a non-coherent scan-out engine without an IOMMU: needs contiguous memory, maps once"),
        (_device("gpu", False, True, True, True, mapping="once"), "a non-coherent embedded GPU "
         "behind an IOMMU that reads and writes and keeps its mapping"),
        (_device("pcie-gpu", True, True, True, True, mapping="once"), "a coherent, snooping PCIe GPU "
         "that keeps its mapping"),
        (_device("dma32", False, True, True, False, dma_mask=32), "a non-coherent device with a "
         "32-bit DMA mask and no IOMMU that reads and writes, mapping at any time"),
    )
}

PROFILE_SUFFIX = ".toml"


def device(name: str) -> tuple[Importer, str]:
    """A device profile and what it is: a built-in (DEVICES) by name, or a TOML file by
    path with the fields of a configuration's `[[importer]]` table and a `description`.
    ConfigError names the file, the line and the field."""
    if name in DEVICES:
        return DEVICES[name]
    if not name.endswith(PROFILE_SUFFIX):
        raise ConfigError(name, "(device)", f"a device profile file (.toml) or one of: {', '.join(DEVICES)}")
    text = read_file(name)
    try:
        r = Reader(name, read_toml(text, name), "")
        doc = r.get("description", str, f"the device profile in {name}")
        profile = importer(r)
        r.done()
    except ConfigError as e:
        raise e.at(text) from None
    return profile, doc


EXPORTERS = ("heap", "drm-prime", "vb2-dma-contig", "udmabuf")
"""The exporter kinds a sweep covers by default: one of each family."""


@dataclass(frozen=True)
class Sweep:
    """Which configurations to generate."""

    devices: tuple[str, ...] = tuple(DEVICES)
    max_importers: int = 2
    exporters: tuple[str, ...] = EXPORTERS


KINDS = (*FAMILIES, *(n for n in STATES if "@" not in n))
"""The kinds a sweep can name: each family as the default kernel has it, and the single-state ones."""


def _kind(name: str) -> ExporterKind:
    return exporter_kind(name, Kernel().version)


def _exporter_devices(kind: str) -> tuple[bool, ...]:
    """Exporter-device coherency matters where P1's flag or dma_alloc_* cacheability reads it."""
    return (False, True) if _kind(kind).coherent_flag is CoherentFlag.EXPORTER_DEVICE else (False,)


def _name(kind: str, source: str, coherent: bool, above_4g: bool, devices: Sequence[str]) -> str:
    dev = "coherent" if coherent else "noncoherent"
    return f"{PREFIX}{kind}/{source}/{dev}/{'high' if above_4g else 'low'}/{'+'.join(devices)}"


def make(kind: str, source: str, coherent: bool, above_4g: bool, devices: Sequence[str]) -> Configuration:
    """One generated configuration. Heaps are written by userspace through mmap; driver
    exporters and udmabuf's creator write with their own unbracketed CPU stores."""
    k = _kind(kind)
    src = SOURCES[source]
    heap = kind.startswith("heap")
    exporter = Exporter(k, coherent, cpu_writes=not heap, brackets_own_cpu_access=False)
    # A driver allocates contiguous pages when one of the devices needs them.
    profiles = [device(d)[0] for d in devices]
    contiguous = src.contiguous if src.contiguous is not None else any(p.needs_contiguous for p in profiles)
    buffer = Buffer(1, src, above_4g, contiguous, src.cpu_zeroed)
    names = [f"{p.name}{n}" if devices.count(d) > 1 else p.name for n, (d, p) in enumerate(zip(devices, profiles,
                                                                                               strict=True))]
    if len(set(names)) != len(names):
        raise ConfigError(_name(kind, source, coherent, above_4g, devices), "devices",
                          f"device profiles with distinct names, got {', '.join(names)}")
    importers = tuple(replace(p, name=n) for p, n in zip(profiles, names, strict=True))
    return Configuration(_name(kind, source, coherent, above_4g, devices), f"generated by a sweep: {kind} "
                         f"exporting {source} to {', '.join(devices)}", exporter, buffer,
                         "read-write" if heap else "none", "none", importers)


def bounced(name: str) -> bool:
    """Whether the device cannot reach memory above 4 GiB: swiotlb bounces for it."""
    profile = device(name)[0]
    return profile.dma_mask == 32 and not profile.iommu


def generate(sweep: Sweep) -> Iterator[Configuration]:
    """Every configuration of the sweep, in a fixed order."""
    for n in range(1, sweep.max_importers + 1):
        for mix in combinations_with_replacement(sweep.devices, n):
            bounces = any(bounced(d) for d in mix)
            for kind in sweep.exporters:
                for source in _kind(kind).sources:
                    for coherent in _exporter_devices(kind):
                        for above_4g in (False, True) if bounces else (False,):
                            yield make(kind, source, coherent, above_4g, mix)


def from_name(name: str) -> Configuration:
    """The generated configuration a `sweep:` name describes."""
    parts = name[len(PREFIX):].split("/", 4)  # the devices last: a profile file's path may hold a /
    if len(parts) != 5:
        raise ConfigError(name, "(name)", "sweep:KIND/SOURCE/coherent|noncoherent/low|high/DEVICE+DEVICE")
    kind, source, dev, placement, mix = parts
    devices = mix.split("+")
    checks = [
        (kind in KINDS, "kind", f"one of {', '.join(KINDS)}"),
        (kind in KINDS and source in _kind(kind).sources, "source", "a source of that kind"),
        (dev in ("coherent", "noncoherent"), "exporter device", "coherent or noncoherent"),
        (placement in ("low", "high"), "placement", "low or high"),
        (0 < len(devices) <= MAX_IMPORTERS, "devices",
         f"1-{MAX_IMPORTERS} of {', '.join(DEVICES)} or device profile files"),
    ]
    for ok, field, expected in checks:
        if not ok:
            raise ConfigError(name, field, expected)
    for d in devices:
        device(d)
    return make(kind, source, dev == "coherent", placement == "high", devices)
