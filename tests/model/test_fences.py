"""Device jobs behind dma_resv fences (`jobs = "fenced"`). dma_buf_begin_cpu_access
(drivers/dma-buf/dma-buf.c) calls the exporter's begin_cpu_access first and waits for the
implicit fences after it (__dma_buf_begin_cpu_access: dma_resv_wait_timeout with
dma_resv_usage_rw(write)); the uapi (include/uapi/linux/dma-buf.h, struct dma_buf_sync) makes
userspace wait itself before SYNC_START, a kernel vmap user relies on the core's wait."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.interp import evaluate, successor
from dmabuf_mc.checker.trace import replay
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.build import build
from dmabuf_mc.model.config import ConfigError, Configuration, builtin_names, load
from dmabuf_mc.model.policy import BASELINE
from tests.conftest import config_text, labels, system

VMAP = "vmap-fence-wait"
READER = """jobs = "fenced"
[exporter]
kind = "heap"
[clients]
{client} = "read"
[[importer]]
name = "gpu"
coherent = false
reads = {reads}
writes = {writes}
"""


def result(cfg: Configuration, prop: str, without: tuple[str, ...] = ()):
    _, ts = system(cfg)
    (r,) = check(ts, (prop,), without).results
    if r.verdict is Verdict.REFUTED:
        assert replay(r.counterexample) == len(r.counterexample)
    return r


def with_jobs(cfg: Configuration, jobs: str, fence_wait: str = "after-callback") -> Configuration:
    return replace(cfg, jobs=jobs, fence_wait=fence_wait)


def test_a_fill_between_the_heaps_invalidate_and_the_fence_wait_is_read_by_a_vmap_user():
    # dma_buf_begin_cpu_access: system_heap_dma_buf_begin_cpu_access invalidates the GPU's
    # mapping for the CPU, then __dma_buf_begin_cpu_access waits for the GPU's write fence;
    # the line speculatively filled in between is clean, stale, and the vmap read hits it.
    r = result(load(VMAP), "cpu-reads-latest")
    assert r.verdict is Verdict.REFUTED
    assert labels(r.counterexample) == [
        "dma_buf_export()", "dma_buf_attach(gpu)", "dma_buf_map_attachment(gpu, DMA_FROM_DEVICE)",
        "dma_resv_add_fence(gpu, DMA_RESV_USAGE_WRITE)", "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)",
        "speculative_fill(line0)", "dma_write(gpu, line0)", "dma_fence_signal(gpu)",
        "dma_resv_wait_timeout()", "cpu_read(vmap, line0)"]


def test_the_same_reader_holds_with_atomic_jobs_or_a_core_that_waits_before_the_callback():
    for cfg in (with_jobs(load(VMAP), "atomic"), with_jobs(load(VMAP), "fenced", "before-callback")):
        r = result(cfg, "cpu-reads-latest")
        assert r.verdict is Verdict.HOLDS and not r.vacuous


def test_userspace_that_waits_before_sync_start_reads_fresh_data_and_one_that_does_not_reads_stale():
    # uapi dma-buf.h: "it is the client's responsibility to wait for buffer to be ready"
    # before DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_START (poll() on the fd, or a sync_file).
    cfg = config_text(READER.format(client="mmap", reads="false", writes="true"))
    waits = result(cfg, "cpu-reads-latest")
    assert waits.verdict is Verdict.HOLDS and not waits.vacuous
    rushes = result(cfg, "cpu-reads-latest", ("userspace-waits-before-sync-start",))
    assert rushes.verdict is Verdict.REFUTED
    calls = labels(rushes.counterexample)
    begin, fill, write = (calls.index(c) for c in (
        "dma_buf_begin_cpu_access(DMA_FROM_DEVICE)", "speculative_fill(line0)", "dma_write(gpu, line0)"))
    assert calls.index("dma_resv_add_fence(gpu, DMA_RESV_USAGE_WRITE)") < begin < fill < write
    assert calls[-2:] == ["dma_resv_wait_timeout()", "cpu_read(mmap, line0)"]
    # With the core waiting before the callback, userspace has nothing left to wait for.
    patched = with_jobs(cfg, "fenced", "before-callback")
    assert "userspace-waits-before-sync-start" not in system(patched)[1].obligation_names()
    assert result(patched, "cpu-reads-latest").verdict is Verdict.HOLDS


def test_a_job_submitted_inside_a_bracket_breaks_the_reader():
    # uapi dma-buf.h: "the client must ensure that follow-up work is not submitted to GPU or
    # other device driver until after this ioctl has been called with DMA_BUF_SYNC_END".
    cfg = config_text(READER.format(client="mmap", reads="false", writes="true"))
    r = result(cfg, "cpu-reads-latest", ("no-device-work-in-cpu-bracket",))
    assert r.verdict is Verdict.REFUTED
    calls = labels(r.counterexample)
    assert calls.index("dma_buf_begin_cpu_access(DMA_FROM_DEVICE)") < calls.index(
        "dma_resv_add_fence(gpu, DMA_RESV_USAGE_WRITE)")


def test_an_importer_that_unmaps_before_its_fence_signalled_lets_the_device_write_through_a_dead_mapping():
    # dma-api-howto.rst: unmap once the DMA activity is finished; Paul Cercueil (Jan 2024):
    # dma_buf_unmap_attachment may not be called before the job's fence signalled.
    cfg = load(VMAP)
    assert result(cfg, "dma-within-mapping").verdict is Verdict.HOLDS
    r = result(cfg, "dma-within-mapping", ("unmap-after-fence-signalled",))
    assert r.verdict is Verdict.REFUTED
    assert labels(r.counterexample)[-3:] == [
        "dma_resv_add_fence(gpu, DMA_RESV_USAGE_WRITE)", "dma_buf_unmap_attachment(gpu, DMA_FROM_DEVICE)",
        "dma_write(gpu, line0)"]


def test_a_job_submitted_without_a_live_mapping_writes_through_none():
    # dma-buf.c "dma buf device access" DOC: DMA goes through dma_buf_map_attachment's
    # mapping; under fenced jobs the obligation binds when the job is programmed.
    cfg = load(VMAP)
    r = result(cfg, "dma-within-mapping", ("dma-through-live-mapping",))
    assert r.verdict is Verdict.REFUTED
    calls = labels(r.counterexample)
    assert "dma_buf_map_attachment(gpu, DMA_FROM_DEVICE)" not in calls
    assert calls[-2:] == ["dma_resv_add_fence(gpu, DMA_RESV_USAGE_WRITE)", "dma_write(gpu, line0)"]


@pytest.mark.parametrize(("direction", "waits_for_reader"), [("DMA_FROM_DEVICE", False), ("DMA_TO_DEVICE", True)])
def test_a_cpu_read_waits_only_for_writers_and_a_cpu_write_for_every_fence(direction, waits_for_reader):
    # include/linux/dma-resv.h dma_resv_usage_rw: a write waits at usage READ (all fences),
    # a read at usage WRITE (only writers).
    cfg = config_text(READER.format(client="vmap", reads="true", writes="false").replace(
        'vmap = "read"', 'vmap = "read-write"'))
    _, ts = system(cfg)
    state = dict(ts.init)
    for call in ("dma_buf_export()", "dma_buf_attach(gpu)", "dma_buf_map_attachment(gpu, DMA_TO_DEVICE)",
                 "dma_resv_add_fence(gpu, DMA_RESV_USAGE_READ)", f"dma_buf_begin_cpu_access({direction})"):
        state = successor(ts, ts.actions[ts.action_index(call)], state)
    wait = ts.actions[ts.action_index("dma_resv_wait_timeout()")]
    assert bool(evaluate(wait.enabled(), state)) is not waits_for_reader
    state = successor(ts, ts.actions[ts.action_index("dma_fence_signal(gpu)")], state)
    assert evaluate(wait.enabled(), state)


def agreeing(name: str) -> dict[str, dict[str, Verdict]]:
    cfg = load(name)
    out = {}
    for jobs, wait in (("atomic", "after-callback"), ("fenced", "after-callback"), ("fenced", "before-callback")):
        ts = build(with_jobs(cfg, jobs, wait), BASELINE)
        out[f"{jobs}/{wait}"] = {r.name: r.verdict for r in check(ts).results}
    return out


VMAP_USERS = [n for n in builtin_names() if n != "largest" and load(n).vmap != "none"]


@pytest.mark.parametrize("name", [n for n in builtin_names() if n != "largest" and n not in VMAP_USERS])
def test_atomic_and_fenced_jobs_agree_where_the_fence_order_cannot_matter(name):
    # No kernel vmap user: userspace waits before SYNC_START, so the core's wait after the
    # callback finds nothing pending, and every verdict is the one atomic jobs give.
    verdicts = agreeing(name)
    assert verdicts["fenced/after-callback"] == verdicts["atomic/after-callback"]
    assert verdicts["fenced/before-callback"] == verdicts["atomic/after-callback"]


@pytest.mark.parametrize("name", VMAP_USERS)
def test_atomic_and_fenced_jobs_differ_exactly_where_the_fence_order_matters(name):
    # A kernel vmap user relies on the core's wait, which comes after the exporter's
    # invalidate: only cpu-reads-latest can change, and waiting first (etnaviv's cpu_prep
    # order) gives back every verdict of atomic jobs.
    verdicts = agreeing(name)
    atomic, kernel, patched = (verdicts[k] for k in ("atomic/after-callback", "fenced/after-callback",
                                                      "fenced/before-callback"))
    assert {p for p in atomic if atomic[p] is not kernel[p]} == {"cpu-reads-latest"}
    assert kernel["cpu-reads-latest"] is Verdict.REFUTED
    assert patched == atomic


def test_the_vmap_finding_and_a_held_gpu_both_rely_on_the_core_wait():
    assert {VMAP, "gpu-held"} <= set(VMAP_USERS)


def test_atomic_configurations_get_no_fence_variables():
    _, ts = system("heap-mmap")
    assert not [v.name for v in ts.variables if v.name.startswith("fence")]
    assert not [a for a in ts.actions if a.family.startswith("dma_resv") or a.family == "dma_fence_signal"]
    _, fenced = system(VMAP)
    assert {v.name for v in fenced.variables} >= {"fence[gpu]", "fence_wait"}


@pytest.mark.parametrize(("text", "field"), [
    ('jobs = "eventually"\n', "jobs"),
    ('[kernel]\nfence_wait = "before-callback"\n', "kernel.fence_wait"),
    ('jobs = "fenced"\n[kernel]\nfence_wait = "never"\n', "kernel.fence_wait"),
])
def test_bad_job_settings_name_the_field(text, field):
    base = '[exporter]\nkind = "heap"\n[[importer]]\nname = "gpu"\ncoherent = false\n'
    with pytest.raises(ConfigError) as e:
        config_text(text + base)
    assert e.value.field == field
