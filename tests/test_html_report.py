"""`--format html` (dmabuf_mc.app.html): the page escapes what it shows and needs nothing
from the network, and in a real browser (the system's chromium, driven by Playwright) its
heat map has the judge's categories, a cell opens its trace as text and as a drawn Mermaid
diagram, and the filters hide rows. Screenshots and the page are kept as CI artefacts in
$DMABUF_MC_ARTEFACTS, else artefacts/ at the repository root."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from dmabuf_mc.app import html, judge
from dmabuf_mc.app.batch import Cell, Outcome
from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model import catalog

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTEFACTS = Path(os.environ.get("DMABUF_MC_ARTEFACTS") or Path(__file__).parent.parent / "artefacts")
BASE, PROPOSAL = "baseline", "p1-coherent-flag"
CONFIGS = ("seed", "heap-mmap")
WAIT = 60_000
"""Milliseconds Playwright waits for a selector: generous, since CI machines are slow."""

browser_only = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no browser at {CHROMIUM} (.ci/run installs "
                                                                 "Debian's chromium)")


class Texts(HTMLParser):
    """The text of every element with a given class, as a browser would read it."""

    def __init__(self, cls: str) -> None:
        super().__init__()
        self.cls, self.depth, self.found = cls, 0, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += 1
        elif self.cls in (dict(attrs).get("class") or "").split():
            self.depth = 1
            self.found.append("")

    def handle_endtag(self, tag: str) -> None:
        self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.found[-1] += data


def texts(page: str, cls: str) -> list[str]:
    parser = Texts(cls)
    parser.feed(page)
    return parser.found


def test_text_with_markup_characters_reaches_the_page_as_text():
    trace = "1. cpu_write(<a & b>)\n   -> violates \"x\" </pre></template><script>alert(1)</script>"
    cell = Cell(Verdict.REFUTED, calls=("cpu_write(<a & b>)",), trace=trace,
                mermaid="```mermaid\nsequenceDiagram\n    A->>B: 1. <b>&</b>\n```")
    outcome = Outcome("odd<name>&", BASE, 7, (("device-reads-latest", cell),))
    page = html.matrix(judge.Matrix(BASE, ("device-reads-latest",), (outcome,), True), BASE)
    assert texts(page, "text") == [trace]
    assert texts(page, "source") == ["sequenceDiagram\n    A->>B: 1. <b>&</b>"]
    assert texts(page, "name")[-1] == "odd<name>&"
    assert "<script>alert" not in page and 'data-name="odd&lt;name&gt;&amp;"' in page


def test_the_page_inlines_everything_and_forbids_fetching():
    page = html.matrix(judge.Matrix(BASE, (), (), True), BASE)
    assert "default-src 'none'" in page
    assert page.count("<script>") == page.count("</script>") == 2  # Mermaid and the page's own, neither cut short
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)
    assert not re.search(r"<(?:script|img|link|iframe|object|embed)\b[^>]*\b(?:src|href|data)=", markup)


def test_an_interrupted_batch_says_so():
    assert 'class="banner">INTERRUPTED' in html.matrix(judge.Matrix(BASE, (), (), False), BASE)
    assert 'class="banner"' not in html.matrix(judge.Matrix(BASE, (), (), True), BASE)


def test_a_closing_script_tag_inside_inlined_code_cannot_end_the_element():
    source = 'const s = "</script><b>"; const r = /<\\/SCRIPT>/;'
    inlined = html.inline_script(source)
    assert "</script" not in inlined.lower()
    assert inlined == 'const s = "<\\/script><b>"; const r = /<\\/SCRIPT>/;'


def test_every_batch_command_prints_html():
    runner = CliRunner()
    for args in (["sweep", "--config", "seed"], ["explain", "--config", "heap-mmap"], ["allocate", "display"],
                 ["compare", BASE, PROPOSAL, "--config", "seed"]):
        text = runner.invoke(main, [*args, "--workers", "1"])
        done = runner.invoke(main, [*args, "--workers", "1", "--format", "html"])
        assert done.exit_code == text.exit_code, args
        assert done.stdout.startswith("<!DOCTYPE html>") and done.stdout.rstrip().endswith("</html>"), args


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def opened(browser, path: Path):
    """The page at `path`, failing the test on a script error or a request for anything
    but the file itself."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []

    def fetched(request) -> None:
        if request.url != path.as_uri():
            errors.append(f"fetched {request.url}")

    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", fetched)
    page.set_default_timeout(WAIT)
    page.goto(path.as_uri())
    return page, errors


def cells(page) -> dict[tuple[str, str], str]:
    """(row name, column) -> category of every heat-map cell the page shows."""
    found = page.eval_on_selector_all(
        "#matrix td.sq", "tds => tds.map(td => [td.closest('tr').dataset.name, td.dataset.prop, td.dataset.cat])")
    return {(name, prop): cat for name, prop, cat in found}


def shows(page, visible: dict[str, bool]) -> None:
    """Wait until each selector's element is visible or hidden, as said."""
    from playwright.sync_api import expect

    for selector, shown in visible.items():
        if shown:
            expect(page.locator(selector)).to_be_visible(timeout=WAIT)
        else:
            expect(page.locator(selector)).to_be_hidden(timeout=WAIT)


@browser_only
def test_a_comparison_in_the_browser(browser, tmp_path):
    from playwright.sync_api import expect

    options = [x for c in CONFIGS for x in ("--config", c)]
    done = CliRunner().invoke(main, ["compare", BASE, PROPOSAL, *options, "--workers", "1", "--format", "html"])
    assert done.stdout.startswith("<!DOCTYPE html>"), done.output
    report = tmp_path / "report.html"
    report.write_text(done.stdout)
    cmp = judge.compare(catalog.policy(BASE), catalog.policy(PROPOSAL), [catalog.configuration(c) for c in CONFIGS],
                        workers=1)
    page, errors = opened(browser, report)

    assert cells(page) == {(r.config, c.prop): c.category for r in cmp.rows for c in r.changes}

    row, change = next((r, c) for r in cmp.rows for c in r.changes if c.evidence is not None)
    page.click(f'tr[data-name="{row.config}"] td[data-prop="{change.prop}"]')
    detail = page.locator("#detail")
    expect(detail).to_be_visible(timeout=WAIT)
    expect(page.locator("#detail-title")).to_contain_text(f"{change.prop} in {row.config}: {change.category}",
                                                          timeout=WAIT)
    assert page.locator("#detail pre.text").text_content() == change.evidence.trace
    svg = page.locator("#detail .diagram svg")
    expect(svg).to_be_visible(timeout=WAIT)
    drawn = svg.text_content()
    assert all(f"{k}. {call}" in drawn for k, call in enumerate(change.evidence.calls, start=1)), drawn
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTEFACTS / "html-report-trace.png")
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden(timeout=WAIT)

    trivial = {r.config for r in cmp.rows if r.trivial}
    assert trivial and len(trivial) < len(cmp.rows), "the comparison needs rows that change and rows that do not"
    page.uncheck(f'#categories input[value="{judge.UNCHANGED}"]')
    changed = {c.prop for r in cmp.rows for c in r.changes if c.category != judge.UNCHANGED}
    shows(page, {f'tr[data-name="{r.config}"]': not r.trivial for r in cmp.rows}
          | {f'#matrix th[data-prop="{p}"]': p in changed for p in cmp.properties})
    page.check(f'#categories input[value="{judge.UNCHANGED}"]')

    wanted = CONFIGS[-1]
    page.fill("#name-filter", wanted)
    shows(page, {f'tr[data-name="{r.config}"]': wanted in r.config for r in cmp.rows})
    expect(page.locator("#shown")).to_have_text(
        f"showing {sum(wanted in r.config for r in cmp.rows)} of {len(cmp.rows)}", timeout=WAIT)
    page.fill("#name-filter", "")
    page.locator("#name-filter").blur()
    page.screenshot(path=ARTEFACTS / "html-report.png", full_page=True)
    (ARTEFACTS / "html-report.html").write_text(done.stdout)
    assert errors == []


@browser_only
def test_a_sweep_in_the_browser_colours_each_verdict(browser, tmp_path):
    m = judge.sweep(catalog.policy(BASE), [catalog.configuration(c) for c in CONFIGS], workers=1)
    report = tmp_path / "sweep.html"
    report.write_text(html.matrix(m, BASE))
    page, errors = opened(browser, report)
    expected = {(o.config, p): (html.VACUOUS if c.verdict is Verdict.HOLDS and c.vacuous else html.CATEGORY[c.verdict])
                for o in m.outcomes for p, c in o.cells}
    assert cells(page) == expected
    assert {html.HOLDS, html.VIOLATED} <= set(expected.values())
    with_trace = [(o.config, p) for o in m.outcomes for p, c in o.cells if c.trace]
    assert page.locator("#matrix td[data-trace]").count() == len(with_trace) > 0
    assert errors == []
