"""Policies: the API rules in force, as the kernel implements them plus the obligations
its documentation puts on clients (DESIGN.md "Clients, obligations and refusals").

An obligation is a guard on a client's action. A proof under a policy covers every
history that obeys its obligations; `--without NAME` drops one to show what goes wrong
when a driver breaks it.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.ir import TRUE, Expr
from checker.ts import Obligation

OBLIGATIONS: dict[str, str] = {
    "cpu-access-bracketed": "userspace mmap and kernel vmap CPU access happens between "
    "begin_cpu_access and end_cpu_access (DMA_BUF_IOCTL_SYNC START/END) in a direction that "
    "covers it (DOMAIN.md §2.1, §2.2)",
    "no-device-work-in-cpu-bracket": "no device DMA runs between begin_cpu_access and "
    "end_cpu_access: SYNC gives coherency, not mutual exclusion (§2.2)",
    "dma-through-live-mapping": "a device DMAs only through a live dma_buf_map_attachment "
    "mapping, in a direction the mapping allows (§1.2, §6)",
    "unmap-in-mapped-direction": "dma_buf_unmap_attachment is passed the direction the "
    "attachment was mapped with (DMA-API: unmap with the map's direction)",
    "end-matches-begin": "end_cpu_access is passed the direction begin_cpu_access was (§2.1)",
    "unmap-before-detach": "an importer unmaps before dma_buf_detach (§1.2 step 4)",
    "detach-before-put": "the last dma_buf_put comes after every importer detached (§1.2, §1.6)",
    "exporter-brackets-own-cpu-access": "an exporter that says it brackets its own CPU "
    "access does its writes between its begin/end_cpu_access (P9, 1ffe09590121)",
}


@dataclass(frozen=True)
class Policy:
    """The rules in force: which client obligations hold."""

    name: str
    doc: str
    obligations: frozenset[str]

    def obligation(self, name: str, holds: Expr) -> Obligation:
        """The obligation `name` if this policy imposes it, else a vacuous one."""
        if name not in OBLIGATIONS:
            raise KeyError(name)
        return Obligation(name, holds if name in self.obligations else TRUE)


BASELINE = Policy(
    "baseline",
    "the kernel as of the Dec 2022 thread: exporters do what their kind does, clients obey "
    "the documented dma-buf rules; the exporter's own kernel CPU writes are not bracketed "
    "unless the configuration says the driver does (P2 as practised)",
    frozenset(OBLIGATIONS),
)

POLICIES: dict[str, Policy] = {p.name: p for p in (BASELINE,)}
