"""The questions users ask of policies, answered from batches of checks: what does a
proposal fix, break or refuse (compare), which rules does a proof need (explain), and
which allocation keeps a set of devices safe (allocate). Answers are values, each with
its exit code (`batch_exit`); rendering is `dmabuf_mc.app.tables` (for people) and
`dmabuf_mc.app.documents` (JSON).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from dmabuf_mc.app.batch import PLAIN, Cell, Checking, Job, Outcome, run
from dmabuf_mc.app.cluster import Where
from dmabuf_mc.checker.verdict import Exit, Verdict, unsettled
from dmabuf_mc.model.config import Configuration
from dmabuf_mc.model.exporters import exporter_kind
from dmabuf_mc.model.kernels import DEFAULT as DEFAULT_KERNEL
from dmabuf_mc.model.kernels import parse_version
from dmabuf_mc.model.policy import RULES, Policy
from dmabuf_mc.model.sweep import bounced, make
from dmabuf_mc.properties import DEFAULT, GROUPS, OPT_IN, REFUSAL

Progress = Callable[[int, int], None] | None
BAD = (Verdict.REFUTED, Verdict.REFUSED)

FIXED = "fixed"
BROKEN = "broken"
REFUSED = "refused"
REJECTS_UNSAFE = "rejects-unsafe"
UNCHANGED = "unchanged"
CATEGORIES = {
    FIXED: "violated under the base, holds under the proposal",
    BROKEN: "holds under the base, violated under the proposal",
    REFUSED: "the proposal refuses (attach/map fails) a configuration the base served safely",
    REJECTS_UNSAFE: "the proposal refuses a configuration the base served unsafely",
    UNCHANGED: "the same verdict under both",
}


BY_THE_RULE = "by the rule"
UNSAID = "no-refusal not checked"


@dataclass(frozen=True)
class Doubts:
    """What `--strict` and `--cross-check` found wrong with a batch's checks themselves, a
    line each naming the configuration and policy: a failure fails the command whatever
    its answer, an undecided cross-check keeps it from claiming that everything holds."""

    failures: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> Doubts:
        def lines(pick: Callable[[Outcome], tuple[str, ...]]) -> tuple[str, ...]:
            return tuple(f"{o.config} under {o.policy}: {line}" for o in outcomes for line in pick(o))
        return cls(lines(lambda o: o.failures), lines(lambda o: o.undecided))

    def exit_code(self, code: Exit) -> Exit:
        """VIOLATED on a failure; UNKNOWN instead of HOLDS when a cross-check was undecided."""
        return Exit.VIOLATED if self.failures else unsettled(code, bool(self.undecided))


@dataclass(frozen=True)
class Change:
    prop: str
    category: str
    base: Cell
    proposal: Cell
    how: str = ""
    """For a fixed cell: BY_THE_RULE when the proposal serves every device, else the
    refused call that keeps the violation from happening (UNSAID when refusals were not
    checked)."""
    settled: bool = True
    """False for a refusal of a configuration whose base check left a cell undecided and
    found nothing unsafe: whether the base served it safely is not known."""

    @property
    def evidence(self) -> Cell | None:
        """The counterexample or refusal trace that makes the cell non-trivial: the base's
        for a fixed cell, the proposal's otherwise."""
        if self.category == UNCHANGED:
            return None
        return self.base if self.category == FIXED else self.proposal

    @property
    def undecided(self) -> bool:
        """Whether either check left the property UNKNOWN (so UNCHANGED may hide a change),
        or a refusal's category rests on an undecided base."""
        return not self.settled or Verdict.UNKNOWN in (self.base.verdict, self.proposal.verdict)


def how_fixed(proposal: Outcome) -> str:
    """Whether the proposal fixes a configuration by its rules or by refusing a device."""
    refusal = proposal.get(REFUSAL)
    if refusal is None:
        return UNSAID
    return f"by refusing {refusal.calls[-1]}" if refusal.verdict is Verdict.REFUSED else BY_THE_RULE


@dataclass(frozen=True)
class Row:
    config: str
    changes: tuple[Change, ...]

    @property
    def trivial(self) -> bool:
        return all(c.category == UNCHANGED for c in self.changes)


@dataclass(frozen=True)
class Comparison:
    base: str
    proposal: str
    properties: tuple[str, ...]
    rows: tuple[Row, ...]
    complete: bool
    doubts: Doubts = field(default_factory=Doubts)

    def counts(self) -> dict[str, Counter[str]]:
        return {p: Counter(c.category for r in self.rows for c in r.changes if c.prop == p) for p in self.properties}

    @property
    def unknown(self) -> int:
        """Cells either policy's check left UNKNOWN (it stopped at --max-states)."""
        return sum(c.undecided for r in self.rows for c in r.changes)

    @property
    def answer(self) -> Exit:
        """VIOLATED if the proposal breaks or refuses anything the base served safely, else
        UNKNOWN if a check left a cell undecided, else HOLDS."""
        if any(c.category in (BROKEN, REFUSED) and c.settled for r in self.rows for c in r.changes):
            return Exit.VIOLATED
        return Exit.UNKNOWN if self.unknown else Exit.HOLDS


STRICT_ONLY = OPT_IN
"""Properties a configuration may violate and still count as served safely: strict DMA-API
ownership is no dma-buf rule, concurrent device and CPU access is allowed (P2 R2.3), and
dma-debug's overlap report is about two mappings of one buffer, which sharing is."""


def _served_safely(o: Outcome) -> bool | None:
    """Whether the configuration's check found it served safely: None when it found
    nothing unsafe but left a property that counts undecided."""
    if any(p not in STRICT_ONLY for p in o.violated):
        return False
    return None if any(p not in STRICT_ONLY for p in o.unknown) else True


def classify(base: Outcome, proposal: Outcome) -> Row:
    """Each property's change from the base's verdict to the proposal's."""
    changes = []
    for prop, b in base.cells:
        p = proposal.cell(prop)
        if prop == REFUSAL and p.verdict is Verdict.REFUSED and b.verdict is not Verdict.REFUSED:
            safely = _served_safely(base)
            category = REJECTS_UNSAFE if safely is False else REFUSED
            changes.append(Change(prop, category, b, p, settled=safely is not None))
        elif b.verdict in BAD and p.verdict is Verdict.HOLDS:
            changes.append(Change(prop, FIXED, b, p, how_fixed(proposal)))
        elif b.verdict is Verdict.HOLDS and p.verdict in BAD:
            changes.append(Change(prop, BROKEN, b, p))
        else:
            changes.append(Change(prop, UNCHANGED, b, p))
    return Row(base.config, tuple(changes))


def compare(
    base: Policy, proposal: Policy, configs: Sequence[Configuration], properties: tuple[str, ...] = (),
    workers: int | Where = 0, progress: Progress = None, checking: Checking = PLAIN,
) -> Comparison:
    """BASE and PROPOSAL on every configuration, cell by cell."""
    jobs = [Job(c, p, properties, checking) for c in configs for p in (base, proposal)]
    outcomes, complete = run(jobs, workers, progress)
    rows = tuple(classify(outcomes[i], outcomes[i + 1]) for i in range(0, len(outcomes) - 1, 2))
    props = tuple(p for p, _ in outcomes[0].cells) if outcomes else properties
    return Comparison(base.name, proposal.name, props, rows, complete, Doubts.of(outcomes))


@dataclass(frozen=True)
class Matrix:
    """One policy over many configurations."""

    policy: str
    properties: tuple[str, ...]
    outcomes: tuple[Outcome, ...]
    complete: bool
    doubts: Doubts = field(default_factory=Doubts)

    def counts(self) -> dict[str, Counter[Verdict]]:
        return {p: Counter(o.cell(p).verdict for o in self.outcomes) for p in self.properties}

    @property
    def unknown(self) -> int:
        """Cells the checks left UNKNOWN (they stopped at --max-states)."""
        return sum(len(o.unknown) for o in self.outcomes)

    @property
    def answer(self) -> Exit:
        """VIOLATED if any configuration violates a property, else UNKNOWN if a check left a
        cell undecided, else HOLDS."""
        if any(o.violated for o in self.outcomes):
            return Exit.VIOLATED
        return Exit.UNKNOWN if self.unknown else Exit.HOLDS


def sweep(policy: Policy, configs: Sequence[Configuration], properties: tuple[str, ...] = (),
          workers: int | Where = 0, progress: Progress = None, checking: Checking = PLAIN) -> Matrix:
    outcomes, complete = run([Job(c, policy, properties, checking) for c in configs], workers, progress)
    props = tuple(p for p, _ in outcomes[0].cells) if outcomes else properties
    return Matrix(policy.name, props, tuple(outcomes), complete, Doubts.of(outcomes))


@dataclass(frozen=True)
class Finding:
    """What dropping one obligation or rule does to the policy's verdicts."""

    kind: str  # "obligation" or "rule"
    name: str
    change: str
    necessary: bool
    weaker: str = ""
    """For a rule: the value it was set to."""
    config: str = ""
    prop: str = ""
    evidence: Cell | None = None


@dataclass(frozen=True)
class Explanation:
    policy: str
    configs: int
    holding: tuple[str, ...]
    """Properties that hold on every configuration under the policy: what it proves."""
    findings: tuple[Finding, ...]
    complete: bool
    outcomes: tuple[Outcome, ...]
    """The policy's own checks, one per configuration."""
    unknown: int
    """Cells the policy's checks or its variants' left UNKNOWN: where one did, a finding of
    redundant is not established."""
    doubts: Doubts = field(default_factory=Doubts)

    @property
    def answer(self) -> Exit:
        """HOLDS (an explanation violates nothing), UNKNOWN if a check left a cell undecided."""
        return Exit.UNKNOWN if self.unknown else Exit.HOLDS


def variants(policy: Policy) -> list[tuple[str, str, str, str, Policy]]:
    """(kind, name, change, value, policy) for each obligation dropped and each rule
    weakened: a rule the policy sets away from the base goes back to the base; a base rule
    goes to its weakest value."""
    out = [("obligation", o, "dropped", "", policy.without(o)) for o in sorted(policy.obligations)]
    for rule in RULES.values():
        value = policy.rule(rule.name)
        weaker = rule.base if value != rule.base else rule.weakest
        if weaker != value:
            out.append(("rule", rule.name, f"{value} -> {weaker}", weaker, policy.with_rule(rule.name, weaker)))
    return out


def explain(policy: Policy, configs: Sequence[Configuration], properties: tuple[str, ...] = (),
            workers: int | Where = 0, progress: Progress = None, checking: Checking = PLAIN) -> Explanation:
    """Drop each obligation and rule in turn and re-check every configuration."""
    vs = variants(policy)
    # --strict judges the policy's own checks: a variant that drops a rule may well leave an action unused.
    lenient = replace(checking, strict=False)
    jobs = [Job(c, policy, properties, checking) for c in configs]
    jobs += [Job(c, v[4], properties, lenient) for v in vs for c in configs]
    outcomes, complete = run(jobs, workers, progress)
    n = len(configs)
    base = outcomes[:n]
    findings = []
    for k, (kind, name, change, weaker, _) in enumerate(vs):
        mine = outcomes[(k + 1) * n:(k + 2) * n]
        if len(mine) < n:
            break
        found = next(((o.config, prop, o.cell(prop)) for b, o in zip(base, mine, strict=True) for prop, cell in b.cells
                      if cell.verdict is Verdict.HOLDS and o.cell(prop).verdict in BAD), None)
        if found:
            findings.append(Finding(kind, name, change, True, weaker, *found))
        else:
            findings.append(Finding(kind, name, change, False, weaker))
    props = [p for p, _ in base[0].cells] if base else []
    holding = tuple(p for p in props if all(o.cell(p).verdict is Verdict.HOLDS for o in base))
    return Explanation(policy.name, n, holding, tuple(findings), complete, tuple(base),
                       sum(len(o.unknown) for o in outcomes), Doubts.of(outcomes))


ALLOCATORS = ("heap", "heap-uncached", "drm-prime", "udmabuf")
"""Who can allocate the shared buffer: a heap, an uncached heap, a driver, or udmabuf."""
ALLOCATE_SKIPS = GROUPS["dma-api-rules"]
"""Not coherency: DMA-API misuse is the exporter's, whatever the allocation, and is
reported by `check`; `allocate --property` asks for them (the opt-in ones too)."""


@dataclass(frozen=True)
class Candidate:
    label: str
    outcome: Outcome

    @property
    def safe(self) -> bool:
        """Every property decided, and none violated."""
        return not self.outcome.violated and not self.outcome.unknown

    @property
    def undecided(self) -> bool:
        """Nothing violated, but the check stopped at its state limit: it may be safe."""
        return not self.outcome.violated and bool(self.outcome.unknown)


@dataclass(frozen=True)
class Allocation:
    devices: tuple[str, ...]
    policy: str
    candidates: tuple[Candidate, ...]
    complete: bool
    doubts: Doubts = field(default_factory=Doubts)

    @property
    def unknown(self) -> int:
        """Cells the candidates' checks left UNKNOWN (they stopped at --max-states)."""
        return sum(len(c.outcome.unknown) for c in self.candidates)

    @property
    def answer(self) -> Exit:
        """HOLDS if a candidate is safe, else UNKNOWN if one may be (its check stopped at the
        state limit), else VIOLATED: every candidate needs a copy fallback."""
        if any(c.safe for c in self.candidates):
            return Exit.HOLDS
        return Exit.UNKNOWN if any(c.undecided for c in self.candidates) else Exit.VIOLATED


def candidates(devices: Sequence[str]) -> list[tuple[str, Configuration]]:
    """Every allocation source and placement that could back a buffer these devices share."""
    bounces = any(bounced(d) for d in devices)
    out = []
    for kind in ALLOCATORS:
        for source in exporter_kind(kind, parse_version(DEFAULT_KERNEL)).sources:
            for high in (False, True) if bounces else (False,):
                label = f"{source} ({kind}{', above 4 GiB' if high else ''})"
                out.append((label, make(kind, source, False, high, devices)))
    return out


def allocate(devices: Sequence[str], policy: Policy, properties: tuple[str, ...] = (),
             workers: int | Where = 0, progress: Progress = None, checking: Checking = PLAIN) -> Allocation:
    """Check each allocation candidate for the devices; safe ones keep every property."""
    props = properties or tuple(p for p in DEFAULT if p not in ALLOCATE_SKIPS)
    cands = candidates(devices)
    outcomes, complete = run([Job(c, policy, props, checking) for _, c in cands], workers, progress)
    chosen = tuple(Candidate(label, o) for (label, _), o in zip(cands, outcomes, strict=False))
    return Allocation(tuple(devices), policy.name, chosen, complete, Doubts.of(outcomes))


Answer = Matrix | Comparison | Explanation | Allocation
"""What a batch command (sweep, compare, explain, allocate) answers."""


def batch_exit(answer: Answer) -> Exit:
    """A batch command's exit code: its answer's, or UNKNOWN when Ctrl-C cut the batch short,
    then as `--strict` and `--cross-check` judge the checks themselves."""
    return answer.doubts.exit_code(answer.answer if answer.complete else Exit.UNKNOWN)
