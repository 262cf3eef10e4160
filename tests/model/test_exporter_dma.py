"""The exporting device as a DMA master: a videobuf2 exporter's own queue writes or reads
the buffer between QBUF and DQBUF, with the prepare and finish memops syncing around it
unless userspace's V4L2 cache hints skip them (videobuf2-core.c, videobuf2-dma-contig.c,
videobuf2-dma-sg.c, videobuf2-v4l2.c). Each expected outcome is read from the kernel
function cited, not from the model's output; every REFUTED carries a replayed trace."""

from __future__ import annotations

import pytest

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.trace import Trace, replay
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.config import ConfigError
from dmabuf_mc.model.policy import POLICIES
from tests.conftest import config_text, history, labels, system

NO_CLEAN = 'cache_hints = ["V4L2_BUF_FLAG_NO_CACHE_CLEAN"]'
NO_INVALIDATE = 'cache_hints = ["V4L2_BUF_FLAG_NO_CACHE_INVALIDATE"]'

# A capture queue on a non-coherent device with vb2-dma-contig's non-coherent MMAP memory
# (V4L2_MEMORY_FLAG_NON_COHERENT: dma_alloc_noncontiguous, cacheable), exported, read by
# userspace through the dma-buf mmap with DMA_BUF_IOCTL_SYNC.
DC_CAPTURE = """[exporter]
kind = "vb2-dma-contig"
dma = "write"
{hints}
[buffer]
source = "driver-cached"
[clients]
mmap = "read"
[[importer]]
name = "display"
coherent = false
reads = true
mapping = "once"
"""

# The same capture queue with vb2-dma-sg, pages not left dirty by the allocator, so only
# the capture path decides the outcome.
SG_CAPTURE = """[exporter]
kind = "vb2-dma-sg"
dma = "write"
{hints}
[buffer]
cpu_zeroed = false
[clients]
mmap = "read"
[[importer]]
name = "display"
coherent = false
reads = true
mapping = "once"
"""

# A capture queue whose frames a non-coherent display reads; no CPU client.
DEVICE_READER = """[exporter]
kind = "{kind}"
dma = "write"
{hints}
[buffer]
source = "driver-cached"
[[importer]]
name = "display"
coherent = false
reads = true
mapping = "once"
"""


def verdict(text: str, prop: str, without: tuple[str, ...] = ()) -> tuple[Verdict, Trace | None]:
    _, ts = system(config_text(text))
    (result,) = check(ts, (prop,), without).results
    if result.counterexample is not None:
        assert replay(result.counterexample) == len(result.counterexample)
    assert (result.verdict is Verdict.REFUTED) == (result.counterexample is not None)
    return result.verdict, result.counterexample


# --- a userspace reader of the captured frame ---------------------------------------------

@pytest.mark.parametrize(("hints", "expected"), [("", Verdict.HOLDS), (NO_INVALIDATE, Verdict.REFUTED)])
def test_a_captured_frame_reaches_the_mmap_reader_only_through_the_finish_sync(hints, expected):
    # vb2_dc_finish: dma_sync_sgtable_for_cpu(buf->dev, sgt, DMA_FROM_DEVICE), an invalidate,
    # unless skip_cache_sync_on_finish (V4L2_BUF_FLAG_NO_CACHE_INVALIDATE). The dma-buf
    # begin_cpu_access of vb2-dma-contig returns 0 (vb2_dc_dmabuf_ops_begin_cpu_access), so
    # the reader's SYNC_START does not make up for the skipped invalidate: the line the
    # prepare's clean left valid is read after the device wrote memory around it.
    v, trace = verdict(DC_CAPTURE.format(hints=hints), "cpu-reads-latest")
    assert v is expected
    if trace is not None:
        calls = labels(trace)
        assert calls[-1] == "cpu_read(mmap, line0)"
        assert calls.index("vb2_qbuf()") < calls.index("dma_write(exporter, buffer)") < calls.index("vb2_dqbuf()")


@pytest.mark.parametrize(("hints", "without", "expected"), [
    (NO_INVALIDATE, (), Verdict.HOLDS),
    (NO_INVALIDATE, ("cpu-access-bracketed",), Verdict.REFUTED),
    ("", ("cpu-access-bracketed",), Verdict.HOLDS),
])
def test_vb2_dma_sg_begin_cpu_access_invalidates_what_no_cache_invalidate_skipped(hints, without, expected):
    # vb2_dma_sg_dmabuf_ops_begin_cpu_access syncs buf->dev for the CPU with the queue's
    # DMA_FROM_DEVICE: a reader that brackets with DMA_BUF_IOCTL_SYNC gets the invalidate the
    # hint skipped in vb2_dma_sg_finish. A reader that relies on DQBUF alone (a V4L2 mmap
    # reader, no dma-buf bracket) gets it only from the finish memop.
    v, trace = verdict(SG_CAPTURE.format(hints=hints), "cpu-reads-latest", without)
    assert v is expected
    if trace is not None:
        assert "dma_buf_begin_cpu_access" not in " ".join(labels(trace))


def test_a_cpu_read_of_a_queued_buffer_is_stale_when_userspace_breaks_the_queue_rule():
    # The V4L2 buffer is the driver's from QBUF to DQBUF (videobuf2-core.c vb2_core_qbuf,
    # vb2_core_dqbuf): a read in between may hit a line the device wrote around.
    text = DC_CAPTURE.format(hints="")
    assert verdict(text, "cpu-reads-latest")[0] is Verdict.HOLDS
    v, trace = verdict(text, "cpu-reads-latest", ("no-cpu-access-while-queued",))
    assert v is Verdict.REFUTED
    assert trace is not None and "vb2_dqbuf()" not in labels(trace)


def test_a_device_write_outside_the_queue_breaks_ownership_and_staleness():
    # The driver DMAs only to buffers it owns, between buf_queue and vb2_buffer_done; a write
    # after the finish memop's invalidate lands under a line refilled since (dma-api.rst).
    text = DC_CAPTURE.format(hints="")
    assert verdict(text, "cpu-reads-latest", ("exporter-dma-while-queued",))[0] is Verdict.REFUTED
    v, trace = verdict(text.replace("mmap = \"read\"", "mmap = \"none\""), "dma-api-ownership",
                       ("exporter-dma-while-queued",))
    assert v is Verdict.REFUTED
    assert trace is not None and labels(trace)[-1] == "dma_write(exporter, buffer)"


# --- a device reader of the captured frame ------------------------------------------------

@pytest.mark.parametrize(("hints", "expected"), [("", Verdict.HOLDS), (NO_CLEAN, Verdict.REFUTED)])
def test_a_display_reads_the_captured_frame_only_if_the_prepare_cleaned_the_zeroed_pages(hints, expected):
    # vb2_dma_sg_alloc zeroes the pages with the CPU and maps them for buf->dev with
    # DMA_ATTR_SKIP_CPU_SYNC: the lines stay dirty until vb2_dma_sg_prepare cleans them at
    # QBUF. Skipped (V4L2_BUF_FLAG_NO_CACHE_CLEAN), the dirty zeroes outlive the device's
    # write and the DQBUF invalidate, or an eviction, leaves the display a stale frame.
    v, trace = verdict(DEVICE_READER.format(kind="vb2-dma-sg", hints=hints), "device-reads-latest")
    assert v is expected
    if trace is not None:
        assert labels(trace)[-1] == "dma_read(display, line0)"


def test_vb2_dma_sg_cleans_for_the_importer_at_its_first_map_and_vb2_dma_contig_does_not():
    # vb2_dma_sg_dmabuf_ops_map: dma_map_sgtable(db_attach->dev, sgt, dir, 0), a clean of the
    # zeroed lines; vb2_dc_dmabuf_ops_map passes DMA_ATTR_SKIP_CPU_SYNC. A display that maps
    # before the first QBUF thus makes a skipped prepare clean harmless for vb2-dma-sg only:
    # for vb2-dma-contig the dirty zeroes stay and an eviction writes them over the frame.
    calls = ["dma_buf_export()", "dma_buf_attach(display)", "dma_buf_map_attachment(display, DMA_TO_DEVICE)",
             "vb2_qbuf()", "dma_write(exporter, buffer)"]
    sg = history(config_text(DEVICE_READER.format(kind="vb2-dma-sg", hints=NO_CLEAN)),
                 [*calls, "vb2_dqbuf()", "dma_read(display, line0)"])
    assert sg[3]["line 0"] == "cache clean (latest), memory latest"
    assert sg[-1]["observed"] == "device read latest"
    dc = history(config_text(DEVICE_READER.format(kind="vb2-dma-contig", hints=NO_CLEAN)),
                 [*calls, "cache_evict(line0)", "dma_read(display, line0)"])
    assert dc[3]["line 0"] == "cache dirty (latest), memory stale"
    assert dc[-1]["observed"] == "device read STALE"


def test_vb2_dma_contig_exports_non_coherent_memory_with_skip_cpu_sync_maps():
    # vb2_dc_dmabuf_ops_map skips the CPU sync because "the vb2_dc memory is allocated from
    # device coherent memory"; since de27891f675e (v5.16) a V4L2_MEMORY_FLAG_NON_COHERENT
    # buffer is not, and its CPU-zeroed lines reach a display that maps and reads before the
    # first capture only if something else cleaned them.
    v, trace = verdict(DEVICE_READER.format(kind="vb2-dma-contig", hints=""), "device-reads-latest")
    assert v is Verdict.REFUTED
    assert trace is not None and "vb2_qbuf()" not in labels(trace)


# --- the memops themselves ----------------------------------------------------------------

@pytest.mark.parametrize(("hints", "after_qbuf", "after_dqbuf"), [
    ("", "cache clean (latest), memory latest", "cache invalid, memory latest"),
    (NO_CLEAN, "cache dirty (latest), memory stale", "cache invalid, memory latest"),
    (NO_INVALIDATE, "cache clean (latest), memory latest", "cache clean (stale), memory latest"),
])
def test_prepare_cleans_and_finish_invalidates_unless_the_hint_skips_it(hints, after_qbuf, after_dqbuf):
    # vb2_dma_sg_prepare: dma_sync_sgtable_for_device (arm64 since c50f11c6196f: clean);
    # vb2_dma_sg_finish: dma_sync_sgtable_for_cpu (invalidate); each skipped on its flag.
    text = DEVICE_READER.format(kind="vb2-dma-sg", hints=hints)
    views = history(config_text(text), ["vb2_qbuf()", "dma_write(exporter, buffer)", "vb2_dqbuf()"])
    assert views[1]["line 0"] == after_qbuf
    assert views[3]["line 0"] == after_dqbuf
    assert views[1]["exporter"] == "queued to its device (device-owned)"
    assert views[3]["exporter"] == "dequeued"


def test_coherent_vb2_dma_contig_memory_gets_no_memop_syncs():
    # vb2_dc_prepare / vb2_dc_finish return early when !buf->non_coherent_mem: a
    # dma_alloc_attrs buffer, uncached for the CPU on a non-coherent device.
    text = DEVICE_READER.format(kind="vb2-dma-contig", hints="").replace("driver-cached", "dma-alloc-coherent")
    views = history(config_text(text), ["vb2_qbuf()", "dma_write(exporter, buffer)", "vb2_dqbuf()"])
    assert views[0]["line 0"] == views[1]["line 0"] == views[3]["line 0"]


def test_an_output_queue_skips_the_finish_sync_and_its_device_reads_what_prepare_cleaned():
    # init_buffer_cache_hints: a DMA_TO_DEVICE queue always skips the finish memop; the
    # prepare's clean makes the CPU-zeroed line visible to the device's read.
    text = DEVICE_READER.format(kind="vb2-dma-sg", hints="").replace('dma = "write"', 'dma = "read"')
    views = history(config_text(text), ["vb2_qbuf()", "dma_read(exporter, line0)", "vb2_dqbuf()"])
    assert views[2]["observed"] == "device read latest"
    assert views[3]["line 0"] == "cache clean (latest), memory latest"
    skipped = history(config_text(text.replace('dma = "read"', f'dma = "read"\n{NO_CLEAN}')),
                      ["vb2_qbuf()", "dma_read(exporter, line0)"])
    assert skipped[2]["observed"] == "device read STALE"


# --- where the kernel has it ------------------------------------------------------------

@pytest.mark.parametrize(("text", "field"), [
    ('[exporter]\nkind = "heap"\ndma = "write"', "exporter.dma"),
    ('[exporter]\nkind = "vb2-vmalloc"\ndma = "write"', "exporter.dma"),
    ('[exporter]\nkind = "vb2-dma-sg"\ndma = "sideways"', "exporter.dma"),
    (f'[exporter]\nkind = "vb2-dma-sg"\n{NO_CLEAN}', "exporter.cache_hints"),
    ('[exporter]\nkind = "vb2-dma-sg"\ndma = "write"\ncache_hints = ["V4L2_BUF_FLAG_NO_CACHE"]',
     "exporter.cache_hints[0]"),
    (f'[kernel]\nversion = "5.8"\n[exporter]\nkind = "vb2-dma-sg"\ndma = "write"\n{NO_CLEAN}', "exporter.cache_hints"),
    (f'[exporter]\nkind = "vb2-dma-contig"\ndma = "write"\n{NO_CLEAN}\n[buffer]\nsource = "dma-alloc-coherent"',
     "exporter.cache_hints"),
    ('[kernel]\nversion = "5.15"\n[exporter]\nkind = "vb2-dma-contig"\ndma = "write"\n[buffer]\n'
     'source = "driver-cached"', "buffer.source"),
    ('[kernel]\narch = "x86"\n[exporter]\nkind = "vb2-dma-sg"\ndma = "write"', "exporter.coherent"),
    ('[exporter]\nkind = "vb2-dma-sg"\nsnoops = true', "exporter.snoops"),
])
def test_exporter_dma_and_hints_only_where_the_kernel_has_them(text, field):
    # Only vb2-dma-contig and vb2-dma-sg have prepare/finish memops and a device of their own;
    # the hints came with f5f5fa73fbfb (v5.9) and skip only a sync the memop makes.
    importer = '\n[[importer]]\nname = "display"\ncoherent = true\n'
    with pytest.raises(ConfigError) as e:
        config_text(text + importer)
    assert e.value.field == field


def test_exporter_dma_adds_state_only_to_configurations_that_use_it():
    _, plain = system(config_text(DEVICE_READER.format(kind="vb2-dma-sg", hints="").replace('dma = "write"', "")))
    _, dma = system(config_text(DEVICE_READER.format(kind="vb2-dma-sg", hints="")))
    assert "queued" not in {v.name for v in plain.variables}
    assert {v.name for v in dma.variables} - {v.name for v in plain.variables} == {"queued"}


def test_a_heap_allocating_policy_turns_the_capture_queue_into_a_per_job_importer():
    # P3/P12 move the allocation to a heap: the V4L2 queue then imports the buffer (DMABUF
    # memory), mapped at QBUF and unmapped at DQBUF with vb2's own syncs skipped
    # (videobuf2-core.c: __prepare_dmabuf, init_buffer_cache_hints); the heap's map, unmap
    # and begin_cpu_access do the maintenance, so the mmap reader gets the frame.
    cfg, ts = system("vb2-capture", POLICIES["p3-neutral-heap"])
    (queue,) = [i for i in cfg.importers if i.name == "vb2-queue"]
    assert (queue.writes, queue.mapping, cfg.exporter.dma) == (True, "per-job", "none")
    assert check(ts, ("cpu-reads-latest",)).results[0].verdict is Verdict.HOLDS
    assert check(system("vb2-capture")[1], ("cpu-reads-latest",)).results[0].verdict is Verdict.REFUTED


def test_vb2_dma_sg_begin_and_end_sync_with_the_queues_own_direction():
    # vb2_dma_sg_dmabuf_ops_begin_cpu_access passes buf->dma_dir, the queue's (vb2_core_queue_init:
    # DMA_TO_DEVICE for an output queue), whatever the caller asked: for-CPU maintenance of
    # DMA_TO_DEVICE does nothing, so the CPU-zeroed line stays dirty.
    text = DEVICE_READER.format(kind="vb2-dma-sg", hints="").replace('dma = "write"', 'dma = "read"')
    text = text.replace("[[importer]]", '[clients]\nmmap = "read"\n[[importer]]')
    cfg = config_text(text)
    assert cfg.exporter.kind.cpu_access_direction == "DMA_TO_DEVICE"
    views = history(cfg, ["dma_buf_export()", "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)"])
    assert views[2]["line 0"] == "cache dirty (latest), memory stale"
    capture = history(config_text(text.replace('dma = "read"', 'dma = "write"')),
                      ["dma_buf_export()", "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)"])
    assert capture[2]["line 0"] == "cache invalid, memory stale"
