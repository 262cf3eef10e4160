"""Importer lifetimes (issue 11): importers that hold their mapping from attach to release
(`mapping = "held"`), and dynamic importers (`dynamic = true`), whose attach maps the
buffer before v6.16 (drivers/dma-buf/dma-buf.c: dma_buf_dynamic_attach until
de68b17d5d07). Expected outcomes are read from the kernel functions cited, not from the
model's output."""

from __future__ import annotations

import re
from collections import deque

import pytest

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.interp import evaluate, successor
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.config import ConfigError, load
from tests.conftest import config_text, history, labels, system

SCAN_OUT = """[exporter]
kind = "heap"
[buffer]
source = "cma-heap"
[clients]
vmap = "write"
[[importer]]
name = "display"
coherent = false
reads = true
needs_contiguous = true
map_directions = ["DMA_BIDIRECTIONAL"]
mapping = "{mapping}"
{user}
"""


def scan_out(mapping: str) -> str:
    return SCAN_OUT.format(mapping=mapping, user="vmap_user = true" if mapping == "held" else "")


def unmaps_by_bracket(text: str) -> dict[str, int]:
    """Every reachable dma_buf_unmap_attachment(display) transition, counted by whether the
    display driver's own CPU bracket (the vmap user's) was open when it was taken."""
    _, ts = system(config_text(text))
    c = compile_system(ts, frozenset())
    bracket = next(i for i, v in enumerate(ts.variables) if v.name == "cpu_access")
    none = ts.variables[bracket].domain.labels.index("DMA_NONE")
    seen, queue = {c.initial}, deque([c.initial])
    counts = {"inside": 0, "outside": 0}
    while queue:
        state = queue.popleft()
        values = c.unpack(state)
        for index, nxt in zip(*c.successors(state), strict=True):
            act = ts.actions[index]
            if act.family == "dma_buf_unmap_attachment" and act.params[0] == "display":
                counts["outside" if values[ts.variables[bracket].name] == none else "inside"] += 1
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return counts


# --- mapping = "held" ---------------------------------------------------------------------

def test_a_held_scan_out_never_unmaps_inside_its_own_cpu_bracket():
    # A display maps at import and unmaps at release (drm_gem_prime_import_dev maps
    # DMA_BIDIRECTIONAL, drm_prime_gem_destroy unmaps, then detaches); its driver's
    # begin/end_cpu_access never enclose that unmap. Every reachable transition is walked;
    # "once" lets it happen.
    held = unmaps_by_bracket(scan_out("held"))
    once = unmaps_by_bracket(scan_out("once"))
    assert held["inside"] == 0 and held["outside"] > 0
    assert once["inside"] > 0


def enabled_after(text: str, calls: list[str], call: str) -> bool:
    """Whether `call` is enabled after the history `calls`."""
    _, ts = system(config_text(text))
    state = dict(ts.init)
    for done in calls:
        state = successor(ts, ts.actions[ts.action_index(done)], state)
    return bool(evaluate(ts.actions[ts.action_index(call)].enabled(), state))


def test_a_held_importer_is_never_attached_or_mapped_again():
    calls = ["dma_buf_export()", "dma_buf_attach(display)", "dma_buf_map_attachment(display, DMA_BIDIRECTIONAL)",
             "dma_buf_unmap_attachment(display, DMA_BIDIRECTIONAL)"]
    steps = history(config_text(scan_out("held")), [*calls, "dma_buf_detach(display)"])
    assert steps[-2]["display"] == "attached, unmapped (held mapping released)"
    assert steps[-1]["display"] == "detached, released"
    assert not enabled_after(scan_out("held"), calls, "dma_buf_map_attachment(display, DMA_BIDIRECTIONAL)")
    assert not enabled_after(scan_out("held"), [*calls, "dma_buf_detach(display)"], "dma_buf_attach(display)")
    assert enabled_after(scan_out("once"), [*calls, "dma_buf_detach(display)"], "dma_buf_attach(display)")


def test_a_held_importer_detaches_only_after_its_mapping():
    attached = ["dma_buf_export()", "dma_buf_attach(display)"]
    assert not enabled_after(scan_out("held"), attached, "dma_buf_detach(display)")
    assert enabled_after(scan_out("once"), attached, "dma_buf_detach(display)")


GPU_ONCE = """[exporter]
kind = "heap"
[clients]
vmap = "read-write"
[[importer]]
name = "gpu"
coherent = false
reads = true
writes = true
mapping = "once"
"""


def test_the_held_gpu_keeps_the_cpu_write_the_same_driver_loses_when_it_may_unmap_any_time():
    # heap unmap (system_heap_unmap_dma_buf -> dma_unmap_sgtable, DMA_BIDIRECTIONAL) invalidates
    # for the CPU: inside the driver's own write bracket it drops the dirty line. A driver that
    # never unmaps inside its own bracket (etnaviv's CPU_PREP/CPU_FINI) cannot lose it that way.
    props = ("no-lost-writes", "cpu-reads-latest", "device-reads-latest")
    _, ts = system("gpu-held")
    held = {r.name: r.verdict for r in check(ts, props).results}
    assert all(v is Verdict.HOLDS for v in held.values()), held
    gpu = load("gpu-held").importers[0]
    assert (gpu.mapping, gpu.vmap_user) == ("held", True)
    _, once = system(config_text(GPU_ONCE))
    report = check(once, ("no-lost-writes",))
    (result,) = report.results
    assert result.verdict is Verdict.REFUTED and result.counterexample is not None  # replayed by check
    steps = labels(result.counterexample)
    assert steps[-1] == "dma_buf_unmap_attachment(gpu, DMA_BIDIRECTIONAL)"
    assert any(s.startswith("dma_buf_begin_cpu_access(") for s in steps)
    assert not any(s.startswith("dma_buf_end_cpu_access(") for s in steps)


@pytest.mark.parametrize(("importer", "clients", "field", "expected"), [
    ('mapping = "once"\nvmap_user = true', 'vmap = "write"', "importer[0].vmap_user", 'mapping = "held"'),
    ('mapping = "held"\nvmap_user = true', 'vmap = "none"', "importer[0].vmap_user", "a vmap user"),
    ('mapping = "sometimes"', 'vmap = "none"', "importer[0].mapping", "one of any, per-job, once, held"),
    ("dynamic = 1", 'vmap = "none"', "importer[0].dynamic", "a bool"),
])
def test_a_wrong_lifetime_names_the_field(importer, clients, field, expected):
    with pytest.raises(ConfigError, match=rf"test.toml:\d+: {re.escape(field)}: expected {re.escape(expected)}"):
        config_text(f'[exporter]\nkind = "heap"\n[clients]\n{clients}\n[[importer]]\nname = "a"\ncoherent = false\n'
                    f"{importer}\n")


def test_two_vmap_users_are_refused():
    one = 'coherent = false\nmapping = "held"\nvmap_user = true\n'
    with pytest.raises(ConfigError, match=r"importer\[1\]\.vmap_user: expected one vmap user"):
        config_text(f'[exporter]\nkind = "heap"\n[clients]\nvmap = "read"\n[[importer]]\nname = "a"\n{one}'
                    f'[[importer]]\nname = "b"\n{one}')


# --- dynamic importers --------------------------------------------------------------------

NIC = """[kernel]
version = "{version}"
[exporter]
kind = "heap"
[buffer]
source = "system-heap"
above_4g = true
[clients]
mmap = "{mmap}"
{camera}[[importer]]
name = "nic"
coherent = false
dma_mask = 32
reads = true
dynamic = {dynamic}
mapping = "per-job"
"""
CAMERA = """[[importer]]
name = "camera"
coherent = false
iommu = true
reads = false
writes = true
mapping = "per-job"
"""


def nic(version: str, dynamic: bool = True, mmap: str = "write", camera: bool = False) -> str:
    return NIC.format(version=version, dynamic=str(dynamic).lower(), mmap=mmap, camera=CAMERA if camera else "")


@pytest.mark.parametrize(("version", "after_attach"), [
    ("6.15", "attached, unmapped, core keeps a DMA_BIDIRECTIONAL mapping, bounce slot latest"),
    ("6.16", "attached, unmapped"),
])
def test_a_dynamic_importer_is_mapped_bidirectional_at_attach_until_v6_16(version, after_attach):
    # dma_buf_dynamic_attach before de68b17d5d07: importer-dynamic != exporter-dynamic (no heap
    # has pin/unpin), so the core maps DMA_BIDIRECTIONAL at attach and keeps attach->sgt.
    steps = history(config_text(nic(version)), ["dma_buf_export()", "dma_buf_dynamic_attach(nic)"])
    assert steps[-1]["nic"] == after_attach


def test_before_v6_16_a_dynamic_importers_map_and_unmap_reach_no_exporter():
    # dma_buf_map_attachment returns attach->sgt (DMA_BIDIRECTIONAL covers every direction);
    # dma_buf_unmap_attachment returns early for it; dma_buf_detach unmaps it.
    calls = ["dma_buf_export()", "dma_buf_dynamic_attach(nic)", "dma_buf_map_attachment(nic, DMA_TO_DEVICE)",
             "dma_buf_unmap_attachment(nic, DMA_TO_DEVICE)", "dma_buf_detach(nic)"]
    steps = history(config_text(nic("6.15", mmap="none")), calls)
    assert steps[2]["line 0"] == steps[3]["line 0"] == steps[4]["line 0"]  # no maintenance after attach
    assert steps[4]["nic"] == "attached, unmapped, core keeps a DMA_BIDIRECTIONAL mapping, bounce slot latest"
    assert steps[5]["nic"] == "detached"


def test_before_v6_16_detach_copies_the_attach_time_snapshot_over_a_cpu_write():
    # The attach-time table is DMA_BIDIRECTIONAL, so its unmap at dma_buf_detach copies the
    # swiotlb slot back over the pages (swiotlb_tbl_unmap_single). Inside userspace's write
    # bracket the slot still holds the attach-time snapshot: the CPU's write is overwritten,
    # and the importer, attached again, reads the stale snapshot. Since v6.16 the reader maps
    # DMA_TO_DEVICE per job and its unmap copies nothing back; a static importer never did.
    old = check(system(config_text(nic("6.15")))[1], ("device-reads-latest", "no-lost-writes"))
    got = {r.name: r for r in old.results}
    for r in got.values():
        assert r.verdict is Verdict.REFUTED and r.counterexample is not None  # replayed by check
    lost = labels(got["no-lost-writes"].counterexample)
    assert lost[-1] == "dma_buf_detach(nic)" and "cpu_write(mmap, line0)" in lost
    assert labels(got["device-reads-latest"].counterexample)[-1] == "dma_read(nic, line0)"
    for text in (nic("6.16"), nic("6.15", dynamic=False)):
        report = check(system(config_text(text))[1], ("device-reads-latest", "no-lost-writes"))
        assert all(r.verdict is Verdict.HOLDS for r in report.results)


def test_a_heap_keeps_the_attach_time_snapshot_fresh_for_a_bracketed_cpu_write():
    # system_heap_dma_buf_end_cpu_access syncs every attachment its map_dma_buf marked mapped,
    # the one dma_buf_dynamic_attach made included: dma_sync_sgtable_for_device(DMA_TO_DEVICE)
    # bounces the CPU's write into the slot (swiotlb_sync_single_for_device).
    steps = history(config_text(nic("6.15")), [
        "dma_buf_export()", "dma_buf_dynamic_attach(nic)", "dma_buf_mmap()",
        "dma_buf_begin_cpu_access(DMA_TO_DEVICE)", "cpu_write(mmap, line0)", "dma_buf_end_cpu_access(DMA_TO_DEVICE)",
        "dma_buf_map_attachment(nic, DMA_TO_DEVICE)", "dma_read(nic, line0)"])
    assert steps[-1]["observed"] == "device read latest"


@pytest.mark.parametrize(("version", "read"), [("6.15", "device read STALE"), ("6.16", "device read latest")])
def test_a_bounced_dynamic_reader_misses_a_write_made_before_it_mapped_until_v6_16(version, read):
    # Before v6.16 the map hands back the attach-time snapshot with no maintenance, so a frame
    # the camera wrote and handed over (unmapped) before the reader mapped is not in its slot;
    # since de68b17d5d07 the map calls system_heap_map_dma_buf, which bounces the pages in.
    c = config_text(nic(version, mmap="none", camera=True))
    steps = history(c, ["dma_buf_export()", "dma_buf_dynamic_attach(nic)", "dma_buf_attach(camera)",
                        "dma_buf_map_attachment(camera, DMA_FROM_DEVICE)", "dma_write(camera, line0)",
                        "dma_buf_unmap_attachment(camera, DMA_FROM_DEVICE)",
                        "dma_buf_map_attachment(nic, DMA_TO_DEVICE)", "dma_read(nic, line0)"])
    assert steps[-1]["observed"] == read


def test_a_dynamic_importer_needs_a_kernel_with_dma_buf_dynamic_attach():
    with pytest.raises(ConfigError, match=r"importer\[0\]\.dynamic: expected a kernel with dma_buf_dynamic_attach"):
        config_text(nic("5.6"))


def test_features_a_configuration_does_not_use_cost_no_state():
    static = {v.name for v in system(config_text(nic("6.15", dynamic=False)))[1].variables}
    dynamic = {v.name for v in system(config_text(nic("6.15")))[1].variables}
    after = {v.name for v in system(config_text(nic("6.16")))[1].variables}
    assert dynamic - static == {"sgt_dir[nic]"}
    assert after == static
    assert "has_mapped[nic]" not in static


def test_list_kernel_names_the_dynamic_attach_rule_per_version():
    from click.testing import CliRunner

    from dmabuf_mc.app.cli import main
    out = CliRunner().invoke(main, ["list", "kernel"]).output
    assert "dynamic importer: maps DMA_BIDIRECTIONAL at attach, kept until detach (before de68b17d5d07)" in out
    assert "dynamic importer: maps per dma_buf_map_attachment (de68b17d5d07" in out
    assert "[[importer]] mapping = held" in out and "[[importer]] dynamic = true" in out


def test_a_dynamic_attach_that_cannot_map_fails_before_v6_16():
    # dma_buf_dynamic_attach returns the map's error: under P8 (DMA_ATTR_REQUIRE_COHERENT) a
    # bounced importer's attach-time map fails, so the attach does; since v6.16 its map does.
    from dmabuf_mc.model.policy import POLICIES
    p8 = POLICIES["p8-require-coherent"]
    old = history(config_text(nic("6.15", mmap="none")), ["dma_buf_export()", "dma_buf_dynamic_attach(nic)"], p8)
    new = history(config_text(nic("6.16", mmap="none")), ["dma_buf_export()", "dma_buf_dynamic_attach(nic)"], p8)
    assert old[-1]["nic"] == "detached" and old[-1]["observed"].startswith("REFUSED")
    assert new[-1]["nic"] == "attached, unmapped" and new[-1]["observed"] == "-"


def test_a_lifetime_error_from_the_command_line_is_bad_input(tmp_path):
    from click.testing import CliRunner

    from dmabuf_mc.app.cli import main
    bad = tmp_path / "bad.toml"
    text = scan_out("once") + "vmap_user = true\n"
    bad.write_text(text)
    line = text.splitlines().index("vmap_user = true") + 1
    r = CliRunner().invoke(main, ["check", "--config", str(bad)])
    assert r.exit_code == 2, r.output
    assert f"{bad}:{line}: importer[0].vmap_user: expected mapping = \"held\"" in r.output


@pytest.mark.parametrize("kind", ["heap", "heap-uncached", "drm-prime", "udmabuf", "vb2-dma-contig", "vb2-dma-sg",
                                  "vb2-vmalloc"])
def test_every_modelled_exporter_is_static_so_a_dynamic_importer_is_mapped_at_attach(kind):
    # dma_buf_is_dynamic() is !!ops->pin; none of these exporters' dma_buf_ops has pin/unpin
    # (drm_gem_prime_dmabuf_ops, system_heap_buf_ops, udmabuf_ops, vb2_*_dmabuf_ops), so a
    # dynamic importer always mismatches and, before v6.16, is mapped at attach.
    from dmabuf_mc.model.exporters import exporter_kind
    from dmabuf_mc.model.kernels import parse_version
    source = exporter_kind(kind, parse_version("6.15")).sources[0]
    text = (f'[kernel]\nversion = "6.15"\n[exporter]\nkind = "{kind}"\n[buffer]\nsource = "{source}"\n'
            '[[importer]]\nname = "gpu"\ncoherent = false\ndynamic = true\n')
    steps = history(config_text(text), ["dma_buf_export()", "dma_buf_dynamic_attach(gpu)"])
    assert "keeps a DMA_BIDIRECTIONAL mapping" in steps[-1]["gpu"]
