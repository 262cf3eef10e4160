"""CPU clients bracket independently: dma_buf_begin/end_cpu_access keep no state in the
kernel (drivers/dma-buf/dma-buf.c), so the exporter's own kernel user, a userspace process
with DMA_BUF_IOCTL_SYNC and a vmap user each have their own bracket, overlapping in any
order and direction."""

from __future__ import annotations

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.verdict import Verdict
from tests.conftest import config_text, history, system

HEAP = """[exporter]
kind = "heap"
cpu_writes = true
brackets_own_cpu_access = true
own_access_direction = "DMA_TO_DEVICE"
[clients]
mmap = "{mmap}"
[[importer]]
name = "isp"
coherent = false
reads = true
"""


def test_a_userspace_reader_invalidates_the_exporters_write_inside_its_bracket():
    # system_heap.c system_heap_dma_buf_begin_cpu_access: the reader's SYNC_START|READ syncs
    # every mapped attachment for the CPU in DMA_FROM_DEVICE, an invalidate on arm64, while
    # the exporter's kernel user is still writing inside its own DMA_TO_DEVICE bracket.
    text = HEAP.format(mmap="read")
    steps = history(config_text(text), [
        "dma_buf_export()", "dma_buf_attach(isp)", "dma_buf_map_attachment(isp, DMA_TO_DEVICE)",
        "dma_buf_begin_cpu_access(exporter, DMA_TO_DEVICE)", "cpu_write(exporter, line0)",
        "dma_buf_mmap()", "dma_buf_begin_cpu_access(userspace, DMA_FROM_DEVICE)"])
    assert steps[5]["line 0"] == "cache dirty (latest), memory stale"
    assert steps[-1]["line 0"] == "cache invalid, memory stale"  # the write is gone
    assert steps[-1]["cpu"] == ("exporter inside begin_cpu_access(DMA_TO_DEVICE), "
                                "userspace inside begin_cpu_access(DMA_FROM_DEVICE), mmapped")
    _, ts = system(config_text(text))
    report = check(ts, ("no-lost-writes", "cpu-reads-latest"))
    for r in report.results:
        assert r.verdict is Verdict.REFUTED and r.counterexample is not None  # replayed by check


def test_the_exporter_alone_keeps_its_write():
    _, ts = system(config_text(HEAP.format(mmap="none")))
    (result,) = check(ts, ("no-lost-writes",)).results
    assert result.verdict is Verdict.HOLDS


def test_one_client_keeps_the_plain_call_and_variable_names():
    _, ts = system(config_text(HEAP.format(mmap="none")))
    assert "dma_buf_begin_cpu_access(DMA_TO_DEVICE)" in [a.label for a in ts.actions]
    assert "cpu_access" in [v.name for v in ts.variables]
    _, two = system(config_text(HEAP.format(mmap="read")))
    assert {v.name for v in two.variables} >= {"cpu_access[exporter]", "cpu_access[userspace]"}
