"""Assemble the transition system for one configuration under one policy.

Rules that rewrite the configuration (who allocates, how the CPU maps the buffer, what
the exporter's callbacks do) are applied here, before the model is built; rules that
change what a call does are read by `model.dmabuf` itself.
"""

from __future__ import annotations

from dataclasses import replace

from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.model.clients import client_actions
from dmabuf_mc.model.config import SOURCES, Configuration, Importer, natural_direction
from dmabuf_mc.model.dmabuf import api_actions
from dmabuf_mc.model.exporters import exporter_kind
from dmabuf_mc.model.fences import fence_actions
from dmabuf_mc.model.platform import hardware_actions
from dmabuf_mc.model.policy import Policy
from dmabuf_mc.model.state import DmabufState
from dmabuf_mc.model.vb2 import vb2_actions
from dmabuf_mc.properties import properties

FORMER_EXPORTER = "vb2-queue"
"""The importer a heap-allocating policy makes of the former exporter's own device."""


def _allocate_from_heap(cfg: Configuration, uncached: bool) -> Configuration:
    """P3 / P12: a heap that knows every importer allocates (CMA when one needs contiguous
    memory and has no IOMMU, R3.2); the former exporter writes through a bracketed vmap."""
    contiguous = any(i.needs_contiguous and not i.iommu for i in cfg.importers)
    kind = exporter_kind("heap-uncached" if uncached else "heap", cfg.kernel.version)
    source = SOURCES[("cma-heap" if contiguous else "system-heap") + ("-uncached" if uncached else "")]
    buffer = replace(cfg.buffer, source=source, contiguous=contiguous, cpu_zeroed=source.cpu_zeroed)
    vmap = cfg.vmap
    if cfg.exporter.cpu_writes:
        vmap = "read-write" if "read" in vmap else "write"
    exporter = replace(cfg.exporter, kind=kind, cpu_writes=False, brackets_own_cpu_access=False, dma="none",
                       cache_hints=())
    importers = cfg.importers + ((_former_exporter_device(cfg),) if cfg.exporter.dma != "none" else ())
    return replace(cfg, exporter=exporter, buffer=buffer, vmap=vmap, importers=importers)


def _former_exporter_device(cfg: Configuration) -> Importer:
    """A videobuf2 queue that no longer allocates imports the heap's buffer instead: vb2
    maps it at QBUF and unmaps it at DQBUF (per job) and skips its own prepare/finish syncs
    for DMABUF memory (videobuf2-core.c: __prepare_dmabuf, init_buffer_cache_hints)."""
    ex = cfg.exporter
    reads, writes = "read" in ex.dma, "write" in ex.dma
    return Importer(FORMER_EXPORTER, ex.coherent, ex.snoops, ex.iommu, 64, False, reads, writes,
                    (natural_direction(reads, writes),), partial_writes=False, mapping="per-job")


def configure(cfg: Configuration, policy: Policy) -> Configuration:
    """The configuration as the policy's rules make it."""
    if not policy.is_("allocation", "exporter"):
        cfg = _allocate_from_heap(cfg, uncached=policy.is_("allocation", "uncached-heap"))
    if policy.is_("cpu-mapping", "uncached-unless-all-snoop") and not all(i.snoops for i in cfg.importers):
        source = replace(cfg.buffer.source, write_combined=True)
        cfg = replace(cfg, buffer=replace(cfg.buffer, source=source, cpu_zeroed=False))
    if policy.is_("exporter-cpu-access", "bracketed") and cfg.exporter.cpu_writes:
        cfg = replace(cfg, exporter=replace(cfg.exporter, brackets_own_cpu_access=True))
    return cfg


def system(cfg: Configuration, policy: Policy) -> tuple[Configuration, TransitionSystem]:
    """The configuration as the policy rewrites it (what traces are rendered against) and
    its model."""
    return configure(cfg, policy), build(cfg, policy)


def build(cfg: Configuration, policy: Policy) -> TransitionSystem:
    """The DMA-buf model of `cfg` under `policy`: final once the buffer is released."""
    cfg = configure(cfg, policy)
    st = DmabufState(cfg, device_bracketing=policy.is_("device-access", "bracketed"))
    return TransitionSystem(
        name=f"{cfg.name}/{policy.name}",
        variables=st.variables(),
        init=st.initial(),
        actions=tuple(api_actions(st, policy) + fence_actions(st, policy) + client_actions(st, policy)
                      + vb2_actions(st, policy)
                      + hardware_actions(st)),
        properties=properties(st),
        final=st.life.eq("released"),
    )
