"""Kernel history as configuration (issue 6): each rule version against the one before
or after it, on a short history whose outcome the kernel commit or function describes (docs/semantics.md).
The expected outcomes are read from those documents, not from the model's output."""

from __future__ import annotations

import pytest

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.config import ConfigError
from dmabuf_mc.model.policy import BASELINE, POLICIES, Policy
from tests.conftest import config_text, history, system


def cfg(kernel: str = "", exporter: str = 'kind = "heap"', buffer: str = 'source = "system-heap"',
        importer: str = "coherent = false\nreads = true", clients: str = 'mmap = "none"'):
    return config_text(f"[kernel]\n{kernel}\n[exporter]\n{exporter}\n[buffer]\n{buffer}\n[clients]\n{clients}\n"
                       f'[[importer]]\nname = "dev"\n{importer}\n')


def verdicts(c, props=(), without=(), policy: Policy = BASELINE) -> dict[str, Verdict]:
    _, ts = system(c, policy)
    return {r.name: r.verdict for r in check(ts, props, without).results}


START = ["dma_buf_export()", "dma_buf_attach(dev)"]
HEAP_WRITER = 'kind = "heap"\ncpu_writes = true\nbrackets_own_cpu_access = true\nown_access_direction = "{d}"'


# arm64 arch_sync_dma_for_device, c50f11c6196f: "Don't invalidate FROM_DEVICE buffers at start of DMA transfer".
@pytest.mark.parametrize(("arch", "line_after_map"), [
    ("arm64", "cache clean (latest), memory latest"),
    ("arm64-before-c50f11c6196f", "cache invalid, memory stale"),
    ("arm32", "cache invalid, memory stale"),
])
def test_map_from_device_cleans_after_c50f11c6196f_and_invalidated_before(arch, line_after_map):
    c = cfg(f'arch = "{arch}"', importer="coherent = false\nreads = false\nwrites = true")
    after = history(c, [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)"])[-1]
    assert after["line 0"] == line_after_map  # heap pages start dirty from __GFP_ZERO (system_heap.c)


def test_a_driver_bracketing_its_write_with_from_device_loses_it_only_before_c50f11c6196f():
    # arm64 before c50f11c6196f invalidated on a DMA_FROM_DEVICE map, dropping dirty lines: the
    # driver's end_cpu_access(DMA_FROM_DEVICE) syncs for the device with FROM_DEVICE.
    writer = HEAP_WRITER.format(d="DMA_FROM_DEVICE")
    old = verdicts(cfg('arch = "arm64-before-c50f11c6196f"', exporter=writer), ("no-lost-writes",))
    new = verdicts(cfg('arch = "arm64"', exporter=writer), ("no-lost-writes",))
    assert old["no-lost-writes"] is Verdict.REFUTED
    assert new["no-lost-writes"] is Verdict.HOLDS


def test_x86_does_no_maintenance_so_a_no_snoop_reader_sees_the_dirty_line():
    # dev_is_dma_coherent: dev_is_dma_coherent() is constantly true on x86; a no-snoop device reads memory.
    reader = "coherent = true\nsnoops = false\nreads = true"
    writer = HEAP_WRITER.format(d="DMA_TO_DEVICE")
    x86 = verdicts(cfg('arch = "x86"', exporter=writer, importer=reader), ("device-reads-latest",))
    arm = verdicts(cfg('arch = "arm64"', exporter=writer, importer="coherent = false\nreads = true"),
                   ("device-reads-latest",))
    assert x86["device-reads-latest"] is Verdict.REFUTED
    assert arm["device-reads-latest"] is Verdict.HOLDS


def test_x86_has_no_non_coherent_devices():
    with pytest.raises(ConfigError, match=r"importer\[0\]\.coherent: expected true with kernel.arch"):
        cfg('arch = "x86"', importer="coherent = false")


BOUNCED_WRITER = ("coherent = false\nreads = false\nwrites = true\ndma_mask = 32\npartial_writes = {p}")
HIGH = 'source = "system-heap"\nabove_4g = true\nlines = 2'


@pytest.mark.parametrize(("swiotlb", "slot_after_map"), [
    ("aa6f8dcbab47", "latest, latest"), ("before-ddbd89deb7d3", "stale, stale")])
def test_swiotlb_from_device_map_copies_into_the_slot_only_after_the_fix(swiotlb, slot_after_map):
    # swiotlb_tbl_map_single: since aa6f8dcbab47 the map copies in every direction; before ddbd89deb7d3 a
    # FROM_DEVICE map did not copy.
    c = cfg(f'swiotlb = "{swiotlb}"', buffer=HIGH, importer=BOUNCED_WRITER.format(p="true"))
    after = history(c, [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)"])[-1]
    assert after["dev"].endswith(f"bounce slot {slot_after_map}")


def test_a_partial_device_write_brings_back_stale_slot_data_before_the_swiotlb_fix():
    # swiotlb.c: the copy "so a device that writes only part of the buffer does not expose or
    # bring back stale bounce-slot contents".
    calls = [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)", "dma_write(dev, line0)",
             "dma_buf_unmap_attachment(dev, DMA_FROM_DEVICE)"]
    old = history(cfg('swiotlb = "before-ddbd89deb7d3"', buffer=HIGH, importer=BOUNCED_WRITER.format(p="true")), calls)
    new = history(cfg('swiotlb = "aa6f8dcbab47"', buffer=HIGH, importer=BOUNCED_WRITER.format(p="true")), calls)
    assert old[-1]["line 1"] == "cache dirty (stale), memory stale"  # the CPU-zeroed line is gone
    assert new[-1]["line 1"] == "cache dirty (latest), memory stale"


def test_a_whole_buffer_writer_writes_every_line_in_one_transfer():
    c = cfg(buffer=HIGH, importer=BOUNCED_WRITER.format(p="false"))
    _, ts = system(c)
    writes = [a.label for a in ts.actions if a.family == "dma_write"]
    assert writes == ["dma_write(dev, buffer)"]
    after = history(c, [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)", "dma_write(dev, buffer)"])[-1]
    assert after["dev"].endswith("bounce slot latest, latest")


def test_unmap_with_skip_cpu_sync_leaves_the_device_write_in_the_bounce_slot():
    # dma_direct_unmap_page with DMA_ATTR_SKIP_CPU_SYNC skips the copy-back: device writes are lost.
    calls = [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)", "dma_write(dev, line0)",
             "dma_buf_unmap_attachment(dev, DMA_FROM_DEVICE)"]
    importer = BOUNCED_WRITER.format(p="true")
    synced = history(cfg(buffer=HIGH, importer=importer), calls)[-1]
    skipped = history(cfg(exporter='kind = "heap"\nmap_cpu_sync = false', buffer=HIGH, importer=importer), calls)[-1]
    assert synced["line 0"] == "cache dirty (latest), memory stale"
    assert skipped["line 0"] == "cache dirty (stale), memory stale"


@pytest.mark.parametrize(("mode", "after_free"), [("strict", Verdict.HOLDS), ("lazy", Verdict.REFUTED)])
def test_a_lazy_iommu_lets_a_late_dma_reach_freed_pages(mode, after_free):
    # iommu.strict: lazy mode defers the IOTLB invalidation; "a device can keep reaching memory that
    # was already unmapped, and possibly freed"; strict mode faults the access.
    c = cfg(f'iommu = "{mode}"', importer="coherent = false\nreads = false\nwrites = true\niommu = true")
    got = verdicts(c, ("no-use-after-free", "dma-within-mapping"), ("dma-through-live-mapping",))
    assert got["no-use-after-free"] is after_free
    assert got["dma-within-mapping"] is Verdict.REFUTED  # the late DMA is the driver's bug either way


def test_the_lazy_iotlb_entry_goes_when_the_flush_queue_drains():
    c = cfg('iommu = "lazy"', importer="coherent = false\nreads = false\nwrites = true\niommu = true")
    steps = history(c, [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)",
                        "dma_buf_unmap_attachment(dev, DMA_FROM_DEVICE)", "iommu_flush_queue(dev)"])
    assert steps[-2]["dev"].endswith("IOTLB still holds the old translation")
    assert "IOTLB" not in steps[-1]["dev"]


VB2_SG = 'kind = "vb2-dma-sg"\niommu = true\nsync_nents = {n}'
TWO_LINES = 'source = "driver-cached"\nlines = 2'


@pytest.mark.parametrize(("nents", "misuse"), [("true", Verdict.REFUTED), ("false", Verdict.HOLDS)])
def test_syncing_nents_instead_of_orig_nents_covers_only_part_of_a_merged_mapping(nents, misuse):
    # kernel/dma/direct.h: behind an IOMMU entries merge, nents < orig_nents; dma_sync_sg_* must be
    # passed the original count (vb2-dma-sg fixed by a704a3c503ae).
    c = cfg(exporter=VB2_SG.format(n=nents), buffer=TWO_LINES, clients='mmap = "read"',
            importer="coherent = false\nreads = false\nwrites = true")
    got = verdicts(c, ("dma-api-whole-mapping", "cpu-reads-latest"))
    assert got["dma-api-whole-mapping"] is misuse
    steps = history(c, [*START, "dma_buf_mmap()", "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)"])
    assert (steps[-1]["line 1"] == "cache dirty (latest), memory stale") is (nents == "true")


def test_heap_before_skip_sync_if_not_mapped_syncs_an_unmapped_attachment():
    # system_heap.c since 4c68e499bb9d ("Skip sync if not mapped") skips unmapped attachments.
    # Before it heap-helpers.c synced every table. dma-direct syncs dma_to_phys(sg_dma_address),
    # 0 for a table never mapped (449fa54d6815; 4c68e499bb9d's message): only a table a map left
    # its address in, or one iommu-dma syncs by sg_phys, reaches the pages.
    begin = ["dma_buf_mmap()", "dma_buf_begin_cpu_access(DMA_BIDIRECTIONAL)"]
    mapped_before = ["dma_buf_map_attachment(dev, DMA_TO_DEVICE)", "dma_buf_unmap_attachment(dev, DMA_TO_DEVICE)"]

    def last(kind: str, importer: str, calls: list[str]) -> dict[str, str]:
        c = cfg(exporter=f'kind = "{kind}"', clients='mmap = "read-write"', importer=f"coherent = false\n{importer}")
        return history(c, [*START, *calls])[-1]

    never = last("heap-sync-unmapped", "reads = true", begin)
    iommu = last("heap-sync-unmapped", "reads = true\niommu = true", begin)
    unmapped = last("heap-sync-unmapped", "reads = true", [*mapped_before, *begin])
    new = last("heap", "reads = true", [*mapped_before, *begin])
    assert never["observed"] == iommu["observed"] == unmapped["observed"] == "DMA-API: SYNC/UNMAP OF A DEAD MAPPING"
    assert new["observed"] == "-"
    assert never["line 0"] == "cache dirty (latest), memory stale"  # page 0 was synced, not the buffer
    assert iommu["line 0"] == "cache invalid, memory stale"  # the invalidate dropped the zeroing
    assert unmapped["line 0"] == "cache invalid, memory latest"
    assert new["line 0"] == "cache clean (latest), memory latest"


def test_udmabuf_begin_synced_for_the_device_until_1ffe09590121():
    # 1ffe09590121: '"begin" should mean dma_sync_sg_for_cpu and "end" should mean
    # dma_sync_sg_for_device'. The first begin maps the misc device; the second one syncs.
    # With the swapped end (for the CPU: an invalidate) the line may be refilled
    # speculatively while the device owns the buffer (arch_sync_dma_for_*); the fixed end leaves it clean.
    writer = "coherent = false\nreads = false\nwrites = true\nmapping = \"once\""

    def run(kind: str, refill: list[str]) -> list[dict[str, str]]:
        c = cfg(exporter=f'kind = "{kind}"', buffer='source = "memfd"', importer=writer, clients='mmap = "read"')
        return history(c, [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)", "dma_buf_mmap()",
                           "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)", "dma_buf_end_cpu_access(DMA_FROM_DEVICE)",
                           *refill, "dma_write(dev, line0)", "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)",
                           "cpu_read(mmap, line0)"])

    swapped = run("udmabuf-swapped", ["speculative_fill(line0)"])
    fixed = run("udmabuf", [])
    assert swapped[-4]["line 0"] == fixed[-4]["line 0"] == "cache clean (latest), memory latest"
    assert swapped[-1]["observed"].startswith("CPU read STALE")
    assert fixed[-1]["observed"].startswith("CPU read latest")


def test_udmabuf_first_begin_cleans_instead_of_invalidating():
    # udmabuf.c begin_cpu_udmabuf: the first begin creates an sg_table mapped to the misc device (this mapping
    # itself does a for-device sync)": a clean, so a line the device wrote around stays stale.
    c = cfg(exporter='kind = "udmabuf"', buffer='source = "memfd"', clients='mmap = "read"',
            importer="coherent = false\nreads = false\nwrites = true")
    steps = history(c, [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)", "dma_buf_mmap()",
                        "dma_write(dev, line0)", "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)", "cpu_read(mmap, line0)"])
    assert steps[-1]["observed"].startswith("CPU read STALE")


def test_map_once_leaves_cpu_writes_uncleaned_where_per_job_maps_clean_them():
    # A driver that maps once and then relies on hardware coherency breaks;
    # a V4L2 importer maps at QBUF, so every job gets the exporter's map-time clean (videobuf2-core.c).
    # udmabuf before 284562e1f348 has no CPU-access callbacks: only its map cleans.
    def run(mapping: str) -> dict[str, Verdict]:
        c = cfg(exporter='kind = "udmabuf-v4.20"', buffer='source = "memfd"', clients='mmap = "write"',
                importer=f'coherent = false\nreads = true\nmapping = "{mapping}"')
        return verdicts(c, ("device-reads-latest",))

    assert run("once")["device-reads-latest"] is Verdict.REFUTED
    assert run("per-job")["device-reads-latest"] is Verdict.HOLDS
    assert run("any")["device-reads-latest"] is Verdict.REFUTED  # the CPU writes while it is mapped
    c = cfg(exporter='kind = "udmabuf-v4.20"', buffer='source = "memfd"', importer='coherent = false\nmapping = "once"')
    steps = history(c, [*START, "dma_buf_map_attachment(dev, DMA_TO_DEVICE)",
                        "dma_buf_unmap_attachment(dev, DMA_TO_DEVICE)"])
    assert steps[-1]["dev"].endswith("(mapped once already)")


def test_udmabuf_caches_the_first_mapping_until_detach():
    # udmabuf.c sets cache_sgt_mapping: the first mapping per attachment is kept until detach.
    c = cfg(exporter='kind = "udmabuf"', buffer='source = "memfd"')
    steps = history(c, [*START, "dma_buf_map_attachment(dev, DMA_TO_DEVICE)",
                        "dma_buf_unmap_attachment(dev, DMA_TO_DEVICE)", "dma_buf_detach(dev)"])
    assert steps[-2]["dev"] == "attached, unmapped, core keeps a DMA_TO_DEVICE mapping"
    assert steps[-1]["dev"] == "detached"


@pytest.mark.parametrize("text,field", [
    ('[kernel]\narch = "ia64"\n', "kernel.arch"),
    ('[kernel]\nswiotlb = "v5.16"\n', "kernel.swiotlb"),
    ('[kernel]\nlazy = true\n', "kernel.lazy"),
])
def test_unknown_knobs_are_named(text, field):
    with pytest.raises(ConfigError, match=rf"test.toml:2: {field}"):
        config_text(text + '[exporter]\nkind = "heap"\n[[importer]]\nname = "a"\ncoherent = false\n')


def test_a_wrong_direction_override_is_rejected_with_the_allowed_values():
    with pytest.raises(ConfigError, match=r"test.toml:4: exporter.cpu_access_direction: expected one of as-passed"):
        config_text('\n[exporter]\nkind = "heap"\ncpu_access_direction = "TO_DEVICE"\n'
                    '[[importer]]\nname = "a"\ncoherent = false\n')


def test_the_readme_bug_you_remember_is_refuted_before_the_swiotlb_fix_and_holds_after():
    # README "Checking a bug you remember": ddbd89deb7d3 / aa6f8dcbab47 (CVE-2022-0854).
    old = verdicts("swiotlb-partial-write-old")
    new = verdicts("swiotlb-partial-write")
    assert old["no-lost-writes"] is Verdict.REFUTED
    assert all(v is Verdict.HOLDS for v in new.values())


# --- swiotlb details the mutation run (bench/mutants.py) showed no test deciding -----------

BOUNCED_READER = "coherent = false\nreads = true\ndma_mask = 32"


@pytest.mark.parametrize("version", ["5.10", "5.15.28"])
def test_before_ddbd89deb7d3_a_to_device_map_copies_into_the_slot(version):
    # swiotlb_tbl_map_single before ddbd89deb7d3: the map copies the original into the slot
    # for DMA_TO_DEVICE / DMA_BIDIRECTIONAL without DMA_ATTR_SKIP_CPU_SYNC, so the device
    # reads what the CPU wrote.
    c = cfg(f'version = "{version}"', buffer=HIGH, importer=BOUNCED_READER)
    steps = history(c, [*START, "dma_buf_map_attachment(dev, DMA_TO_DEVICE)", "dma_read(dev, line0)"])
    assert steps[-2]["dev"].endswith("bounce slot latest, latest")
    assert steps[-1]["observed"] == "device read latest"


def test_unmapping_a_to_device_bounce_copies_nothing_back_over_a_cpu_write():
    # swiotlb_sync_single_for_cpu / swiotlb_tbl_unmap_single copy the slot back only for
    # DMA_FROM_DEVICE and DMA_BIDIRECTIONAL: a CPU write made while a DMA_TO_DEVICE bounce is
    # mapped survives the unmap, however stale the slot is by then.
    c = cfg(buffer=HIGH, importer=BOUNCED_READER, clients='mmap = "read-write"')
    steps = history(c, [*START, "dma_buf_map_attachment(dev, DMA_TO_DEVICE)", "dma_buf_mmap()",
                        "dma_buf_begin_cpu_access(DMA_TO_DEVICE)", "cpu_write(mmap, line0)",
                        "dma_buf_unmap_attachment(dev, DMA_TO_DEVICE)"])
    assert steps[-2]["dev"].endswith("bounce slot stale, latest")
    assert steps[-1]["line 0"] == steps[-2]["line 0"] == "cache dirty (latest), memory stale"


def test_a_device_write_left_in_a_freed_bounce_slot_is_lost():
    # swiotlb_tbl_unmap_single frees the slot: with DMA_ATTR_SKIP_CPU_SYNC nothing was copied
    # back, and the freed slot is no copy of the buffer any more, so the device's write is lost.
    c = cfg(exporter='kind = "heap"\nmap_cpu_sync = false', buffer=HIGH, importer=BOUNCED_WRITER.format(p="false"))
    assert verdicts(c, ("no-lost-writes",))["no-lost-writes"] is Verdict.REFUTED
    _, ts = system(c)
    trace = check(ts, ("no-lost-writes",)).results[0].counterexample
    assert trace is not None and trace.action_labels()[-1] == "dma_buf_unmap_attachment(dev, DMA_FROM_DEVICE)"


@pytest.mark.parametrize(("mask", "refused"), [(32, Verdict.REFUSED), (64, Verdict.HOLDS)])
def test_require_coherent_refuses_a_coherent_importer_that_would_bounce(mask, refused):
    # DMA_ATTR_REQUIRE_COHERENT (P8): the mapping fails whenever swiotlb would be needed, for a
    # dev_is_dma_coherent() device too; the direct path refuses to bounce (found by bench/mutants.py).
    c = cfg(buffer=HIGH, importer=f"coherent = true\nreads = true\ndma_mask = {mask}")
    assert verdicts(c, ("no-refusal",), policy=POLICIES["p8-require-coherent"])["no-refusal"] is refused
