"""The verdicts the foundation issue asks for, and what the model found beyond them.

Expected outcomes come from the thread and the kernel sources (docs/semantics.md), not from the model's output: each
test says which source it encodes.
"""

from __future__ import annotations

from importlib.resources import files

import pytest

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.engines.explicit import Limits
from dmabuf_mc.checker.trace import replay
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.config import builtin_names
from tests.conftest import config_text, labels, system


def verdict(cfg, prop, without=()):
    _, ts = system(cfg)
    result = check(ts, [prop], without).results[0]
    return result.verdict, result.counterexample


def test_seed_stale_read_is_the_threads_scenario_and_shortest():
    # Christian König, 5 Dec 2022: the exporter writes with the CPU (dirty line), the
    # non-snooping importer's DMA reads memory and gets stale data.
    v, trace = verdict("seed", "device-reads-latest")
    assert v is Verdict.REFUTED
    assert labels(trace) == [
        "dma_buf_export()",
        "dma_buf_attach(display)",
        "dma_buf_map_attachment(display, DMA_TO_DEVICE)",
        "cpu_write(exporter, line0)",
        "dma_read(display, line0)",
    ]
    assert replay(trace) == 5


def test_seed_trace_is_shortest():
    # No shorter history can produce a stale read: the line must be dirtied after the
    # mapping (PRIME's map skips the sync), and the device must read it. Check every
    # prefix length by bounding the search depth.
    _, ts = system("seed")
    shallow = check(ts, ["device-reads-latest"], limits=Limits(max_depth=4)).results[0]
    assert shallow.verdict is Verdict.UNKNOWN


def test_heap_exporter_bracketing_its_writes_keeps_the_noncoherent_importer_fresh():
    # P9 / Tomasz Figa 9 Dec 2022: an exporter that brackets its CPU access with
    # begin/end_cpu_access gets the heap's syncs for every mapped attachment.
    assert verdict("heap-bracketed", "device-reads-latest")[0] is Verdict.HOLDS


def test_without_the_bracket_the_heap_case_goes_stale():
    # The same configuration when the exporter's driver breaks its own rule.
    v, trace = verdict("heap-bracketed", "device-reads-latest", ["exporter-brackets-own-cpu-access"])
    assert v is Verdict.REFUTED
    assert "cpu_write(exporter, line0)" in labels(trace)


def test_coherent_snooping_importer_needs_no_bracketing():
    # dma-api.rst: a snooping device's reads see dirty CPU lines.
    assert verdict("coherent-importer", "device-reads-latest")[0] is Verdict.HOLDS


def test_exporter_without_cpu_access_maintenance_serves_stale_cpu_reads():
    # udmabuf before 284562e1f348: SYNC does nothing, so after a device write the CPU
    # reads a stale line while the importer keeps its mapping.
    v, trace = verdict("udmabuf-no-cpu-sync", "cpu-reads-latest")
    assert v is Verdict.REFUTED
    calls = labels(trace)
    assert calls.index("dma_write(codec, line0)") < calls.index("cpu_read(mmap, line0)")
    assert not any(c.startswith("dma_buf_unmap_attachment") for c in calls)


def test_stale_line_needs_a_speculative_fill_when_the_map_leaves_no_line():
    # arch_sync_dma_for_* / docs/semantics.md: with no line in the cache at map time, only a speculative fill can put
    # a stale copy there; the shortest trace must contain one.
    cfg = config_text(
        """
[exporter]
kind = "udmabuf-v4.20"
[buffer]
source = "memfd"
cpu_zeroed = false
[clients]
mmap = "read"
[[importer]]
name = "codec"
coherent = false
reads = false
writes = true
"""
    )
    v, trace = verdict(cfg, "cpu-reads-latest")
    assert v is Verdict.REFUTED
    assert "speculative_fill(line0)" in labels(trace)


def test_heap_syncs_the_mapped_writer_so_cpu_reads_are_fresh():
    # the exporters' begin/end_cpu_access: the heap's begin_cpu_access(DMA_FROM_DEVICE) invalidates for each mapped
    # attachment; the camera's writes are seen by userspace.
    assert verdict("heap-mmap", "device-reads-latest")[0] is Verdict.HOLDS
    _, ts = system("heap-mmap")
    report = check(ts, ["cpu-reads-latest"])
    assert report.results[0].verdict is Verdict.HOLDS


def test_userspace_skipping_sync_reads_stale_data():
    # uapi dma-buf.h: userspace cannot rely on coherent access without DMA_BUF_IOCTL_SYNC.
    v, trace = verdict("heap-mmap", "cpu-reads-latest", ["cpu-access-bracketed"])
    assert v is Verdict.REFUTED
    assert "dma_buf_begin_cpu_access" not in " ".join(labels(trace))


def test_x86_no_snoop_device_reads_stale_data_even_from_a_heap():
    # dev_is_dma_coherent: dev_is_dma_coherent() is true on x86, so no clean happens for no-snoop DMA.
    assert verdict("x86-no-snoop", "device-reads-latest")[0] is Verdict.REFUTED


def test_coherent_allocation_for_a_coherent_exporter_is_cached_and_goes_stale():
    # Tomasz Figa, 9 Dec 2022: dma_alloc_coherent for coherent device X, imported by Y.
    assert verdict("coherent-alloc", "device-reads-latest")[0] is Verdict.REFUTED


def test_write_combined_allocation_serves_noncoherent_importer():
    # dma_direct_alloc: the WC mapping writes memory directly.
    assert verdict("uncached-wc", "device-reads-latest")[0] is Verdict.HOLDS


def test_sync_write_over_a_bounced_mapping_destroys_the_device_write():
    # swiotlb.c: SYNC_WRITE's end_cpu_access -> sync_for_device copies the original over the
    # bounce slot, which held the device's newer data.
    v, trace = verdict("bounce-32bit", "no-lost-writes")
    assert v is Verdict.REFUTED
    assert labels(trace)[-2:] == ["dma_buf_begin_cpu_access(DMA_TO_DEVICE)", "dma_buf_end_cpu_access(DMA_TO_DEVICE)"]


def test_bounced_snapshot_misses_another_devices_write():
    # swiotlb.c: a bounced mapping is a second copy; a device writing memory meanwhile is
    # invisible to it until the next sync - concurrent access breaks under bouncing.
    v, trace = verdict("largest", "device-reads-latest")
    assert v is Verdict.REFUTED
    assert labels(trace)[-1] == "dma_read(dma32, line0)"


def test_userspace_write_bracket_is_lost_when_the_writer_unmaps():
    # The same race for userspace: a camera mapped DMA_FROM_DEVICE is unmapped (V4L2
    # DQBUF) while userspace is inside SYNC_START|RW and has written a line.
    text = (files("dmabuf_mc.model.configs") / "heap-mmap.toml").read_text()
    text = text.replace('mmap = "read"', 'mmap = "read-write"')
    v, trace = verdict(config_text(text), "cpu-reads-latest")
    assert v is Verdict.REFUTED
    calls = labels(trace)
    assert calls[-2:] == ["dma_buf_unmap_attachment(camera, DMA_FROM_DEVICE)", "cpu_read(mmap, line0)"]


def test_unmap_during_a_cpu_write_bracket_drops_the_cpu_write():
    # A finding: an importer mapped DMA_BIDIRECTIONAL that unmaps while the exporter is
    # inside begin/end_cpu_access(DMA_TO_DEVICE) invalidates the exporter's dirty line
    # (arch_sync_dma_for_*: arch_sync_dma_for_cpu invalidates); no rule forbids that interleaving.
    cfg = config_text(
        """
[exporter]
kind = "heap"
cpu_writes = true
brackets_own_cpu_access = true
[[importer]]
name = "isp"
coherent = false
map_directions = ["DMA_TO_DEVICE", "DMA_BIDIRECTIONAL"]
"""
    )
    v, trace = verdict(cfg, "no-lost-writes")
    assert v is Verdict.REFUTED
    calls = labels(trace)
    assert calls[-1] == "dma_buf_unmap_attachment(isp, DMA_BIDIRECTIONAL)"
    assert "cpu_write(exporter, line0)" in calls


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_configuration_checks_and_every_trace_replays(name):
    _, ts = system(name)
    report = check(ts)
    assert report.stopped in (None, "every checked property was refuted")
    assert report.deadlock is None
    for r in report.results:
        if r.counterexample is not None:
            assert replay(r.counterexample) == len(r.counterexample)
