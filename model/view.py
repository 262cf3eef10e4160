"""How a DMA-buf state reads to a kernel developer: one short cell per cache line, per
device, for the CPU and for what the last step observed. Trace renderers print these."""

from __future__ import annotations

from collections.abc import Mapping

from dmabuf_mc.model.config import Configuration
from dmabuf_mc.model.exporters import MappingCache


def _latest(label: str) -> str:
    return "latest" if label == "yes" else "stale"


def view(cfg: Configuration, state: Mapping[str, str]) -> dict[str, str]:
    """Cells (name -> text) describing `state`, given as variable name -> value label."""
    cells: dict[str, str] = {"dma_buf": state["dma_buf"]}
    cpu = []
    for var, direction in state.items():
        if var.startswith("cpu_access") and direction != "DMA_NONE":
            client = var[len("cpu_access["):-1] + " " if var != "cpu_access" else ""
            wait = "fence_wait" + var[len("cpu_access"):]
            waiting = ", waiting for fences" if state.get(wait) == "yes" else ""
            cpu.append(f"{client}inside begin_cpu_access({direction}){waiting}")
    if state["mmap"] == "yes":
        cpu.append("mmapped")
    if state.get("misc_dir", "DMA_NONE") != "DMA_NONE":
        cpu.append(f"misc device mapped {state['misc_dir']}")
    cells["cpu"] = ", ".join(cpu) or "-"
    for ln in range(cfg.buffer.lines):
        cache = state[f"cache[{ln}]"]
        text = "cache invalid" if cache == "invalid" else f"cache {cache} ({_latest(state[f'cache_latest[{ln}]'])})"
        cells[f"line {ln}"] = f"{text}, memory {_latest(state[f'memory_latest[{ln}]'])}"
    if "queued" in state:
        cells["exporter"] = "queued to its device (device-owned)" if state["queued"] == "yes" else "dequeued"
    for imp in cfg.importers:
        d = imp.name
        keeper = "core" if cfg.exporter.kind.mapping_cache is MappingCache.CORE or cfg.attach_maps(imp) else "exporter"
        released = imp.mapping == "held" and state[f"has_mapped[{d}]"] == "yes"
        if state[f"attached[{d}]"] == "no":
            text = "detached, released" if released else "detached"
        elif state[f"mapped[{d}]"] == "DMA_NONE":
            text = "attached, unmapped"
        else:
            owner = "CPU-owned" if state[f"cpu_owned[{d}]"] == "yes" else "device-owned"
            text = f"mapped {state[f'mapped[{d}]']}, {owner}"
            if state.get(f"device_access[{d}]") == "yes":
                text += ", inside device access"
        if state.get(f"sgt_dir[{d}]", "DMA_NONE") != "DMA_NONE":
            text += f", {keeper} keeps a {state[f'sgt_dir[{d}]']} mapping"
        kept = state.get(f"sgt_dir[{d}]", "DMA_NONE") != "DMA_NONE"
        if cfg.bounces(imp) and (state[f"mapped[{d}]"] != "DMA_NONE" or kept):
            slots = ", ".join(_latest(state[f"bounce_latest[{d}][{ln}]"]) for ln in range(cfg.buffer.lines))
            text += f", bounce slot {slots}"
        if state.get(f"fence[{d}]") == "yes":
            text += ", job running (fence pending)"
        if state.get(f"iotlb_stale[{d}]") == "yes":
            text += ", IOTLB still holds the old translation"
        if state.get(f"has_mapped[{d}]") == "yes" and state[f"mapped[{d}]"] == "DMA_NONE" and not released:
            text += " (mapped once already)"
        elif released and state[f"attached[{d}]"] == "yes" and state[f"mapped[{d}]"] == "DMA_NONE":
            text += " (held mapping released)"
        cells[d] = text
    seen = []
    if state["device_read"] != "none":
        seen.append(f"device read {state['device_read'].upper() if state['device_read'] == 'stale' else 'latest'}")
    if state["cpu_read"] != "none":
        seen.append(f"CPU read {state['cpu_read'].upper() if state['cpu_read'] == 'stale' else 'latest'}")
    for var, what in (
        ("dma_without_mapping", "DMA WITHOUT LIVE MAPPING"),
        ("dma_above_mask", "DMA ABOVE DMA MASK"),
        ("dma_noncontiguous", "DMA TO NON-CONTIGUOUS MEMORY"),
        ("ownership_breach", "ACCESS BY NON-OWNER (DMA API)"),
        ("dma_api_misuse", "DMA-API MISUSE (sync/unmap of a dead mapping, other direction or part)"),
        ("refused", "REFUSED: the call returned an error"),
    ):
        if state[var] == "yes":
            seen.append(what)
    cells["observed"] = ", ".join(seen) or "-"
    return cells
