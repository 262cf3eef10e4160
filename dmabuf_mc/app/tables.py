"""Renderers for sweeps, comparisons, explanations and allocations, for people to read.

Text fits 80 columns, ready for a mailing-list reply: the verdict table with abbreviated
headers and a legend, then each distinct trace once, numbered, cited by the cells that
share it. Markdown is for a forge comment: the same table in words, each shown trace
with its Mermaid sequence diagram. Both show at most MAX_TRACES traces; every other
cell still says how to reproduce its own.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from dmabuf_mc.app.batch import Cell
from dmabuf_mc.app.judge import (
    BROKEN,
    BY_THE_RULE,
    CATEGORIES,
    FIXED,
    REFUSED,
    REJECTS_UNSAFE,
    UNCHANGED,
    UNSAID,
    Allocation,
    Answer,
    Change,
    Comparison,
    Explanation,
    Matrix,
)
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.sweep import PREFIX

WIDTH = 80
MAX_TRACES = 40
"""Traces shown in full (text and diagram); a report past it lists commands instead."""
MARKDOWN_CHARS = 50_000
"""A Markdown report stops drawing diagrams here, so that one fits a forge comment (65,536
characters) unless its table alone is near that."""

SHORT = {Verdict.HOLDS: "ok", Verdict.PROVED: "ok", Verdict.REFUTED: "V", Verdict.REFUSED: "R",
         Verdict.UNKNOWN: "?"}
CODES = {BROKEN: "B", REFUSED: "R", REJECTS_UNSAFE: "U"}
FIXED_CODES = {BY_THE_RULE: "F", UNSAID: "F?"}
"""A fixed cell by how: the rule, refusals not checked, else ("Fr") a refusal."""
CHANGE_CODES = {"F": "fixed by the rule (the proposal serves every device)",
                "Fr": "fixed by refusing a device (the proposal refuses attach or map: no-refusal)",
                "F?": "fixed (refusals not checked)", "B": "broken", "R": "refused", "U": "rejects-unsafe"}
"""What a compare cell's code means, in every format's legend."""
COUNT_HEADERS = {FIXED: "fixed", BROKEN: "broken", REFUSED: "refused", REJECTS_UNSAFE: "rej-unsafe",
                 UNCHANGED: "unchanged"}


def abbreviations(names: Sequence[str]) -> dict[str, str]:
    """A short, unique column header per name: the initials of its words."""
    out: dict[str, str] = {}
    for name in names:
        base = "".join(w[0] for w in re.split(r"[-_ ]+", name) if w).upper() or name[:3].upper()
        short, k = base, 2
        while short in out.values():
            short, k = f"{base}{k}", k + 1
        out[name] = short
    return out


def fit(text: str) -> str:
    """Every line wrapped to WIDTH, continuing under its value column (after a run of
    two spaces), or indented four more than the line."""
    out = []
    for line in text.splitlines():
        if len(line) <= WIDTH:
            out.append(line)
            continue
        lead = len(line) - len(line.lstrip())
        column = re.match(r"\s*\S+(?: \S+)*\s{2,}", line)
        indent = column.end() if column and column.end() < WIDTH // 2 else lead + 4
        out += textwrap.wrap(line, WIDTH, subsequent_indent=" " * indent, break_on_hyphens=False,
                             break_long_words=False)
    return "\n".join(out)


def paragraph(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, break_on_hyphens=False, break_long_words=False)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    """A plain table: pipes for Markdown, aligned columns for a terminal."""
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [headers, ["-" * w for w in widths], *rows])


def grid(first: str, names: Sequence[str], headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A text table of one name column and narrow cells, within WIDTH: a name too long
    for the room the cells leave goes on a line of its own, its cells on the next."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    room = max(len(first), WIDTH - sum(w + 2 for w in widths))
    name_width = min(room, max(len(first), *(len(n) for n in names))) if names else len(first)

    def line(name: str, cells: Sequence[str]) -> str:
        return (f"{name:<{name_width}}" + "".join(f"  {c:<{w}}" for c, w in zip(cells, widths, strict=True))).rstrip()

    out = [line(first, headers), line("-" * name_width, ["-" * w for w in widths])]
    for name, cells in zip(names, rows, strict=True):
        out += [name, line("", cells)] if len(name) > name_width else [line(name, cells)]
    return "\n".join(out)


def reproduce(config: str, policy: str, prop: str, extra: Sequence[str] = ()) -> list[str]:
    """The `check` command that reproduces one cell, as words (an option with its value is one word)."""
    return ["dmabuf-mc check", f"--config {shlex.quote(config)}", f"--policy {shlex.quote(policy)}",
            f"--property {prop}", *extra]


def shell(words: Sequence[str], markdown: bool, indent: int = 4) -> list[str]:
    """A command: one line in Markdown; in text, broken with backslashes within WIDTH."""
    if markdown:
        return [f"`{' '.join(words)}`"]
    lines, current = [], " " * indent + words[0]
    for word in words[1:]:
        if len(current) + len(word) + 3 > WIDTH:
            lines.append(current + " \\")
            current = " " * (indent + 4) + word
        else:
            current += " " + word
    return [*lines, current]


@dataclass
class _Group:
    """Cells whose traces make the same kernel calls under the same policy."""

    number: int
    cell: Cell
    title: str
    command: list[str]
    citations: int = 1

    @property
    def heading(self) -> str:
        """What the trace is and whom it stands for: "[1] violation in 5 calls, cited by ..."."""
        kind = "refused after" if self.cell.verdict is Verdict.REFUSED else "violation in"
        cited = f"cited by {self.citations} cell{'s' if self.citations > 1 else ''}"
        return f"[{self.number}] {kind} {len(self.cell.calls)} calls, {cited}; shown for {self.title}"


@dataclass
class Traces:
    """Each distinct trace once, numbered in the order cells cite it. Traces are the same
    when their kernel calls are, under the same policy with the same verdict; the one
    shown is the first cell's, and the others reproduce with their own command."""

    markdown: bool
    groups: dict[tuple[object, ...], _Group] = field(default_factory=dict)

    def number(self, cell: Cell, policy: str, title: str, command: list[str]) -> int:
        """The number of the cell's trace, counting the cell among those that cite it."""
        key = (policy, cell.verdict, cell.calls)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(len(self.groups) + 1, cell, title, command)
        else:
            group.citations += 1
        return group.number

    def cite(self, cell: Cell, policy: str, title: str, command: list[str]) -> str:
        """The reference a cell prints for its trace."""
        n = self.number(cell, policy, title, command)
        return f"[[{n}]](#t{n})" if self.markdown else str(n)

    @property
    def shown(self) -> list[_Group]:
        """The distinct traces, in the order cells first cited them."""
        return sorted(self.groups.values(), key=lambda g: g.number)

    def render(self, before: str) -> list[str]:
        """The traces section of a report whose text so far is `before`: in Markdown, diagrams
        while the report stays within MARKDOWN_CHARS, commands after."""
        groups = self.shown
        if not groups:
            return []
        out = ["", "## Traces" if self.markdown else "Traces", ""]
        room = MARKDOWN_CHARS - len(before)
        cut = False
        for g in groups:
            if self.markdown:
                body = ["", *shell(g.command, True), "", g.cell.mermaid]
                cut = cut or g.number > MAX_TRACES or sum(len(x) + 1 for x in body) > room
                shown = body[:2] if cut else body
                room -= sum(len(x) + 1 for x in shown)
                out += [f'<details id="t{g.number}"><summary>{g.heading}</summary>', *shown, "</details>", ""]
            else:
                cut = g.number > MAX_TRACES
                out += [*paragraph(g.heading), *shell(g.command, False), *([] if cut else [fit(g.cell.trace)]), ""]
        if cut:
            out.append("Traces past the size bound are not shown: run their commands to see them.")
        return out


def cautions(answer: Answer) -> tuple[str, ...]:
    """What a reader must know before trusting the table: Ctrl-C cut the batch short, a
    check stopped at its state limit, or --strict or --cross-check found a check wanting."""
    out = []
    if not answer.complete:
        out.append("INTERRUPTED: the table covers only what was checked before Ctrl-C")
    if answer.unknown:
        out.append(f"UNKNOWN: {answer.unknown} cell(s) undecided, their checks stopped at --max-states; "
                   "what they would show is not in this report")
    out += [f"FAILED {line}" for line in answer.doubts.failures]
    out += [f"UNDECIDED {line}" for line in answer.doubts.undecided]
    return tuple(out)


def _heading(title: str, markdown: bool, answer: Answer) -> list[str]:
    """The title, then each caution."""
    out = [f"## {title}", ""] if markdown else [*paragraph(title), ""]
    for caution in cautions(answer):
        out += [*paragraph(caution), ""]
    return out


def _names(configs: Sequence[str], markdown: bool) -> tuple[list[str], list[str]]:
    """Configuration names as a text table shows them (without a `sweep:` prefix they all
    share, said in a note) and the note."""
    if markdown or not configs or not all(c.startswith(PREFIX) for c in configs):
        return list(configs), []
    return [c[len(PREFIX):] for c in configs], [f"Configurations are named after '{PREFIX}'."]


def _legend(codes: dict[str, str], markdown: bool) -> list[str]:
    """A line per code and its meaning (text only: Markdown says it in words)."""
    if markdown:
        return []
    width = max(len(k) for k in codes)
    return fit("\n".join(f"  {k:<{width}}  {v}" for k, v in codes.items())).splitlines()


def fixed_code(change: Change) -> str:
    """A fixed cell's code: how the proposal fixed it."""
    return FIXED_CODES.get(change.how, "Fr")


def _change_cell(change: Change, ref: str, markdown: bool) -> str:
    if markdown:
        how = f" {change.how}" if change.category == FIXED else ""
        return f"{change.category}{how} {ref}"
    code = fixed_code(change) if change.category == FIXED else CODES[change.category]
    return f"{code} {ref}"


def comparison(cmp: Comparison, base_arg: str, proposal_arg: str, markdown: bool) -> str:
    """What the proposal fixes, breaks and refuses, configuration by configuration, and
    how it fixed each cell: by its rules, or by refusing a device."""
    traces = Traces(markdown)
    props = [p for p in cmp.properties if any(c.prop == p and c.category != UNCHANGED for r in cmp.rows
                                              for c in r.changes)]
    short = abbreviations(cmp.properties)
    rows, configs = [], []
    for r in cmp.rows:
        if r.trivial:
            continue
        cells = []
        for p in props:
            ch = next(c for c in r.changes if c.prop == p)
            if ch.category == UNCHANGED or ch.evidence is None:
                cells.append("")
                continue
            who = base_arg if ch.category == FIXED else proposal_arg
            title = f"{p} in {r.config} under {who}"
            cells.append(_change_cell(ch, traces.cite(ch.evidence, who, title, reproduce(r.config, who, p)),
                                      markdown))
        configs.append(r.config)
        rows.append(cells)
    out = _heading(f"{cmp.proposal} compared with {cmp.base} on {len(cmp.rows)} configurations", markdown, cmp)
    counts = cmp.counts()
    counted = [[*([] if markdown else [short[p]]), p, *(str(counts[p][c]) for c in CATEGORIES)]
               for p in cmp.properties]
    headers = [*([] if markdown else ["code"]), "property",
               *(CATEGORIES if markdown else COUNT_HEADERS.values())]
    out += [table(headers, counted, markdown), ""]
    names, note = _names(configs, markdown)
    if rows:
        if markdown:
            out.append(table(["configuration", *props], [[c, *cells] for c, cells in zip(names, rows, strict=True)],
                             True))
        else:
            out.append(grid("configuration", names, [short[p] for p in props], rows))
    trivial = sum(r.trivial for r in cmp.rows)
    out += ["", *paragraph(f"{trivial} configuration(s) unchanged. " + "; ".join(
        f"{k}: {v}" for k, v in CATEGORIES.items()) + "." + (" " + " ".join(note) if note else ""))]
    out += _legend({**CHANGE_CODES, "N": f"trace N below: the base's for a fixed cell, {cmp.proposal}'s otherwise"},
                   markdown)
    return "\n".join(out + traces.render("\n".join(out)))


def matrix(m: Matrix, policy_arg: str, markdown: bool) -> str:
    """Configurations x properties for one policy, with counts."""
    traces = Traces(markdown)
    short = abbreviations(m.properties)
    rows = []
    for o in m.outcomes:
        cells = [f"{o.states:,}"]
        for p in m.properties:
            c = o.cell(p)
            text = SHORT[c.verdict] + ("*" if c.vacuous else "")
            if c.trace:
                text += " " + traces.cite(c, policy_arg, f"{p} in {o.config}", reproduce(o.config, policy_arg, p))
            cells.append(text)
        rows.append(cells)
    out = _heading(f"{m.policy} on {len(m.outcomes)} configurations", markdown, m)
    counts = m.counts()
    verdicts = [Verdict.HOLDS, Verdict.REFUTED, Verdict.REFUSED, Verdict.UNKNOWN]
    out += [table([*([] if markdown else ["code"]), "property", *(v.value for v in verdicts)],
                  [[*([] if markdown else [short[p]]), p, *(str(counts[p][v]) for v in verdicts)]
                   for p in m.properties], markdown), ""]
    names, note = _names([o.config for o in m.outcomes], markdown)
    if markdown:
        out.append(table(["configuration", "states", *m.properties],
                         [[n, *cells] for n, cells in zip(names, rows, strict=True)], True))
    else:
        out += [grid("configuration", names, ["states", *(short[p] for p in m.properties)], rows), ""]
        out += _legend({"ok": "holds", "ok*": "holds vacuously (its premise never occurs)",
                        "V N": "violated, trace N below", "R N": "refused, trace N below",
                        "?": "unknown (a limit was reached)"}, markdown)
        out += paragraph(" ".join(note))
    return "\n".join(out + traces.render("\n".join(out)))


def explanation(e: Explanation, policy_arg: str, markdown: bool) -> str:
    """Which obligations and rules the policy's verdicts depend on."""
    traces = Traces(markdown)
    rows, names = [], []
    for f in e.findings:
        if f.necessary and f.evidence is not None:
            change = f"without {f.name}" if f.kind == "obligation" else f"with {f.name} = {f.weaker}"
            flag = f"--without {f.name}" if f.kind == "obligation" else f"--rule {f.name}={f.weaker}"
            title = f"{f.prop} in {f.config} {change}"
            ref = traces.cite(f.evidence, f"{policy_arg} {change}", title,
                              reproduce(f.config, policy_arg, f.prop, [flag]))
            verdict = f"necessary: {f.prop} fails in {f.config} {ref}" if markdown else f"necessary {ref}"
        else:
            verdict = "redundant on these configurations" if markdown else "redundant"
        names.append(f.name)
        rows.append([f.kind if markdown else f.kind[:4], f.change, verdict])
    out = _heading(f"explain {e.policy} on {e.configs} configurations", markdown, e)
    out += paragraph(f"holds everywhere: {', '.join(e.holding) or '(nothing)'}") + [""]
    if markdown:
        out.append(table(["name", "kind", "change", "verdict"], [[n, *r] for n, r in zip(names, rows, strict=True)],
                         True))
    else:
        out.append(grid("name", names, ["kind", "change", "verdict"], rows))
        out += ["", *_legend({"obli": "a client obligation, dropped", "rule": "an implementation rule, weakened",
                              "necessary N": "a property fails without it, trace N below",
                              "redundant": "nothing fails on these configurations"}, markdown)]
    return "\n".join(out + traces.render("\n".join(out)))


def allocation(a: Allocation, policy_arg: str, markdown: bool) -> str:
    """Which allocation sources keep every property for the devices."""
    traces = Traces(markdown)
    violated = sorted({p for c in a.candidates for p in c.outcome.violated})
    short = abbreviations(violated)
    rows = []
    for c in a.candidates:
        if c.safe or c.undecided:
            rows.append(["safe" if c.safe else "unknown", ""])
            continue
        first = c.outcome.violated[0]
        ref = traces.cite(c.outcome.cell(first), policy_arg, f"{first} with {c.label}",
                          reproduce(c.outcome.config, policy_arg, first))
        listed = ", ".join(c.outcome.violated) if markdown else ",".join(short[p] for p in c.outcome.violated)
        rows.append(["UNSAFE", f"{listed} {ref}"])
    out = _heading(f"allocation for {' + '.join(a.devices)} under {a.policy}", markdown, a)
    labels = [c.label for c in a.candidates]
    if markdown:
        out.append(table(["source", "verdict", "violated"], [[n, *r] for n, r in zip(labels, rows, strict=True)],
                         True))
    else:
        out.append(grid("source", labels, ["verdict", "violated"], rows))
        out += ["", *_legend({**{v: k for k, v in short.items()}, "N": "the trace of the first, below"}, markdown)]
    safe = [c.label for c in a.candidates if c.safe]
    undecided = sum(c.undecided for c in a.candidates)
    if safe:
        verdict = ", ".join(safe)
    elif undecided:
        verdict = f"none known: {undecided} candidate(s) stopped at the state limit (unknown)"
    else:
        verdict = "none - every candidate needs a fallback"
    out += ["", *paragraph(f"safe without a copy: {verdict}")]
    return "\n".join(out + traces.render("\n".join(out)))
