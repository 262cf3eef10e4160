"""Only real histories: no reachable state of any built-in enables a call the kernel would
reject. The preconditions here are written from the kernel, independently of the model's
guards: every dma-buf call needs the buffer exported and not released (an fd exists),
attachment calls need the attachment, an unmap needs the mapping, mmap access needs the
VMA, and a swiotlb slot's cache lines exist only while the slot is in use."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping

import pytest

from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.ts import Action
from dmabuf_mc.model.config import builtin_names, load
from dmabuf_mc.model.policy import POLICIES
from tests.conftest import config_text, history, system

Labels = Mapping[str, str]


def _exported(s: Labels, a: Action) -> bool:
    return s["dma_buf"] == "exported"


def _attached(s: Labels, a: Action) -> bool:
    return _exported(s, a) and s[f"attached[{a.params[0]}]"] == "yes"


def _cpu_access(s: Labels, a: Action) -> bool:
    via = a.params[0]
    if via == "mmap":
        return s["mmap"] == "yes"
    if via == "vmap":
        return _exported(s, a)
    return s["dma_buf"] != "released"  # the exporter's own kernel mapping of its pages


def _slot_in_use(s: Labels, a: Action) -> bool:
    if not a.params[0].endswith("-slot"):
        return s["dma_buf"] != "released"
    d = a.params[0].removesuffix("-slot")
    return s[f"mapped[{d}]"] != "DMA_NONE" or s.get(f"sgt_dir[{d}]", "DMA_NONE") != "DMA_NONE"


def _device_has_address(s: Labels, a: Action) -> bool:
    """An importer's device has an address only once the buffer is shared; the exporting
    device has its own mapping from allocation to release (vb2_dma_sg_alloc, vb2_dc_alloc)."""
    if a.params[0] == "exporter":
        return s["dma_buf"] != "released"
    return s["dma_buf"] != "allocated"


KERNEL_PRECONDITIONS: dict[str, Callable[[Labels, Action], bool]] = {
    "dma_buf_export": lambda s, a: s["dma_buf"] == "allocated",
    "dma_buf_attach": _exported,
    "dma_buf_dynamic_attach": _exported,
    "dma_buf_detach": _attached,
    "dma_buf_map_attachment": _attached,
    "dma_buf_unmap_attachment": lambda s, a: _attached(s, a) and s[f"mapped[{a.params[0]}]"] != "DMA_NONE",
    "dma_buf_begin_cpu_access": _exported,
    "dma_buf_end_cpu_access": _exported,
    "dma_buf_begin_device_access": lambda s, a: _attached(s, a) and s[f"mapped[{a.params[0]}]"] != "DMA_NONE",
    "dma_buf_end_device_access": lambda s, a: _attached(s, a) and s[f"mapped[{a.params[0]}]"] != "DMA_NONE",
    "dma_buf_mmap": _exported,
    "munmap": lambda s, a: s["mmap"] == "yes",
    "dma_buf_put": lambda s, a: _exported(s, a) and s["mmap"] == "no",
    "cpu_read": _cpu_access,
    "cpu_write": _cpu_access,
    "cache_evict": _slot_in_use,
    "speculative_fill": _slot_in_use,
    "iommu_flush_queue": lambda s, a: True,
    "dma_read": lambda s, a: _device_has_address(s, a),
    "dma_write": lambda s, a: _device_has_address(s, a),
    # vb2_core_qbuf: -EINVAL unless the buffer is dequeued; vb2_core_dqbuf returns only a done one.
    "vb2_qbuf": lambda s, a: s["dma_buf"] != "released" and s["queued"] == "no",
    "vb2_dqbuf": lambda s, a: s["dma_buf"] != "released" and s["queued"] == "yes",
    # A job is submitted by the importer's driver for its attachment; only a pending fence
    # signals; dma_resv_wait_timeout runs inside dma_buf_begin_cpu_access (dma-buf.c).
    "dma_resv_add_fence": _attached,
    "dma_fence_signal": lambda s, a: s[f"fence[{a.params[0]}]"] == "yes",
    "dma_resv_wait_timeout": lambda s, a: _exported(s, a) and s.get(
        f"cpu_access[{a.params[0]}]" if a.params else "cpu_access") != "DMA_NONE",
}


def rejected(config: str, policy: str, limit: int = 60_000) -> list[str]:
    """Every (state, action) of a breadth-first walk that a kernel precondition forbids."""
    _, ts = system(load(config), POLICIES[policy])
    c = compile_system(ts, frozenset())
    names = [v.name for v in ts.variables]
    seen, queue, bad = {c.initial}, deque([c.initial]), []
    while queue and len(seen) < limit:
        state = queue.popleft()
        values = c.unpack(state)
        labels = {n: ts.variables[i].domain.labels[values[n]] for i, n in enumerate(names)}
        actions, successors = c.successors(state)
        for index, nxt in zip(actions, successors, strict=True):
            act = ts.actions[index]
            if not KERNEL_PRECONDITIONS[act.family](labels, act):
                bad.append(f"{act.label} in {labels}")
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return bad


@pytest.mark.parametrize("config", builtin_names())
@pytest.mark.parametrize("policy", ["baseline", "p4-device-bracketing"])
def test_no_reachable_state_enables_a_call_the_kernel_rejects(config, policy):
    assert rejected(config, policy)[:3] == []


def test_a_sync_every_attachment_heap_syncs_only_attachments_that_exist():
    # heap-helpers.c (v5.6-v5.10) walks buffer->attachments: an importer that never
    # attached is not on the list, so begin_cpu_access touches nothing for it. (Behind an
    # IOMMU the sync of the attached, never-mapped table reaches the pages: iommu-dma syncs sg_phys.)
    text = ('[kernel]\nversion = "5.10"\n[exporter]\nkind = "heap"\n[clients]\nmmap = "read-write"\n'
            '[[importer]]\nname = "dev"\ncoherent = false\niommu = true\n')
    steps = history(config_text(text), ["dma_buf_export()", "dma_buf_mmap()",
                                        "dma_buf_begin_cpu_access(DMA_BIDIRECTIONAL)"])
    assert steps[-1]["line 0"] == steps[0]["line 0"] == "cache dirty (latest), memory stale"
    assert steps[-1]["observed"] == "-"
    attached = history(config_text(text), ["dma_buf_export()", "dma_buf_attach(dev)", "dma_buf_mmap()",
                                           "dma_buf_begin_cpu_access(DMA_BIDIRECTIONAL)"])
    assert attached[-1]["line 0"] == "cache invalid, memory stale"  # synced for the CPU, unmapped
