"""What a kernel version decides: every version-dependent rule with its commit, for
`dmabuf-mc list kernel` and for the header of a check."""

from __future__ import annotations

from dmabuf_mc.model.config import Configuration
from dmabuf_mc.model.exporters import FAMILIES
from dmabuf_mc.model.kernels import (
    AA6F8DCBAB47,
    C50F11C6196F,
    CACHE_SGT_MAPPING,
    CACHE_SGT_MAPPING_REMOVED,
    MAINLINE,
    PIN_ON_MAP,
    REVERT_901C7280CA0D,
    UDMABUF_DMA_MASK,
    Arch,
    Version,
    arch_sync_rule,
    swiotlb_rule,
)

BACKPORTED = (C50F11C6196F, AA6F8DCBAB47, REVERT_901C7280CA0D, UDMABUF_DMA_MASK)
NOTABLE_STABLE: tuple[Version, ...] = tuple(
    sorted({b for c in BACKPORTED for b in c.backports}
           | {Version(b.major, b.minor, b.patch - 1) for c in BACKPORTED for b in c.backports})
)
"""Stable releases on either side of each backport."""


def core_mapping_cache(v: Version) -> str:
    """Whether the dma-buf core offers cache_sgt_mapping in release `v`."""
    if CACHE_SGT_MAPPING_REMOVED.applies(v):
        return "removed (b72f66f22c0e)"
    return "cache_sgt_mapping (f13e143e7444)" if CACHE_SGT_MAPPING.applies(v) else "none (before f13e143e7444)"


def dynamic_attach(v: Version) -> str:
    """What dma_buf_dynamic_attach does for a dynamic importer of a static exporter in release `v`."""
    if PIN_ON_MAP.applies(v):
        return "maps per dma_buf_map_attachment (de68b17d5d07, dma_buf_pin_on_map)"
    return "maps DMA_BIDIRECTIONAL at attach, kept until detach (before de68b17d5d07)"


def version_rules(v: Version) -> dict[str, str]:
    """Rule -> value (named by its commit) for release `v`."""
    rules = {
        "arch_sync (arm64)": str(arch_sync_rule(v)),
        "swiotlb": str(swiotlb_rule(v)),
        "dma-buf core mapping cache": core_mapping_cache(v),
        "dynamic importer": dynamic_attach(v),
    }
    for family in FAMILIES.values():
        available = family.since is None or family.since.applies(v)
        rules[f"exporter {family.name}"] = family.state(v) if available else "not in this kernel"
    return rules


def listed_versions() -> list[Version]:
    """The releases `list kernel` shows: every mainline release and the stable releases
    around each backport."""
    return sorted({*MAINLINE, *NOTABLE_STABLE})


def kernel_line(cfg: Configuration) -> str:
    """One line naming the kernel a check modelled and the rules it decided."""
    k = cfg.kernel
    arch = f"{k.arch} {k.arch_sync}" if k.arch is Arch.ARM64 else str(k.arch)
    name = f"v{k.version}" if k.file is None else f"{k.file} (over v{k.version})"
    return (f"kernel {name}: {arch}, swiotlb {k.swiotlb}, iommu {k.iommu}, "
            f"exporter {cfg.exporter.kind.name}")
