"""Batch reports as one self-contained HTML page, for a browser: the configurations x
properties matrix as a heat map with a legend and filters, each cell with a trace opening
it as text and as a Mermaid sequence diagram, drawn only when opened.

The page carries its style, its script and the vendored Mermaid (vendor/VENDORED.md)
inline, and its Content-Security-Policy forbids fetching anything: it opens the same
from a CI artefact, a mail attachment or a machine with no network. The layout is
templates/report.html (string.Template); this module builds a `Page` from a judge value
and fills the template with escaped text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from importlib.resources import files
from string import Template

from dmabuf_mc.app.batch import Cell, Outcome
from dmabuf_mc.app.judge import CATEGORIES, FIXED, UNCHANGED, Allocation, Comparison, Explanation, Matrix
from dmabuf_mc.app.tables import CHANGE_CODES, CODES, Traces, cautions, fixed_code, reproduce
from dmabuf_mc.checker.artefact import DISTRIBUTION, tool_version
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.properties import DOCS

TEMPLATES = files("dmabuf_mc.app") / "templates"
VENDOR = files("dmabuf_mc.app") / "vendor"

HOLDS, VACUOUS, VIOLATED, REFUSED, UNKNOWN = "holds", "vacuous", "violated", "refused", "unknown"
VERDICTS = {
    HOLDS: "every reachable state explored, no violation",
    VACUOUS: "holds, vacuously: its premise never occurs",
    VIOLATED: "a replayed counterexample",
    REFUSED: "the system refuses service: attach or map fails",
    UNKNOWN: "a limit was reached before an answer",
}
"""A sweep cell's categories, in legend order."""
VERDICT_CODES = {HOLDS: "", VACUOUS: "*", VIOLATED: "V", REFUSED: "R", UNKNOWN: "?"}
"""What a sweep cell shows besides its colour: a holding cell nothing, so that the rest stands out."""
VERDICT_LEGEND = tuple((code, category) for category, code in VERDICT_CODES.items() if code)
CATEGORY = {Verdict.PROVED: HOLDS, Verdict.HOLDS: HOLDS, Verdict.REFUTED: VIOLATED, Verdict.REFUSED: REFUSED,
            Verdict.UNKNOWN: UNKNOWN}

NECESSARY, REDUNDANT = "necessary", "redundant"
FINDINGS = {NECESSARY: "a property fails without it", REDUNDANT: "nothing fails on these configurations"}


@dataclass(frozen=True)
class Square:
    """One cell of the heat map: its category (colour and filter), what it shows, what
    hovering says, and the trace it opens (0: none) with the command that reproduces it."""

    category: str
    code: str
    title: str
    trace: int = 0
    command: str = ""


@dataclass(frozen=True)
class Line:
    """One row: a configuration (or allocation candidate, or obligation) and its cells."""

    name: str
    note: str
    squares: tuple[Square, ...]


@dataclass(frozen=True)
class Shown:
    """One distinct trace, as `tables.Traces` numbers them."""

    number: int
    heading: str
    text: str
    diagram: str


@dataclass(frozen=True)
class Page:
    """A report as the template lays it out."""

    title: str
    noun: str
    """What a row is: configuration, source, obligation or rule."""
    nouns: str
    """The same, for several."""
    note: str
    """The header of the column before the cells (states, verdict, change)."""
    columns: tuple[str, ...]
    lines: tuple[Line, ...]
    legend: tuple[tuple[str, str], ...]
    """(category, meaning) in the order the filters list them."""
    codes: tuple[tuple[str, str], ...]
    """(code, meaning) of what the cells show."""
    traces: tuple[Shown, ...]
    cautions: tuple[str, ...]
    """What a reader must know before trusting the matrix (tables.cautions)."""
    remarks: tuple[str, ...] = ()


def diagram(mermaid: str) -> str:
    """A Mermaid diagram's source without the Markdown fence `Cell.mermaid` has around it."""
    lines = mermaid.splitlines()
    return "\n".join(lines[1:-1] if lines and lines[0].startswith("```") else lines)


def shown(traces: Traces) -> tuple[Shown, ...]:
    """The distinct traces the cells cite, each once."""
    return tuple(Shown(g.number, g.heading, g.cell.trace, diagram(g.cell.mermaid)) for g in traces.shown)


def verdict_square(cell: Cell, traces: Traces, policy_arg: str, config: str, prop: str, title: str) -> Square:
    """A cell of one policy's check: its verdict, and its trace if it has one."""
    category = VACUOUS if cell.verdict is Verdict.HOLDS and cell.vacuous else CATEGORY[cell.verdict]
    hover = f"{prop} in {title}: {category}"
    if not cell.trace:
        return Square(category, VERDICT_CODES[category], hover)
    command = reproduce(config, policy_arg, prop)
    return Square(category, VERDICT_CODES[category], hover,
                  traces.number(cell, policy_arg, f"{prop} in {title}", command), " ".join(command))


def verdict_line(name: str, note: str, outcome: Outcome, properties: Sequence[str], traces: Traces,
                 policy_arg: str) -> Line:
    """A row of one policy's verdicts, one per property."""
    return Line(name, note, tuple(verdict_square(outcome.cell(p), traces, policy_arg, outcome.config, p, name)
                                  for p in properties))


def matrix(m: Matrix, policy_arg: str) -> str:
    """Configurations x properties for one policy."""
    traces = Traces(markdown=False)
    lines = tuple(verdict_line(o.config, f"{o.states:,}", o, m.properties, traces, policy_arg) for o in m.outcomes)
    return render(Page(title=f"{m.policy} on {len(m.outcomes)} configurations", noun="configuration",
                       nouns="configurations", note="states", columns=m.properties, lines=lines,
                       legend=tuple(VERDICTS.items()), codes=VERDICT_LEGEND, traces=shown(traces),
                       cautions=cautions(m)))


def comparison(cmp: Comparison, base_arg: str, proposal_arg: str) -> str:
    """What the proposal fixes, breaks and refuses, configuration by configuration; a fixed
    cell opens the base's trace, any other changed cell the proposal's."""
    traces = Traces(markdown=False)
    lines = []
    for r in cmp.rows:
        changes = {c.prop: c for c in r.changes}
        squares = []
        for p in cmp.properties:
            ch = changes[p]
            how = f" {ch.how}" if ch.category == FIXED else ""
            hover = f"{p} in {r.config}: {ch.category}{how}"
            if ch.category == UNCHANGED or ch.evidence is None:
                squares.append(Square(ch.category, "", hover))
                continue
            who = base_arg if ch.category == FIXED else proposal_arg
            command = reproduce(r.config, who, p)
            code = fixed_code(ch) if ch.category == FIXED else CODES[ch.category]
            n = traces.number(ch.evidence, who, f"{p} in {r.config} under {who}", command)
            squares.append(Square(ch.category, code, hover, n, " ".join(command)))
        changed = sum(s.category != UNCHANGED for s in squares)
        lines.append(Line(r.config, str(changed) if changed else "", tuple(squares)))
    trivial = sum(r.trivial for r in cmp.rows)
    remark = (f"{trivial} configuration(s) unchanged. A fixed cell opens {cmp.base}'s trace, any other changed cell "
              f"{cmp.proposal}'s.")
    return render(Page(title=f"{cmp.proposal} compared with {cmp.base} on {len(cmp.rows)} configurations",
                       noun="configuration", nouns="configurations", note="changed", columns=cmp.properties,
                       lines=tuple(lines), legend=tuple(CATEGORIES.items()), codes=tuple(CHANGE_CODES.items()),
                       traces=shown(traces),
                       cautions=cautions(cmp), remarks=(remark,)))


def explanation(e: Explanation, policy_arg: str) -> str:
    """Which obligations and rules the policy's verdicts depend on: one row each."""
    traces = Traces(markdown=False)
    lines = []
    for f in e.findings:
        change = f"without {f.name}" if f.kind == "obligation" else f"with {f.name} = {f.weaker}"
        if f.necessary and f.evidence is not None:
            flag = f"--without {f.name}" if f.kind == "obligation" else f"--rule {f.name}={f.weaker}"
            command = reproduce(f.config, policy_arg, f.prop, [flag])
            title = f"{f.prop} in {f.config} {change}"
            n = traces.number(f.evidence, f"{policy_arg} {change}", title, command)
            square = Square(NECESSARY, "N", f"necessary: {title} fails", n, " ".join(command))
        else:
            square = Square(REDUNDANT, "", f"redundant: nothing fails {change}")
        lines.append(Line(f.name, f"{f.kind}: {f.change}", (square,)))
    return render(Page(title=f"explain {e.policy} on {e.configs} configurations", noun="obligation or rule",
                       nouns="obligations and rules", note="change", columns=("verdict",), lines=tuple(lines),
                       legend=tuple(FINDINGS.items()), codes=(("N", NECESSARY),), traces=shown(traces),
                       cautions=cautions(e), remarks=(f"holds everywhere: {', '.join(e.holding) or '(nothing)'}",)))


def allocation(a: Allocation, policy_arg: str) -> str:
    """Each allocation candidate for the devices x properties."""
    traces = Traces(markdown=False)
    props = tuple(p for p, _ in a.candidates[0].outcome.cells) if a.candidates else ()
    lines = tuple(verdict_line(c.label, "safe" if c.safe else "UNSAFE", c.outcome, props, traces, policy_arg)
                  for c in a.candidates)
    safe = ", ".join(c.label for c in a.candidates if c.safe) or "none - every candidate needs a fallback"
    return render(Page(title=f"allocation for {' + '.join(a.devices)} under {a.policy}", noun="source",
                       nouns="sources", note="verdict", columns=props, lines=lines, legend=tuple(VERDICTS.items()),
                       codes=VERDICT_LEGEND, traces=shown(traces), cautions=cautions(a),
                       remarks=(f"safe without a copy: {safe}",)))


def _attributes(**values: str | int) -> str:
    """HTML attributes, escaped; an empty value leaves its attribute out."""
    return "".join(f' {k.replace("_", "-")}="{escape(str(v))}"' for k, v in values.items() if v != "")


def inline_script(source: str) -> str:
    """JavaScript safe inside a <script> element: a `</script` in it (in a string or a regular
    expression, the only places it can be) becomes the equivalent `<\\/script`."""
    return re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)


def _square(s: Square, column: str) -> str:
    extra = _attributes(data_trace=s.trace, data_command=s.command, tabindex=0, role="button") if s.trace else ""
    return (f'<td class="sq cat-{s.category}"{_attributes(data_cat=s.category, data_prop=column, title=s.title)}'
            f"{extra}>{escape(s.code)}</td>")


def _row(line: Line, columns: Sequence[str]) -> str:
    cells = "".join(_square(s, c) for s, c in zip(line.squares, columns, strict=True))
    return (f'<tr{_attributes(data_name=line.name)}><th class="name" scope="row">{escape(line.name)}</th>'
            f'<td class="note">{escape(line.note)}</td>{cells}</tr>')


def _filters(page: Page) -> str:
    """One checkbox per category, with its colour, meaning and count: the legend and the filter."""
    counts = Counter(s.category for line in page.lines for s in line.squares)
    return "\n".join(
        f'<label class="filter"><input type="checkbox"{_attributes(value=category)} checked>'
        f'<span class="swatch cat-{escape(category)}"></span><b>{escape(category)}</b> '
        f'<span class="count">{counts[category]}</span></label><span class="meaning">{escape(meaning)}</span>'
        for category, meaning in page.legend)


def _counts(page: Page) -> str:
    """Per column, how many cells fall in each category."""
    categories = [c for c, _ in page.legend]
    head = "".join(f"<th>{escape(c)}</th>" for c in categories)
    rows = []
    for k, column in enumerate(page.columns):
        counts = Counter(line.squares[k].category for line in page.lines)
        cells = "".join(f'<td class="{f"cat-{escape(c)}" if counts[c] else "zero"}">{counts[c]}</td>'
                        for c in categories)
        rows.append(f"<tr><th>{escape(column)}</th>{cells}</tr>")
    return f'<table class="counts"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _trace(t: Shown) -> str:
    return (f'<template id="trace-{t.number}"><p class="heading">{escape(t.heading)}</p>'
            f'<div class="diagram"><pre class="source">{escape(t.diagram)}</pre></div>'
            f'<pre class="text">{escape(t.text)}</pre></template>')


def render(page: Page) -> str:
    """The page as one HTML document."""
    header = "".join(f'<th class="col"{_attributes(data_prop=c, title=DOCS.get(c, c))}><span>{escape(c)}</span></th>'
                     for c in page.columns)
    banner = "".join(f'<p class="banner">{escape(caution)}</p>' for caution in page.cautions)
    version = f"{DISTRIBUTION} {tool_version()}"
    meta = (f"{len(page.lines)} {escape(page.nouns)} &times; {len(page.columns)} columns, "
            f"{len(page.traces)} distinct traces. A cell in bold opens its trace (click, or Enter). "
            f"Made by {escape(version)}.")
    return Template((TEMPLATES / "report.html").read_text()).substitute(
        title=escape(page.title),
        generator=escape(version),
        style=(TEMPLATES / "report.css").read_text(),
        banner=banner,
        meta=meta,
        filters=_filters(page),
        noun=escape(page.noun),
        codes=" ".join(f"<span><b>{escape(code)}</b> {escape(meaning)}</span>" for code, meaning in page.codes),
        header=f'<th class="name">{escape(page.noun)}</th><th class="note">{escape(page.note)}</th>{header}',
        rows="\n".join(_row(line, page.columns) for line in page.lines),
        remarks="\n".join(f"<p>{escape(r)}</p>" for r in page.remarks),
        counts=_counts(page),
        traces="\n".join(_trace(t) for t in page.traces),
        mermaid=inline_script((VENDOR / "mermaid.min.js").read_text()),
        script=inline_script((TEMPLATES / "report.js").read_text()),
    )
