"""Policies: the API rules in force — the kernel's implementation rules plus the
obligations its documentation puts on clients (each proposal's description names who
proposed it and when).

An *obligation* is a guard on a client's action: a proof under a policy covers every
history that obeys its obligations, and `--without NAME` drops one. An *implementation
rule* is a knob with named values, each one what some kernel or proposal does: the
baseline sets every rule to what the kernel did at the time of the thread, and a
proposal is the baseline with some rules set otherwise. Rules either rewrite the
configuration (who allocates, which callbacks the exporter has) or change what a call
does (attach and map may refuse, device access may be bracketed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dmabuf_mc.checker.ir import TRUE, Expr
from dmabuf_mc.checker.ts import Obligation

OBLIGATIONS: dict[str, str] = {
    "cpu-access-bracketed": "userspace mmap and kernel vmap CPU access happens between "
    "begin_cpu_access and end_cpu_access (DMA_BUF_IOCTL_SYNC START/END) in a direction that "
    "covers it (P2 R2.2; dma_buf_begin_cpu_access, uapi dma-buf.h)",
    "no-device-work-in-cpu-bracket": "no device DMA runs between begin_cpu_access and "
    "end_cpu_access, and under fenced jobs no job is submitted then: SYNC gives coherency, not "
    "mutual exclusion, and follow-up work waits for SYNC_END (uapi dma-buf.h)",
    "userspace-waits-before-sync-start": "under fenced jobs, userspace waits for the implicit "
    "fences a CPU access in that direction must wait for (poll() on the fd, or a sync_file) "
    "before DMA_BUF_IOCTL_SYNC START (uapi dma-buf.h struct dma_buf_sync)",
    "unmap-after-fence-signalled": "under fenced jobs, an importer unmaps (or detaches, which "
    "unmaps a kept mapping) only after its job's fence signalled: the device uses the mapping "
    "until then (dma-api-howto.rst; Paul Cercueil, Jan 2024)",
    "dma-through-live-mapping": "a device DMAs (under fenced jobs: a job is submitted) only "
    "through a live dma_buf_map_attachment mapping, in a direction the mapping allows (P2 R2.4; "
    "dma-buf.c device-access DOC, iommu.strict)",
    "unmap-in-mapped-direction": "dma_buf_unmap_attachment is passed the direction the "
    "attachment was mapped with (DMA-API: unmap with the map's direction)",
    "end-matches-begin": "end_cpu_access is passed the direction begin_cpu_access was (dma_buf_begin_cpu_access)",
    "unmap-before-detach": "an importer unmaps before dma_buf_detach (dma-buf.c device-access DOC)",
    "detach-before-put": "the last dma_buf_put comes after every importer detached (dma-buf.c device-access DOC)",
    "exporter-brackets-own-cpu-access": "an exporter that says it brackets its own CPU "
    "access does its writes between its begin/end_cpu_access (P9, 1ffe09590121)",
    "no-cpu-access-while-queued": "the CPU leaves a buffer alone while a per-job importer has it "
    "mapped or it is queued to the exporting device: V4L2 owns a queued buffer from QBUF to DQBUF "
    "(videobuf2-core.c)",
    "exporter-dma-while-queued": "the exporting device DMAs only to a buffer queued to it, between "
    "QBUF (buf_queue) and vb2_buffer_done: the driver owns it only then (videobuf2-core.c)",
    "device-access-bracketed": "under device-access bracketing (P4, P10) a device DMAs only "
    "between dma_buf_begin_device_access and dma_buf_end_device_access, and the CPU leaves the "
    "buffer alone meanwhile: ownership passes at the brackets (R4.1)",
}
BASELINE_OBLIGATIONS = frozenset(OBLIGATIONS) - {"device-access-bracketed"}


@dataclass(frozen=True)
class Rule:
    """An implementation rule: its values, what each means, and which the kernel had."""

    name: str
    doc: str
    values: dict[str, str]
    base: str
    """The value as of the Dec 2022 thread."""
    weakest: str
    """The value that does the least for coherency: what `explain` drops a base rule to."""


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("attach", "what dma_buf_attach checks (dma_buf_dynamic_attach)", {
            "accepts": "attach never fails for coherency: the exporter exports as is (P2 R2.1 as practised)",
            "rejects-noncoherent": "P1 R1.2: -EINVAL if the buffer's dma_coherent flag is set and "
            "!dev_is_dma_coherent(importer); the flag per exporter kind as R1.3-R1.5",
            "rejects-noncoherent-unless-uncached": "P1 with R1.6: as rejects-noncoherent, but the "
            "exporter clears the flag on buffers its CPU maps uncached/WC",
        }, "accepts", "accepts"),
        Rule("map", "what the exporter's map_dma_buf does for the importer (DMA_ATTR_SKIP_CPU_SYNC or not)", {
            "exporter-kind": "what the exporter kind does: maintenance, or DMA_ATTR_SKIP_CPU_SYNC",
            "skip-cpu-sync": "every exporter maps and unmaps with DMA_ATTR_SKIP_CPU_SYNC",
            "cpu-sync": "every exporter maps and unmaps with cache maintenance for the importer, "
            "PRIME and vb2-dma-contig included (R4.1 done by the DMA API at map time)",
            "requires-coherent": "P8 R8.4: DMA_ATTR_REQUIRE_COHERENT: the map fails if the importer "
            "is not dev_is_dma_coherent or would bounce through swiotlb",
        }, "exporter-kind", "skip-cpu-sync"),
        Rule("cpu-access", "what the exporter's begin/end_cpu_access do", {
            "exporter-kind": "what the exporter kind does",
            "mapped-attachments": "P11 R11.1: begin/end sync every mapped attachment's device, as heaps do",
            "nothing": "begin/end do no maintenance (buggy exporter: callbacks that return 0)",
            "swapped": "begin syncs for the device and end for the CPU (buggy exporter: udmabuf "
            "before 1ffe09590121); an exporter with no callbacks gets swapped heap-style ones",
        }, "exporter-kind", "nothing"),
        Rule("device-access", "whether device access is bracketed by the exporter (P4, P10)", {
            "unbracketed": "devices access the buffer whenever it is mapped (P2 R2.3)",
            "bracketed": "P4 R4.2 / P10: dma_buf_begin/end_device_access around each device job; the "
            "exporter syncs the importer's mapping for the device and back for the CPU",
        }, "unbracketed", "unbracketed"),
        Rule("cpu-mapping", "how the CPU maps shared buffers (P7)", {
            "exporter-kind": "as the allocator maps them",
            "uncached-unless-all-snoop": "P7 R7.1/R7.2: legacy mode is uncached (WC, cleaned at "
            "allocation) unless every importer negotiated coherency (its traffic snoops)",
        }, "exporter-kind", "exporter-kind"),
        Rule("allocation", "who allocates the buffer (P3, P12)", {
            "exporter": "the exporting driver or heap of the configuration",
            "neutral-heap": "P3 R3.2/R3.3: a heap that knows all importers allocates (CMA if one needs "
            "contiguous memory without an IOMMU); the former exporter writes through vmap, bracketed",
            "uncached-heap": "P12: the system-uncached (or cma-uncached) heap allocates; the former "
            "exporter writes through its WC vmap, bracketed",
        }, "exporter", "exporter"),
        Rule("exporter-cpu-access", "whether exporters bracket their own CPU access (P9)", {
            "as-configured": "as the configuration's exporter.brackets_own_cpu_access says",
            "bracketed": "P9 R9.1: every exporter wraps its own CPU writes in its begin/end_cpu_access",
        }, "as-configured", "as-configured"),
    )
}


@dataclass(frozen=True)
class Policy:
    """The rules in force: a value for each implementation rule, and the client obligations."""

    name: str
    doc: str
    obligations: frozenset[str]
    rules: tuple[tuple[str, str], ...] = ()
    """(rule, value) pairs that differ from the base; sorted, so equal policies compare equal."""

    def __post_init__(self) -> None:
        for rule, value in self.rules:
            if rule not in RULES or value not in RULES[rule].values:
                raise KeyError(f"{rule} = {value}")
        unknown = self.obligations - set(OBLIGATIONS)
        if unknown:
            raise KeyError(sorted(unknown)[0])

    def rule(self, name: str) -> str:
        return dict(self.rules).get(name, RULES[name].base)

    def is_(self, name: str, *values: str) -> bool:
        """Whether rule `name` has one of `values`; a value the rule does not have is a
        KeyError, so a misspelt comparison fails instead of being silently false."""
        unknown = set(values) - set(RULES[name].values)
        if unknown:
            raise KeyError(f"{name} = {sorted(unknown)[0]}")
        return self.rule(name) in values

    def with_rule(self, name: str, value: str, label: str = "") -> Policy:
        rules = {**dict(self.rules), name: value}
        if value == RULES[name].base:
            del rules[name]
        return replace(self, name=label or f"{self.name}[{name}={value}]", rules=tuple(sorted(rules.items())))

    def without(self, obligation: str) -> Policy:
        return replace(self, name=f"{self.name}[-{obligation}]", obligations=self.obligations - {obligation})

    def obligation(self, name: str, holds: Expr) -> Obligation:
        """The obligation `name` if this policy imposes it, else a vacuous one."""
        if name not in OBLIGATIONS:
            raise KeyError(name)
        return Obligation(name, holds if name in self.obligations else TRUE)


def proposal(
    name: str, doc: str, *rules: tuple[str, str], obligations: frozenset[str] = BASELINE_OBLIGATIONS
) -> Policy:
    """The baseline with some rules set otherwise."""
    return Policy(name, doc, obligations, tuple(sorted(rules)))


BASELINE = proposal(
    "baseline",
    "P2, the kernel as of the Dec 2022 thread: the exporter exports as is and attach never "
    "fails for coherency (R2.1 as practised), CPU access is bracketed by begin/end_cpu_access "
    "(R2.2), devices access the buffer through the exporter's mapping whenever it is mapped "
    "(R2.3, R2.4); every exporter does what its kind does",
)

POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        BASELINE,
        proposal("p1-coherent-flag", "P1 (Christian König, 20 Oct 2022): dma_buf_attach refuses a "
                 "non-coherent importer when the buffer's dma_coherent flag is set (R1.1-R1.5)",
                 ("attach", "rejects-noncoherent")),
        proposal("p1-clear-for-uncached", "P1 with R1.6: the exporter clears the dma_coherent flag "
                 "on buffers its CPU maps uncached/WC", ("attach", "rejects-noncoherent-unless-uncached")),
        proposal("p3-neutral-heap", "P3 (Christian König, 2 Dec 2022): allocate from a neutral heap "
                 "that knows every importer, which does the maintenance (R3.2, R3.3)",
                 ("allocation", "neutral-heap")),
        proposal("p4-device-bracketing", "P4 (Lucas Stach, 28 Oct 2022) and P10 (Paul Cercueil, "
                 "Jan 2024): the exporter syncs for each importer around its device access (R4.2, R10.2)",
                 ("device-access", "bracketed"), obligations=frozenset(OBLIGATIONS)),
        proposal("p7-legacy-uncached", "P7 (Daniel Vetter, 22 Nov 2022): the platform's legacy mode "
                 "maps shared buffers uncached unless every importer opted in to coherency (R7.1, R7.2)",
                 ("cpu-mapping", "uncached-unless-all-snoop")),
        proposal("p8-require-coherent", "P8 (Christian König, Nov-Dec 2022) as DMA_ATTR_REQUIRE_COHERENT "
                 "(2026): the DMA API fails a map that would need cache maintenance or a bounce (R8.1, R8.4)",
                 ("map", "requires-coherent")),
        proposal("p9-exporter-brackets", "P9 (Chia-I Wu 2019, Tomasz Figa 2022): every exporter "
                 "brackets its own CPU access with its begin/end_cpu_access (R9.1, R9.3)",
                 ("exporter-cpu-access", "bracketed")),
        proposal("p11-sync-all-attachments", "P11 (Andrew Davis, Jan 2024): begin/end_cpu_access sync "
                 "every mapped attachment's device, whatever the exporter (R11.1, R11.2)",
                 ("cpu-access", "mapped-attachments")),
        proposal("p12-uncached-heap", "P12 (John Stultz, 2020-21; vendor kernels): buffers come from "
                 "an uncached heap (R12.1-R12.4)", ("allocation", "uncached-heap")),
        proposal("buggy-noop-cpu-access", "a buggy exporter: begin/end_cpu_access exist but do no "
                 "maintenance (as vb2-dma-contig's return 0, udmabuf before 284562e1f348)",
                 ("cpu-access", "nothing")),
        proposal("buggy-swapped-cpu-access", "a buggy exporter: begin syncs for the device and end "
                 "for the CPU (udmabuf 284562e1f348, fixed by 1ffe09590121)", ("cpu-access", "swapped")),
    )
}
