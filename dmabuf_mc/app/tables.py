"""Renderers for sweeps, comparisons, explanations and allocations: a fixed-width table
for the terminal and Markdown for a mailing-list reply or a forge comment. Every
non-trivial cell points at its replayed trace, and the command that reproduces it."""

from __future__ import annotations

from collections.abc import Sequence

from dmabuf_mc.app.batch import Cell
from dmabuf_mc.app.judge import CATEGORIES, UNCHANGED, Allocation, Comparison, Explanation, Matrix
from dmabuf_mc.checker.verdict import Verdict

SHORT = {Verdict.HOLDS: "ok", Verdict.PROVED: "ok", Verdict.REFUTED: "VIOLATED", Verdict.REFUSED: "REFUSED",
         Verdict.UNKNOWN: "?"}


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    """A plain table: pipes for Markdown, aligned columns for a terminal."""
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [headers, ["-" * w for w in widths], *rows])


def reproduce(config: str, policy: str, prop: str) -> str:
    return f"dmabuf-mc check --config '{config}' --policy {policy} --property {prop}"


class _Notes:
    """Numbered evidence: a trace per non-trivial cell, rendered once at the end."""

    def __init__(self, markdown: bool, traces: bool) -> None:
        self.markdown = markdown
        self.traces = traces
        self.items: list[str] = []

    def add(self, title: str, cell: Cell, command: str) -> str:
        n = len(self.items) + 1
        if self.markdown:
            self.items.append(f'<details id="t{n}"><summary>[{n}] {title}</summary>\n\n`{command}`\n\n'
                              f"{cell.markdown}\n</details>")
            return f"[[{n}]](#t{n})"
        body = f"\n{cell.trace}" if self.traces else ""
        self.items.append(f"[{n}] {title}\n    {command}{body}")
        return f"[{n}]"

    def render(self) -> list[str]:
        return ["", *self.items] if self.items else []


def _heading(title: str, markdown: bool, complete: bool) -> list[str]:
    """The title, and a warning when Ctrl-C cut the batch short."""
    out = [f"## {title}" if markdown else title, ""]
    if not complete:
        out.append("INTERRUPTED: the table covers only what was checked before Ctrl-C")
    return out


def comparison(cmp: Comparison, base_arg: str, proposal_arg: str, markdown: bool, traces: bool = False) -> str:
    """What the proposal fixes, breaks and refuses, configuration by configuration."""
    notes = _Notes(markdown, traces)
    props = [p for p in cmp.properties if any(c.prop == p and c.category != UNCHANGED for r in cmp.rows
                                              for c in r.changes)]
    rows = []
    for r in cmp.rows:
        if r.trivial:
            continue
        cells = [r.config]
        for p in props:
            ch = next(c for c in r.changes if c.prop == p)
            if ch.category == UNCHANGED or ch.evidence is None:
                cells.append("")
                continue
            who = base_arg if ch.category == "fixed" else proposal_arg
            ref = notes.add(f"{ch.category}: {p} in {r.config} (trace under {who})", ch.evidence,
                            reproduce(r.config, who, p))
            cells.append(f"{ch.category} {ref}")
        rows.append(cells)
    out = _heading(f"{cmp.proposal} compared with {cmp.base} on {len(cmp.rows)} configurations", markdown,
                   cmp.complete)
    counts = cmp.counts()
    out.append(table(["property", *CATEGORIES], [[p, *(str(counts[p][c]) for c in CATEGORIES)]
                                                 for p in cmp.properties], markdown))
    out.append("")
    if rows:
        out.append(table(["configuration", *props], rows, markdown))
    trivial = sum(r.trivial for r in cmp.rows)
    out.append(f"\n{trivial} configuration(s) unchanged. " + "; ".join(f"{k}: {v}" for k, v in CATEGORIES.items()))
    return "\n".join(out + notes.render())


def matrix(m: Matrix, policy_arg: str, markdown: bool, traces: bool = False) -> str:
    """Configurations x properties for one policy, with counts."""
    notes = _Notes(markdown, traces)
    rows = []
    for o in m.outcomes:
        cells = [o.config, f"{o.states:,}"]
        for p in m.properties:
            c = o.cell(p)
            text = SHORT[c.verdict] + (" (vacuous)" if c.vacuous else "")
            if c.trace:
                text += " " + notes.add(f"{p} in {o.config}", c, reproduce(o.config, policy_arg, p))
            cells.append(text)
        rows.append(cells)
    out = _heading(f"{m.policy} on {len(m.outcomes)} configurations", markdown, m.complete)
    counts = m.counts()
    verdicts = [Verdict.HOLDS, Verdict.REFUTED, Verdict.REFUSED, Verdict.UNKNOWN]
    out += [table(["property", *(v.value for v in verdicts)],
                  [[p, *(str(counts[p][v]) for v in verdicts)] for p in m.properties], markdown), ""]
    out.append(table(["configuration", "states", *m.properties], rows, markdown))
    return "\n".join(out + notes.render())


def explanation(e: Explanation, policy_arg: str, markdown: bool, traces: bool = False) -> str:
    """Which obligations and rules the policy's verdicts depend on."""
    notes = _Notes(markdown, traces)
    rows = []
    for f in e.findings:
        if f.necessary and f.evidence is not None:
            change = f"without {f.name}" if f.kind == "obligation" else f"with {f.name} = {f.weaker}"
            flag = f" --without {f.name}" if f.kind == "obligation" else f" --rule {f.name}={f.weaker}"
            ref = notes.add(f"{change}: {f.prop} in {f.config}", f.evidence,
                            reproduce(f.config, policy_arg, f.prop) + flag)
            rows.append([f.kind, f.name, f.change, f"necessary: {f.prop} fails in {f.config} {ref}"])
        else:
            rows.append([f.kind, f.name, f.change, "redundant on these configurations"])
    out = _heading(f"explain {e.policy} on {e.configs} configurations", markdown, e.complete)
    out.append(f"holds everywhere: {', '.join(e.holding) or '(nothing)'}")
    out += ["", table(["kind", "name", "change", "verdict"], rows, markdown)]
    return "\n".join(out + notes.render())


def allocation(a: Allocation, policy_arg: str, markdown: bool, traces: bool = False) -> str:
    """Which allocation sources keep every property for the devices."""
    notes = _Notes(markdown, traces)
    rows = []
    for c in a.candidates:
        if c.safe:
            rows.append([c.label, "safe", ""])
            continue
        first = c.outcome.violated[0]
        command = reproduce(c.outcome.config, policy_arg, first)
        ref = notes.add(f"{first} with {c.label}", c.outcome.cell(first), command)
        rows.append([c.label, "UNSAFE", f"{', '.join(c.outcome.violated)} {ref}"])
    out = _heading(f"allocation for {' + '.join(a.devices)} under {a.policy}", markdown, a.complete)
    safe = [c.label for c in a.candidates if c.safe]
    out += [table(["source", "verdict", "violated"], rows, markdown), "",
            f"safe without a copy: {', '.join(safe) if safe else 'none - every candidate needs a fallback'}"]
    return "\n".join(out + notes.render())
