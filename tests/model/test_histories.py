"""Short fixed histories with the state expected after each step, from the kernel's
documents (the kernel function cited per test; docs/semantics.md), run through the IR interpreter."""

from __future__ import annotations

import pytest

from dmabuf_mc.model.config import ConfigError
from tests.conftest import config_text, history

NONCOHERENT_WRITER = """
[exporter]
kind = "{kind}"
[buffer]
source = "{source}"
[clients]
mmap = "read-write"
[[importer]]
name = "dev"
coherent = {coherent}
snoops = {snoops}
reads = {reads}
writes = true
dma_mask = {mask}
"""


def cfg(kind="heap", source="system-heap", coherent=False, snoops=None, reads=False, mask=64, above_4g=False):
    text = NONCOHERENT_WRITER.format(
        kind=kind, source=source, coherent=str(coherent).lower(),
        snoops=str(coherent if snoops is None else snoops).lower(), reads=str(reads).lower(), mask=mask,
    )
    if above_4g:
        text = text.replace('source = "system-heap"', 'source = "system-heap"\nabove_4g = true')
    return config_text(text)


START = ["dma_buf_export()", "dma_buf_attach(dev)"]


def test_heap_pages_start_dirty_from_cpu_zeroing():
    # system_heap.c: system heap pages are zeroed by the CPU with __GFP_ZERO: dirty lines.
    assert history(cfg(), [])[0]["line 0"] == "cache dirty (latest), memory stale"


def test_map_from_device_cleans_dirty_line_on_arm64_after_c50f11c6196f():
    # arch_sync_dma_for_*: for-device maintenance cleans in every direction, the line stays valid.
    after = history(cfg(), [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)"])[-1]
    assert after["line 0"] == "cache clean (latest), memory latest"
    assert after["dev"] == "mapped DMA_FROM_DEVICE, device-owned"


def test_unmap_from_device_invalidates_and_a_cpu_read_then_sees_device_data():
    # arch_sync_dma_for_*: for-cpu maintenance invalidates unless DMA_TO_DEVICE.
    steps = history(cfg(), [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)", "dma_write(dev, line0)",
                            "dma_buf_unmap_attachment(dev, DMA_FROM_DEVICE)", "dma_buf_mmap()",
                            "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)", "cpu_read(mmap, line0)"])
    assert steps[4]["line 0"] == "cache clean (stale), memory latest"  # the device wrote around the cache
    assert steps[5]["line 0"] == "cache invalid, memory latest"
    assert steps[-1]["observed"] == "CPU read latest"


def test_invalidate_drops_a_dirty_line():
    # arch_sync_dma_for_* model consequences: invalidating a dirty line loses the CPU's write.
    steps = history(cfg(), [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)",
                            "dma_buf_begin_cpu_access(DMA_TO_DEVICE)", "dma_buf_mmap()", "cpu_write(mmap, line0)",
                            "dma_buf_unmap_attachment(dev, DMA_FROM_DEVICE)"])
    assert steps[-2]["line 0"] == "cache dirty (latest), memory stale"
    assert steps[-1]["line 0"] == "cache invalid, memory stale"


def test_begin_cpu_access_for_write_does_not_invalidate():
    # arch_sync_dma_for_*: arch_sync_dma_for_cpu does nothing for DMA_TO_DEVICE (DMA_BUF_SYNC_WRITE).
    steps = history(cfg(), [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)", "dma_write(dev, line0)",
                            "dma_buf_begin_cpu_access(DMA_TO_DEVICE)"])
    assert steps[-1]["line 0"] == steps[-2]["line 0"] == "cache clean (stale), memory latest"
    assert steps[-1]["dev"] == "mapped DMA_FROM_DEVICE, CPU-owned"


def test_heap_begin_cpu_access_skips_unmapped_attachments():
    # system_heap.c, 4c68e499bb9d "Skip sync if not mapped": with no mapped attachment
    # begin/end do no maintenance.
    steps = history(cfg(), [*START, "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)"])
    assert steps[-1]["line 0"] == steps[0]["line 0"] == "cache dirty (latest), memory stale"


def test_coherent_importer_gets_no_maintenance():
    # dev_is_dma_coherent/kernel/dma/direct.h: dev_is_dma_coherent() devices skip arch sync entirely.
    after = history(cfg(coherent=True), [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)"])[-1]
    assert after["line 0"] == "cache dirty (latest), memory stale"


def test_snooping_device_write_invalidates_the_cpu_line():
    # dma-api.rst: a coherent device's writes invalidate CPU caches.
    after = history(cfg(coherent=True), [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)",
                                         "dma_write(dev, line0)"])[-1]
    assert after["line 0"] == "cache invalid, memory latest"


def test_snooping_device_reads_a_dirty_line():
    # dma-api.rst: a coherent device's DMA reads see dirty CPU lines.
    steps = history(cfg(coherent=True, reads=True), [*START, "dma_buf_map_attachment(dev, DMA_BIDIRECTIONAL)",
                                                     "dma_read(dev, line0)"])
    assert steps[-1]["line 0"] == "cache dirty (latest), memory stale"
    assert steps[-1]["observed"] == "device read latest"


def test_no_snoop_device_marked_coherent_reads_stale_memory():
    # dev_is_dma_coherent: x86 says coherent, but PCIe no-snoop traffic bypasses the cache.
    steps = history(cfg(coherent=True, snoops=False, reads=True),
                    [*START, "dma_buf_map_attachment(dev, DMA_BIDIRECTIONAL)", "dma_read(dev, line0)"])
    assert steps[-1]["observed"] == "device read STALE"


def test_prime_map_skips_cpu_sync():
    # dma_buf_map_attachment, drm_prime.c: drm_gem_map_dma_buf uses DMA_ATTR_SKIP_CPU_SYNC.
    steps = history(cfg(kind="drm-prime", source="driver-cached", reads=True),
                    [*START, "dma_buf_map_attachment(dev, DMA_BIDIRECTIONAL)", "dma_read(dev, line0)"])
    assert steps[-2]["line 0"] == "cache dirty (latest), memory stale"
    assert steps[-1]["observed"] == "device read STALE"


def test_swiotlb_map_from_device_copies_original_to_bounce():
    # swiotlb.c after aa6f8dcbab47: map copies original -> bounce in every direction.
    after = history(cfg(mask=32, above_4g=True), [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)"])[-1]
    assert after["dev"] == "mapped DMA_FROM_DEVICE, device-owned, bounce slot latest"
    assert after["line 0"] == "cache dirty (latest), memory stale"  # bounced: no arch sync on the original


def test_swiotlb_sync_for_cpu_copies_back_only_from_device():
    # swiotlb.c: sync_for_cpu copies bounce -> original iff FROM_DEVICE or BIDIRECTIONAL.
    base = [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)", "dma_write(dev, line0)"]
    write = history(cfg(mask=32, above_4g=True), [*base, "dma_buf_begin_cpu_access(DMA_TO_DEVICE)"])
    assert write[-1]["line 0"] == write[-2]["line 0"] == "cache dirty (stale), memory stale"
    read = history(cfg(mask=32, above_4g=True), [*base, "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)"])
    assert read[-1]["line 0"] == "cache dirty (latest), memory stale"  # copied back by a CPU memcpy


def test_swiotlb_sync_for_device_overwrites_the_bounce_slot():
    # swiotlb.c: sync_for_device copies original -> bounce always, even over device data.
    steps = history(cfg(mask=32, above_4g=True), [*START, "dma_buf_map_attachment(dev, DMA_FROM_DEVICE)",
                                                  "dma_write(dev, line0)", "dma_buf_begin_cpu_access(DMA_TO_DEVICE)",
                                                  "dma_buf_end_cpu_access(DMA_TO_DEVICE)"])
    assert steps[-3]["dev"].endswith("bounce slot latest")
    assert steps[-1]["dev"].endswith("bounce slot stale")


def test_uncached_buffer_writes_reach_memory():
    # dma_direct_alloc: dma_alloc_wc on a non-coherent device gives a write-combined CPU mapping.
    text = """
[exporter]
kind = "drm-prime"
cpu_writes = true
[buffer]
source = "dma-alloc-wc"
[[importer]]
name = "dev"
coherent = false
"""
    steps = history(config_text(text), ["dma_buf_export()", "cpu_write(exporter, line0)"])
    assert steps[0]["line 0"] == "cache invalid, memory latest"  # flushed at allocation
    assert steps[-1]["line 0"] == "cache invalid, memory latest"


def test_mmap_holds_a_reference_so_put_waits_for_munmap():
    # uapi dma-buf.h: the VMA holds a file reference; release runs after the last reference.
    with pytest.raises(AssertionError, match="not enabled"):
        history(cfg(), ["dma_buf_export()", "dma_buf_mmap()", "dma_buf_put()"])
    assert history(cfg(), ["dma_buf_export()", "dma_buf_mmap()", "munmap()", "dma_buf_put()"])[-1]["dma_buf"] == (
        "released"
    )


def test_contiguous_heap_buffer_is_rejected_for_system_heap():
    with pytest.raises(ConfigError, match=r"buffer\.contiguous"):
        config_text('[exporter]\nkind="heap"\n[buffer]\ncontiguous=true\n[[importer]]\nname="a"\ncoherent=false\n')
