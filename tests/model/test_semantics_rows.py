"""Rows of docs/semantics.md whose outcome no other test decided: each a short check whose
result the kernel behaviour of that row fixes."""

from __future__ import annotations

import pytest

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.verdict import Verdict
from tests.conftest import config_text, history, system

TWO_WAY = """[exporter]
kind = "heap"
[[importer]]
name = "dev"
coherent = false
reads = true
map_directions = ["DMA_TO_DEVICE", "DMA_BIDIRECTIONAL"]
"""


def verdict(text: str, prop: str, without: tuple[str, ...] = ()) -> Verdict:
    _, ts = system(config_text(text))
    (result,) = check(ts, (prop,), without).results
    assert (result.verdict is Verdict.REFUTED) == (result.counterexample is not None)
    return result.verdict


def test_unmapping_in_another_direction_than_the_map_is_a_dma_api_error():
    # kernel/dma/debug.c check_unmap: "unmap with different direction" is reported.
    assert verdict(TWO_WAY, "dma-api-direction") is Verdict.HOLDS
    assert verdict(TWO_WAY, "dma-api-direction", ("unmap-in-mapped-direction",)) is Verdict.REFUTED


def test_cma_heap_pages_start_dirty_from_the_cpu_zeroing():
    # drivers/dma-buf/heaps/cma_heap.c cma_heap_allocate zeroes the pages with the CPU.
    text = TWO_WAY.replace('kind = "heap"', 'kind = "heap"\n[buffer]\nsource = "cma-heap"')
    assert history(config_text(text), [])[0]["line 0"] == "cache dirty (latest), memory stale"


BOUNCED = """[exporter]
kind = "heap"
[buffer]
source = "system-heap"
above_4g = {high}
[[importer]]
name = "dev32"
coherent = false
dma_mask = 32
reads = true
"""


@pytest.mark.parametrize(("high", "without", "expected"), [
    ("true", (), Verdict.HOLDS),
    ("true", ("dma-through-live-mapping",), Verdict.REFUTED),
    ("false", ("dma-through-live-mapping",), Verdict.HOLDS),
])
def test_a_32_bit_device_reaches_memory_above_4g_only_through_its_bounce_slot(high, without, expected):
    # kernel/dma/direct.h dma_direct_map_page: an address the device cannot reach is bounced;
    # without a live mapping there is no slot, and the device's DMA goes above its mask.
    assert verdict(BOUNCED.format(high=high), "dma-addressable", without) is expected


def test_strict_ownership_is_broken_by_a_cpu_store_while_the_device_owns_the_mapping():
    # Documentation/core-api/dma-api.rst: between map and unmap the buffer belongs to the
    # device. The seed's exporter writes while the display's mapping is live.
    seed = ('[exporter]\nkind = "drm-prime"\ncpu_writes = true\n[buffer]\nsource = "driver-cached"\n'
            'cpu_zeroed = false\n[[importer]]\nname = "display"\ncoherent = false\nreads = true\n')
    assert verdict(seed, "dma-api-ownership") is Verdict.REFUTED
    assert verdict(seed.replace("cpu_writes = true", "cpu_writes = false"), "dma-api-ownership") is Verdict.HOLDS
