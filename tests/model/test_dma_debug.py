"""dma-debug's checks (kernel/dma/debug.c), one property each: a short history that trips
the kernel function named in each test, refuted with a replayed trace, and a configuration
where the same property holds."""

from __future__ import annotations

import pytest

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.trace import replay
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.kernels import Arch, DmaDebugOverlap, dma_debug_overlap_rule, parse_version
from dmabuf_mc.properties import DEFAULT, GROUPS, OPT_IN
from tests.conftest import config_text, labels, system


def toml(version: str = "6.1", arch: str = "arm64", exporter: str = 'kind = "heap"',
         source: str = "system-heap", importers: tuple[str, ...] = ("reads = true",), extra: str = "") -> str:
    coherent = "true" if arch == "x86" else "false"  # dev_is_dma_coherent() is always true on x86
    devices = "".join(f'[[importer]]\nname = "dev{k}"\ncoherent = {coherent}\n{imp}\n'
                      for k, imp in enumerate(importers))
    return (f'[kernel]\nversion = "{version}"\narch = "{arch}"\n[exporter]\n{exporter}\n'
            f'[buffer]\nsource = "{source}"\n{extra}\n{devices}')


def refuted(text: str, prop: str) -> list[str] | None:
    """The replayed counterexample's calls if `prop` is refuted, None if it holds."""
    _, ts = system(config_text(text))
    (result,) = check(ts, (prop,)).results
    if result.verdict is Verdict.HOLDS:
        return None
    assert result.verdict is Verdict.REFUTED and result.counterexample is not None
    replay(result.counterexample)
    return labels(result.counterexample)


def test_a_sync_of_an_unmapped_attachment_is_a_sync_of_a_dead_mapping():
    # heap-helpers.c dma_heap_dma_buf_begin_cpu_access (v5.6-v5.10) syncs every attachment's
    # table, mapped or not: check_sync "device driver tries to sync DMA memory it has not
    # allocated". 4c68e499bb9d (v5.11) skips the unmapped ones.
    userspace = 'mmap = "read"'
    text = toml("5.10", extra=f"[clients]\n{userspace}")
    assert refuted(text, "dma-api-sync-live") == [
        "dma_buf_export()", "dma_buf_attach(dev0)", "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)"]
    assert refuted(toml("5.11", extra=f"[clients]\n{userspace}"), "dma-api-sync-live") is None


def test_a_heap_syncs_every_mapping_in_the_brackets_direction():
    # system_heap_dma_buf_begin_cpu_access passes its direction to every mapped attachment:
    # check_sync "syncs DMA memory with different direction" for a DMA_TO_DEVICE mapping.
    writer = 'kind = "heap"\ncpu_writes = true\nbrackets_own_cpu_access = true'
    assert refuted(toml(exporter=writer), "dma-api-direction") == [
        "dma_buf_export()", "dma_buf_attach(dev0)", "dma_buf_map_attachment(dev0, DMA_TO_DEVICE)",
        "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)"]
    to_device = writer + '\nown_access_direction = "DMA_TO_DEVICE"'
    assert refuted(toml(exporter=to_device), "dma-api-direction") is None


def test_a_sync_of_nents_of_a_merged_mapping_covers_part_of_it():
    # vb2_dma_sg_dmabuf_ops_begin_cpu_access before a704a3c503ae passed sgt->nents, which an
    # IOMMU merge makes smaller than orig_nents: check_sync "different entry count".
    vb2 = 'kind = "vb2-dma-sg"\niommu = true\nsync_nents = {}'
    common = dict(source="driver-cached", extra='lines = 2\n[clients]\nmmap = "read"',
                  importers=("reads = false\nwrites = true",))
    assert refuted(toml(exporter=vb2.format("true"), **common), "dma-api-whole-mapping") == [
        "dma_buf_export()", "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)"]
    assert refuted(toml(exporter=vb2.format("false"), **common), "dma-api-whole-mapping") is None


WRITERS = ("reads = false\nwrites = true", "reads = false\nwrites = true")


def test_two_heap_importers_mapped_for_writing_at_once_overlap():
    # add_dma_entry: the second map finds the pages' first cache line held by the first
    # (active_cacheline_insert -EEXIST): "cacheline tracking EEXIST, overlapping mappings
    # aren't supported". system_heap_map_dma_buf maps without DMA_ATTR_SKIP_CPU_SYNC.
    calls = refuted(toml(importers=WRITERS), "dma-api-no-overlap")
    assert calls is not None and calls[-1].startswith("dma_buf_map_attachment(dev1")
    assert "dma_buf_map_attachment(dev0, DMA_FROM_DEVICE)" in calls


@pytest.mark.parametrize(("version", "arch", "exporter", "importers", "overlaps"), [
    ("6.1", "arm64", 'kind = "heap"', ("reads = true", WRITERS[0]), False),  # DMA_TO_DEVICE is not tracked
    ("5.13", "arm64", 'kind = "heap"', WRITERS, False),  # before 2b4bbc6231d7: a TODO, never reported
    ("6.17", "arm64", 'kind = "heap"', WRITERS, True),
    ("6.18", "arm64", 'kind = "heap"', WRITERS, False),  # 03521c892bb8: swiotlb is active on arm64
    ("6.18", "arm32", 'kind = "heap"', WRITERS, True),
    ("6.19", "x86", 'kind = "heap"', WRITERS, True),
    ("7.0", "x86", 'kind = "heap"', WRITERS, False),  # 3d48c9fd78dd: no DMA alignment requirement
    ("5.14", "arm64", 'kind = "drm-prime"', WRITERS, True),  # SKIP_CPU_SYNC still reported
    ("5.15", "arm64", 'kind = "drm-prime"', WRITERS, False),  # c2bbf9d1e9ac: not for SKIP_CPU_SYNC
])
def test_whether_dma_debug_reports_an_overlap_depends_on_direction_attrs_release_and_arch(
        version, arch, exporter, importers, overlaps):
    source = "system-heap" if "heap" in exporter else "driver-cached"
    calls = refuted(toml(version, arch, exporter, source, importers), "dma-api-no-overlap")
    assert (calls is not None) is overlaps


def test_the_overlap_rule_follows_the_commits():
    rule = {(v, a): dma_debug_overlap_rule(parse_version(v), a) for v in ("5.13", "5.14", "6.1", "7.0")
            for a in Arch}
    assert rule["5.13", Arch.ARM64] is DmaDebugOverlap.SILENT
    assert rule["5.14", Arch.X86] is DmaDebugOverlap.EVERY_MAP
    assert rule["6.1", Arch.ARM32] is DmaDebugOverlap.WITHOUT_SKIP
    assert rule["7.0", Arch.ARM64] is DmaDebugOverlap.SWIOTLB_ACTIVE
    assert rule["7.0", Arch.X86] is DmaDebugOverlap.NO_DMA_MINALIGN
    assert rule["7.0", Arch.ARM32] is DmaDebugOverlap.WITHOUT_SKIP


def test_the_default_set_leaves_out_only_the_opt_in_properties_and_groups_expand():
    _, ts = system("heap-bracketed")
    assert ts.select(()) == list(DEFAULT)
    assert set(OPT_IN) == {"dma-api-ownership", "dma-api-no-overlap"}
    assert ts.select(("dma-api-rules",)) == ["dma-api-sync-live", "dma-api-direction", "dma-api-whole-mapping"]
    assert ts.select(("dma-api-direction", "dma-debug")) == [
        "dma-api-direction", "dma-api-sync-live", "dma-api-whole-mapping", "dma-api-no-overlap"]
    assert ts.select(("dma-debug",)) == list(GROUPS["dma-debug"])
