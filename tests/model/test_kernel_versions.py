"""The kernel as a version: each version-dependent rule decides an outcome, read from the
kernel function it models (docs/semantics.md), not from the model's output. Five families
the model once proved safe where the kernel fails, each refuted here with a replayed trace
and held where the fixed kernel or a correct driver holds."""

from __future__ import annotations

import pytest

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.interp import evaluate, successor
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.config import ConfigError, Kernel
from dmabuf_mc.model.exporters import STATES, exporter_kind
from dmabuf_mc.model.kernels import ArchSync, Swiotlb, Version, arch_sync_rule, parse_version, prep_rule, swiotlb_rule
from dmabuf_mc.model.policy import BASELINE, POLICIES, Policy
from tests.conftest import config_text, history, system


def verdicts(text: str, props: tuple[str, ...], policy: Policy = BASELINE) -> dict[str, Verdict]:
    """Verdicts of an exhaustive check; every REFUTED result carries a replayed trace."""
    _, ts = system(config_text(text), policy)
    report = check(ts, props)
    for r in report.results:
        assert (r.verdict is Verdict.REFUTED) == (r.counterexample is not None)
    return {r.name: r.verdict for r in report.results}


# --- the version table --------------------------------------------------------------------

@pytest.mark.parametrize(("version", "arch_sync", "swiotlb"), [
    ("5.4", ArchSync.INVALIDATE, Swiotlb.V5_16),
    ("5.4.201", ArchSync.CLEAN, Swiotlb.DDBD),  # stable backports of c50f11c6196f and ddbd89deb7d3
    ("5.10.124", ArchSync.INVALIDATE, Swiotlb.REINSTATED),
    ("5.10.125", ArchSync.CLEAN, Swiotlb.REINSTATED),
    ("5.15.28", ArchSync.INVALIDATE, Swiotlb.V5_16),
    ("5.15.29", ArchSync.INVALIDATE, Swiotlb.AA6F),
    ("5.15.32", ArchSync.INVALIDATE, Swiotlb.AA6F),
    ("5.15.33", ArchSync.INVALIDATE, Swiotlb.REINSTATED),
    ("5.15.50", ArchSync.CLEAN, Swiotlb.REINSTATED),
    ("5.17", ArchSync.INVALIDATE, Swiotlb.AA6F),
    ("5.18", ArchSync.INVALIDATE, Swiotlb.REINSTATED),
    ("5.19", ArchSync.CLEAN, Swiotlb.REINSTATED),
    ("6.1", ArchSync.CLEAN, Swiotlb.REINSTATED),
])
def test_each_release_has_the_rules_its_commits_gave_it(version, arch_sync, swiotlb):
    v = parse_version(version)
    assert (arch_sync_rule(v), swiotlb_rule(v)) == (arch_sync, swiotlb)


def test_the_default_kernel_is_the_threads_v6_1_with_its_rules():
    v = parse_version("6.1")
    assert Kernel() == Kernel.of(v)
    assert prep_rule(v) == "clean-invalidate"  # 7bd6680b47fa (clean only) is v6.4
    assert prep_rule(parse_version("6.4")) == "clean"


@pytest.mark.parametrize(("family", "version", "state"), [
    ("drm-prime", "5.2", "drm-prime@drm_prime_attachment"),
    ("drm-prime", "6.1", "drm-prime@f13e143e7444"),
    ("drm-prime", "6.16", "drm-prime@b72f66f22c0e"),
    ("heap", "5.10", "heap@efa04fefebbd"),
    ("heap", "5.11", "heap@4c68e499bb9d"),
    ("udmabuf", "5.5", "udmabuf@fbb0de795078"),
    ("udmabuf", "5.19", "udmabuf@before-9e9fa6a9198b"),
    ("udmabuf", "5.15.64", "udmabuf@before-9e9fa6a9198b"),
    ("udmabuf", "5.15.65", "udmabuf@1ffe09590121"),
    ("udmabuf", "6.0", "udmabuf@1ffe09590121"),
    ("udmabuf", "6.15", "udmabuf@1ffe09590121"),
    ("udmabuf", "6.16", "udmabuf@b72f66f22c0e"),
    ("udmabuf", "7.2", "udmabuf@504e2b4ab97a"),
    ("vb2-dma-sg", "5.8", "vb2-dma-sg@before-d4db5eb57cab"),
    ("vb2-dma-sg", "5.9", "vb2-dma-sg@d4db5eb57cab"),
    ("vb2-dma-sg", "6.15", "vb2-dma-sg@d4db5eb57cab"),
    ("vb2-dma-sg", "6.16", "vb2-dma-sg@a704a3c503ae"),
])
def test_each_exporter_family_has_its_state_per_release(family, version, state):
    assert exporter_kind(family, parse_version(version)) is STATES[state]


@pytest.mark.parametrize(("text", "message"), [
    ('version = "5.25"', "a release the tables cover"),
    ('version = "2.6.32"', "a release the tables cover"),
    ('version = "six"', "a version like 6.1"),
])
def test_an_unknown_version_is_an_error_naming_the_known_ones(text, message):
    with pytest.raises(ConfigError, match=rf"test.toml:2: kernel.version: expected {message}") as e:
        config_text(f"[kernel]\n{text}\n[exporter]\nkind = \"heap\"\n[[importer]]\nname = \"a\"\ncoherent = false\n")
    assert "6.1" in str(e.value) or "like 6.1" in str(e.value)


def test_a_driver_that_did_not_exist_yet_is_an_error():
    with pytest.raises(ConfigError, match=r"exporter.kind: expected a kernel with heap \(since v5.6\)"):
        config_text('[kernel]\nversion = "5.4"\n[exporter]\nkind = "heap"\n'
                    '[[importer]]\nname = "a"\ncoherent = false\n')


def test_one_rule_can_be_overridden_on_a_version():
    c = config_text('[kernel]\nversion = "5.17"\narch_sync = "c50f11c6196f"\n[exporter]\nkind = "heap"\n'
                    '[[importer]]\nname = "a"\ncoherent = false\n')
    assert (c.kernel.version, c.kernel.arch_sync, c.kernel.swiotlb) == (Version(5, 17), ArchSync.CLEAN, Swiotlb.AA6F)


def test_list_kernel_shows_every_rule_per_version():
    from click.testing import CliRunner

    from dmabuf_mc.app.cli import main
    out = CliRunner().invoke(main, ["list", "kernel"]).output
    for version in ("5.4", "5.10.125", "5.15.33", "6.1", "6.16", "7.2"):
        assert f"version = {version}\n" in out
    assert "swiotlb: 901c7280ca0d" in out and "exporter udmabuf: udmabuf@b72f66f22c0e" in out


# --- family 1: a bounced, non-coherent importer of a DMA_ATTR_SKIP_CPU_SYNC exporter ----------

PRIME_READER = """[kernel]
version = "{version}"
[exporter]
kind = "drm-prime"
[buffer]
source = "driver-cached"
cpu_zeroed = false
above_4g = {high}
[[importer]]
name = "display"
coherent = false
dma_mask = 32
reads = true
"""


@pytest.mark.parametrize("version", ["5.15", "6.1", "6.16"])
def test_skip_cpu_sync_leaves_the_bounce_copy_in_the_cpu_cache(version):
    # kernel/dma/swiotlb.c swiotlb_map: the copy into the slot goes through the slot's
    # cacheable address, and arch_sync_dma_for_device(slot) is skipped under SKIP_CPU_SYNC:
    # the display reads the slot's memory, not the copy.
    low = verdicts(PRIME_READER.format(version=version, high="false"), ("device-reads-latest",))
    high = verdicts(PRIME_READER.format(version=version, high="true"), ("device-reads-latest",))
    assert low["device-reads-latest"] is Verdict.HOLDS
    assert high["device-reads-latest"] is Verdict.REFUTED


def test_a_map_with_cpu_sync_cleans_the_slot():
    cpu_sync = POLICIES["baseline"].with_rule("map", "cpu-sync")
    got = verdicts(PRIME_READER.format(version="6.1", high="true"), ("device-reads-latest",), cpu_sync)
    assert got["device-reads-latest"] is Verdict.HOLDS


def test_the_seed_with_a_bounced_display_is_still_refuted():
    seed = (PRIME_READER.format(version="6.1", high="true")
            .replace('kind = "drm-prime"', 'kind = "drm-prime"\ncpu_writes = true'))
    assert verdicts(seed, ("device-reads-latest",))["device-reads-latest"] is Verdict.REFUTED


# --- family 2: videobuf2 exporters keep the attachment's mapping --------------------------

VB2_FRAMES = """[exporter]
kind = "{kind}"
cpu_writes = true
{extra}
[buffer]
source = "driver-cached"
[[importer]]
name = "encoder"
coherent = false
iommu = true
reads = true
mapping = "per-job"
"""


@pytest.mark.parametrize("kind", ["vb2-vmalloc", "vb2-dma-sg"])
def test_a_per_job_reader_of_cpu_written_frames_reads_stale_data_through_the_kept_mapping(kind):
    # videobuf2-vmalloc.c / -dma-sg.c vb2_*_dmabuf_ops_map: the same direction returns the
    # kept table with no maintenance; vb2_*_dmabuf_ops_unmap does nothing. So the second
    # QBUF gets no clean of the frame the CPU wrote after the first.
    kept = verdicts(VB2_FRAMES.format(kind=kind, extra=""), ("device-reads-latest",))
    per_job = verdicts(VB2_FRAMES.format(kind=kind, extra='mapping_cache = "none"'), ("device-reads-latest",))
    assert kept["device-reads-latest"] is Verdict.REFUTED
    assert per_job["device-reads-latest"] is Verdict.HOLDS  # what a map that cleans every job gives


def test_vb2_remaps_on_a_direction_change_and_unmaps_at_detach():
    text = VB2_FRAMES.format(kind="vb2-vmalloc", extra="").replace("reads = true", "reads = true\nwrites = true\n"
                                                                   'map_directions = ["DMA_BIDIRECTIONAL"]')
    text = text.replace('mapping = "per-job"', 'mapping = "any"')
    c = config_text(text)
    start = ["dma_buf_export()", "dma_buf_attach(encoder)"]
    steps = history(c, [*start, "dma_buf_map_attachment(encoder, DMA_BIDIRECTIONAL)",
                        "dma_buf_unmap_attachment(encoder, DMA_BIDIRECTIONAL)", "dma_buf_detach(encoder)"])
    assert steps[-2]["encoder"] == "attached, unmapped, exporter keeps a DMA_BIDIRECTIONAL mapping"
    assert steps[-1]["encoder"] == "detached"


def test_ddbd89deb7d3_copies_a_from_device_map_without_skip_cpu_sync():
    # ddbd89deb7d3: "(!(attrs & DMA_ATTR_OVERWRITE) || TO/BIDI)" without SKIP: every direction.
    text = BOUNCED_WRITER.format(version="5.19", extra='swiotlb = "{s}"').replace("cpu_writes = true", "")
    calls = ["dma_buf_export()", "dma_buf_attach(dev32)", "dma_buf_map_attachment(dev32, DMA_FROM_DEVICE)"]
    old = history(config_text(text.format(s="before-ddbd89deb7d3")), calls)[-1]
    new = history(config_text(text.format(s="ddbd89deb7d3")), calls)[-1]
    assert old["dev32"].endswith("bounce slot stale, stale")
    assert new["dev32"].endswith("bounce slot latest, latest")  # copied, then cleaned by the map


def _remap(kind: str, source: str) -> list[dict[str, str]]:
    """A writer maps DMA_FROM_DEVICE, unmaps, then asks for DMA_BIDIRECTIONAL."""
    text = (f'[exporter]\nkind = "{kind}"\n[buffer]\nsource = "{source}"\n[[importer]]\nname = "gpu"\n'
            'coherent = false\nreads = false\nwrites = true\n'
            'map_directions = ["DMA_FROM_DEVICE", "DMA_BIDIRECTIONAL"]\n')
    return history(config_text(text), ["dma_buf_export()", "dma_buf_attach(gpu)",
                                       "dma_buf_map_attachment(gpu, DMA_FROM_DEVICE)",
                                       "dma_buf_unmap_attachment(gpu, DMA_FROM_DEVICE)",
                                       "dma_buf_map_attachment(gpu, DMA_BIDIRECTIONAL)"])


def test_the_core_refuses_another_direction_unless_the_kept_mapping_is_bidirectional():
    # dma-buf.c dma_buf_map_attachment with cache_sgt_mapping: -EBUSY for a direction the
    # kept mapping does not cover.
    assert "REFUSED" in _remap("udmabuf", "memfd")[-1]["observed"]


def test_vb2_unmaps_the_kept_mapping_and_maps_again_for_another_direction():
    # vb2_dma_sg_dmabuf_ops_map: "release any previous cache", then map with the new direction.
    steps = _remap("vb2-dma-sg", "driver-cached")
    assert steps[4]["gpu"] == "attached, unmapped, exporter keeps a DMA_FROM_DEVICE mapping"
    assert steps[-1]["gpu"].startswith("mapped DMA_BIDIRECTIONAL")
    assert steps[-1]["gpu"].endswith("exporter keeps a DMA_BIDIRECTIONAL mapping")
    assert steps[-1]["line 0"] == "cache invalid, memory latest"  # the old mapping's unmap invalidated


def test_the_heap_helpers_map_and_unmap_with_maintenance_every_time():
    # heap-helpers.c (v5.6-v5.10): heap_helper_ops sets no cache_sgt_mapping, so every unmap
    # reaches dma_heap_unmap_dma_buf -> dma_unmap_sg (a for-CPU invalidate) and a map in another
    # direction is not -EBUSY. 5.10.130 has c50f11c6196f, so only the unmap invalidates.
    text = ('[kernel]\nversion = "5.10.130"\n[exporter]\nkind = "heap"\n[[importer]]\nname = "gpu"\n'
            'coherent = false\nreads = false\nwrites = true\n'
            'map_directions = ["DMA_FROM_DEVICE", "DMA_BIDIRECTIONAL"]\n')
    steps = history(config_text(text), ["dma_buf_export()", "dma_buf_attach(gpu)",
                                        "dma_buf_map_attachment(gpu, DMA_FROM_DEVICE)",
                                        "dma_buf_unmap_attachment(gpu, DMA_FROM_DEVICE)",
                                        "dma_buf_map_attachment(gpu, DMA_BIDIRECTIONAL)"])
    assert steps[3]["line 0"] == "cache clean (latest), memory latest"
    assert steps[4]["line 0"] == "cache invalid, memory latest"
    assert steps[4]["gpu"] == "attached, unmapped"
    assert steps[-1]["gpu"] == "mapped DMA_BIDIRECTIONAL, device-owned" and "REFUSED" not in steps[-1]["observed"]


def test_prime_before_v5_3_refuses_another_direction_even_after_bidirectional():
    # drm_prime.c drm_gem_map_dma_buf before v5.3: a different direction is -EBUSY; the core's
    # cache_sgt_mapping (v5.3-v6.15) lets a kept DMA_BIDIRECTIONAL mapping serve any.
    base = ('[kernel]\nversion = "{v}"\n[exporter]\nkind = "drm-prime"\n[[importer]]\nname = "gpu"\n'
            'coherent = false\nreads = false\nwrites = true\n'
            'map_directions = ["DMA_BIDIRECTIONAL", "DMA_FROM_DEVICE"]\n')
    calls = ["dma_buf_export()", "dma_buf_attach(gpu)", "dma_buf_map_attachment(gpu, DMA_BIDIRECTIONAL)",
             "dma_buf_unmap_attachment(gpu, DMA_BIDIRECTIONAL)", "dma_buf_map_attachment(gpu, DMA_FROM_DEVICE)"]
    old = history(config_text(base.format(v="5.2")), calls)[-1]
    core = history(config_text(base.format(v="6.1")), calls)[-1]
    new = history(config_text(base.format(v="6.16")), calls)[-1]
    assert "REFUSED" in old["observed"]
    assert core["gpu"].startswith("mapped DMA_FROM_DEVICE") and "REFUSED" not in core["observed"]
    assert new["gpu"] == "mapped DMA_FROM_DEVICE, device-owned"


# --- family 3: swiotlb's copy rules, version by version -----------------------------------

BOUNCED_WRITER = """[kernel]
version = "{version}"
{extra}
[exporter]
kind = "heap"
cpu_writes = true
[buffer]
source = "system-heap"
above_4g = true
lines = 2
[[importer]]
name = "dev32"
coherent = false
dma_mask = 32
reads = false
writes = true
"""
JOBS = ["dma_buf_export()", "dma_buf_attach(dev32)", "dma_buf_map_attachment(dev32, DMA_FROM_DEVICE)",
        "dma_buf_begin_device_access(dev32)", "dma_write(dev32, line0)", "dma_buf_end_device_access(dev32)",
        "cpu_write(exporter, line1)",
        "dma_buf_begin_device_access(dev32)", "dma_write(dev32, line0)", "dma_buf_end_device_access(dev32)"]


def _lost(text: str, calls: list[str]) -> bool:
    """Whether no-lost-writes fails in the state the history ends in."""
    _, ts = system(config_text(text), POLICIES["p4-device-bracketing"])
    state = dict(ts.init)
    for call in calls:
        act = ts.actions[ts.action_index(call)]
        assert evaluate(act.enabled(), state), call
        state = successor(ts, act, state)
    return not evaluate(ts.property("no-lost-writes").holds, state)


def test_device_bracketing_loses_the_cpu_write_since_the_v5_18_revert():
    # swiotlb_sync_single_for_device copies original -> slot for TO_DEVICE/BIDIRECTIONAL
    # only since bddac7c1e02b + 901c7280ca0d (v5.18); aa6f8dcbab47 (v5.17) copied in every
    # direction, so the slot had the CPU's line 1 when the copy-back came.
    v5_17 = BOUNCED_WRITER.format(version="5.17", extra='arch_sync = "c50f11c6196f"')
    v6_1 = BOUNCED_WRITER.format(version="6.1", extra="")
    assert _lost(v6_1, JOBS)
    assert not _lost(v5_17, JOBS)


def test_before_c50f11c6196f_the_from_device_invalidate_drops_the_bounce_copy():
    # arm64 __dma_map_area invalidated DMA_FROM_DEVICE buffers, the swiotlb slot included:
    # the copy aa6f8dcbab47 made into the slot's cache is dropped and the unmap copies the
    # slot's old memory back over the CPU-zeroed pages. c50f11c6196f made it a clean.
    calls = ["dma_buf_export()", "dma_buf_attach(dev32)", "dma_buf_map_attachment(dev32, DMA_FROM_DEVICE)",
             "dma_buf_unmap_attachment(dev32, DMA_FROM_DEVICE)"]
    plain = BOUNCED_WRITER.format(version="{v}", extra="").replace("cpu_writes = true", "")
    v = {version: verdicts(plain.format(v=version), ("no-lost-writes",))["no-lost-writes"]
         for version in ("5.17", "5.19")}
    assert v == {"5.17": Verdict.REFUTED, "5.19": Verdict.HOLDS}
    steps = history(config_text(plain.format(v="5.17")), calls)
    assert steps[-1]["line 0"].startswith("cache dirty (stale)")


@pytest.mark.parametrize(("version", "swiotlb", "slot"), [
    ("5.16", "", "stale"), ("5.16", 'swiotlb = "ddbd89deb7d3"', "stale"),
    ("5.16", 'swiotlb = "aa6f8dcbab47"', "latest"), ("6.1", "", "latest")])
def test_a_skip_cpu_sync_map_copies_into_the_slot_only_since_aa6f8dcbab47(version, swiotlb, slot):
    # swiotlb_tbl_map_single: <= v5.16 and ddbd89deb7d3 copied only without
    # DMA_ATTR_SKIP_CPU_SYNC; aa6f8dcbab47 and 901c7280ca0d copy unconditionally.
    text = PRIME_READER.format(version=version, high="true").replace('[exporter]', f'{swiotlb}\n[exporter]')
    text = text.replace("dma_mask = 32", "dma_mask = 32\nsnoops = true")
    steps = history(config_text(text), ["dma_buf_export()", "dma_buf_attach(display)",
                                        "dma_buf_map_attachment(display, DMA_TO_DEVICE)"])
    assert steps[-1]["display"].endswith(f"bounce slot {slot}")


# --- family 4: uncached buffers keep a cacheable linear alias ------------------------------

CONTIG = """[kernel]
version = "{version}"
[exporter]
kind = "vb2-dma-contig"
cpu_writes = true
[buffer]
source = "dma-alloc-coherent"
above_4g = {high}
{prep}
[[importer]]
name = "dev"
coherent = false
reads = true
mapping = "per-job"
{mask}
"""


def test_a_bounce_copy_of_an_uncached_buffer_reads_a_stale_alias_line():
    # swiotlb_bounce reads the original through phys_to_virt(), the cacheable linear map:
    # a line filled speculatively before the CPU's uncached write is what the slot gets.
    cpu_sync = POLICIES["baseline"].with_rule("map", "cpu-sync")
    high = verdicts(CONTIG.format(version="6.1", high="true", prep="", mask="dma_mask = 32"),
                    ("device-reads-latest",), cpu_sync)
    low = verdicts(CONTIG.format(version="6.1", high="false", prep="", mask=""), ("device-reads-latest",), cpu_sync)
    assert high["device-reads-latest"] is Verdict.REFUTED
    assert low["device-reads-latest"] is Verdict.HOLDS


@pytest.mark.parametrize(("prep", "lost"), [("clean", Verdict.HOLDS), ("clean-invalidate", Verdict.HOLDS),
                                            ("none", Verdict.REFUTED)])
def test_an_allocator_that_does_not_prep_the_alias_loses_the_zeroing(prep, lost):
    # kernel/dma/direct.c dma_direct_alloc: arch_dma_prep_coherent, then memset through the
    # uncached mapping; without the prep a dirty line of the pages' previous owner is
    # written back over it.
    got = verdicts(CONTIG.format(version="6.4", high="false", prep=f'prep = "{prep}"', mask=""), ("no-lost-writes",))
    assert got["no-lost-writes"] is lost


# --- family 5 (only real histories) is tests/model/test_real_histories.py -------------------

def test_udmabuf_begin_and_end_sync_nothing_until_its_misc_device_has_a_dma_mask():
    # 9e9fa6a9198b ("udmabuf: Set the DMA mask for the udmabuf device (v2)", v6.0, 5.15.65):
    # before it begin_cpu_udmabuf's dma_map_sg of the misc device failed, so SYNC_END did not
    # clean a write made in the bracket, and a reader through the kept mapping read memory.
    text = ('[kernel]\nversion = "{v}"\n[exporter]\nkind = "udmabuf"\n[buffer]\nsource = "memfd"\n'
            '[clients]\nmmap = "write"\n[[importer]]\nname = "dev"\ncoherent = false\nreads = true\n')
    got = {v: verdicts(text.format(v=v), ("device-reads-latest",))["device-reads-latest"]
           for v in ("5.15.64", "5.15.65", "5.19", "6.0")}
    assert got == {"5.15.64": Verdict.REFUTED, "5.15.65": Verdict.HOLDS, "5.19": Verdict.REFUTED, "6.0": Verdict.HOLDS}


def test_vb2_dma_sg_syncs_for_the_cpu_reader_since_v5_9_and_all_of_a_merged_mapping_since_v6_16():
    # d4db5eb57cab (v5.9) gave the vb2-dma-sg dma-buf begin/end_cpu_access; until a704a3c503ae
    # (v6.16) they passed sgt->nents, which covers only part of an IOMMU-merged mapping, so a
    # SYNC reader of a line another device wrote reads the stale cache line.
    text = ('[kernel]\nversion = "{v}"\n[exporter]\nkind = "vb2-dma-sg"\niommu = {iommu}\n'
            '[buffer]\nsource = "driver-cached"\ncpu_zeroed = false\nlines = 2\n[clients]\nmmap = "read"\n'
            '[[importer]]\nname = "dev"\ncoherent = false\nreads = false\nwrites = true\n')
    got = {(v, iommu): verdicts(text.format(v=v, iommu=iommu), ("cpu-reads-latest",))["cpu-reads-latest"]
           for v, iommu in (("5.8", "false"), ("5.9", "false"), ("6.15", "true"), ("6.16", "true"))}
    assert got == {("5.8", "false"): Verdict.REFUTED, ("5.9", "false"): Verdict.HOLDS,
                   ("6.15", "true"): Verdict.REFUTED, ("6.16", "true"): Verdict.HOLDS}


def test_udmabuf_since_504e2b4ab97a_does_no_maintenance_on_the_first_begin():
    # 504e2b4ab97a: every udmabuf map passes DMA_ATTR_SKIP_CPU_SYNC, the misc device's in
    # begin_cpu_udmabuf included, so the importer's map no longer cleans the creator's writes.
    text = ('[kernel]\nversion = "{v}"\n[exporter]\nkind = "udmabuf"\n[buffer]\nsource = "memfd"\n'
            '[clients]\nmmap = "write"\n[[importer]]\nname = "dev"\ncoherent = false\nreads = true\n'
            'mapping = "per-job"\n')
    got = {v: verdicts(text.format(v=v), ("device-reads-latest",))["device-reads-latest"] for v in ("6.16", "7.2")}
    assert got == {"6.16": Verdict.HOLDS, "7.2": Verdict.REFUTED}
