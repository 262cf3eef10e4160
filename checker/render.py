"""Renderers for reports and traces: text for people, versioned JSON for tools.

A `View` turns a state (variable -> value label) into named cells a reader recognises;
the model supplies it, so traces speak in kernel terms and never show the bit encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dmabuf_mc.checker.crosscheck import CrossCheck
from dmabuf_mc.checker.trace import DEADLOCK, Trace
from dmabuf_mc.checker.ts import Action
from dmabuf_mc.checker.verdict import Coverage, PropertyResult, Report, Verdict

View = Callable[[Mapping[str, str]], Mapping[str, str]]
REPORT_SCHEMA = "dmabuf-mc.report"
TRACE_SCHEMA = "dmabuf-mc.trace"
SCHEMA_VERSION = 1


def changed(cells: list[dict[str, str]], k: int) -> list[tuple[str, str]]:
    """The cells step `k` changed (an observation is always shown)."""
    return [(n, t) for n, t in cells[k].items() if t != cells[k - 1].get(n) or (n == "observed" and t != "-")]


def trace_text(trace: Trace, view: View) -> str:
    """Numbered kernel calls; after each, the cells its step changed."""
    cells = [dict(view(trace.labels(i))) for i in range(len(trace.states))]
    width = max(len(k) for k in cells[0])
    out = ["   initial state"]
    out += [f"        {k:<{width}}  {v}" for k, v in cells[0].items()]
    for k, a in enumerate(trace.actions, start=1):
        act = trace.ts.actions[a]
        out.append(f"{k:>4}. {act.label:<56} [{act.actor}]")
        out += [f"        {name:<{width}}  {text}" for name, text in changed(cells, k)]
    if trace.violates == DEADLOCK:
        out.append("      no action is enabled and the buffer was not released: deadlock")
    else:
        out.append(f"      -> violates {trace.violates}")
    return "\n".join(out)


def violation_note(r: PropertyResult) -> str:
    """How a REFUTED or REFUSED result's trace is summarised on its verdict line."""
    assert r.counterexample is not None
    what = "refused after" if r.verdict is Verdict.REFUSED else "counterexample in"
    return f"{what} {len(r.counterexample)} steps, replayed"


def report_text(report: Report, view: View) -> str:
    """The verdict lines, warnings, then each counterexample."""
    s = report.stats
    coverage = "exhaustive" if report.stopped is None else f"stopped: {report.stopped}"
    out = [
        f"dmabuf-mc: {report.system} ({report.engine} engine"
        + (f": {report.engine_reason}" if report.engine_reason else "") + ")"
        + (f", without {', '.join(report.dropped)}" if report.dropped else ""),
        f"  {s.states:,} states, {s.transitions:,} transitions, depth {s.depth}, "
        f"{s.seconds:.2f}s ({s.states_per_second:,.0f} states/s); {coverage}",
    ]
    width = max(len(r.name) for r in report.results)
    for r in report.results:
        if r.counterexample is not None:
            note = violation_note(r)
        elif r.verdict is Verdict.HOLDS:
            note = f"in all {s.states:,} reachable states"
            if r.vacuous:
                note += " - VACUOUS: its premise never occurs"
        else:
            note = f"no violation in the {s.states:,} states explored ({report.stopped})"
        out.append(f"  {r.verdict.value:<8} {r.name:<{width}}  {note}")
    if report.deadlock is not None:
        out.append(f"  DEADLOCK {report.deadlocks} state(s) where nothing is enabled; first one below")
    if report.never_enabled:
        out.append(f"  warning: never enabled: {', '.join(report.never_enabled)}")
    if report.coverage is not None:
        out += coverage_lines(report.coverage)
    for r in report.results:
        if r.counterexample is not None:
            out += ["", f"{r.name}: {r.doc}", trace_text(r.counterexample, view)]
    if report.deadlock is not None:
        out += ["", "deadlock:", trace_text(report.deadlock, view)]
    return "\n".join(out)


def coverage_lines(cov: Coverage) -> list[str]:
    """`--strict`'s lines: what fails the run, what could not be decided."""
    out = [f"  STRICT   the run fails: {'; '.join(cov.failures)}"] if cov.failures else []
    if cov.undecided:
        out.append(f"  STRICT   not decided: {'; '.join(cov.undecided)}")
    return out


def proof_text(system: str, engine: str, results: tuple[PropertyResult, ...], view: View) -> str:
    """Verdict lines of a symbolic run, then each counterexample."""
    width = max(len(r.name) for r in results)
    out = [f"dmabuf-mc: {system} ({engine} engine)"]
    for r in results:
        note = violation_note(r) if r.counterexample else r.note
        out.append(f"  {r.verdict.value:<8} {r.name:<{width}}  {note}")
    for r in results:
        if r.counterexample is not None:
            out += ["", f"{r.name}: {r.doc}", trace_text(r.counterexample, view)]
    return "\n".join(out)


Arrow = Callable[[Action], tuple[str, str]]


def _participant(name: str) -> str:
    """A Mermaid participant id for a lifeline name (ids keep to letters, digits and _)."""
    return "".join(c if c.isalnum() else "_" for c in name)


def trace_mermaid(trace: Trace, view: View, lifelines: list[str], arrow: Arrow) -> str:
    """A Mermaid sequence diagram of a trace: the initial state, then each call drawn from
    its caller to its callee with the cells it changed. Only the lifelines the trace
    uses are drawn, in the order `lifelines` gives."""
    cells = [dict(view(trace.labels(i))) for i in range(len(trace.states))]
    arrows = [arrow(trace.ts.actions[a]) for a in trace.actions]
    used = {end for pair in arrows for end in pair}
    drawn = [n for n in lifelines if n in used] + sorted(used - set(lifelines))
    out = ["```mermaid", "sequenceDiagram"]
    out += [f"    participant {n}" if _participant(n) == n else f"    participant {_participant(n)} as {n}"
            for n in drawn]
    if drawn:
        initial = "<br/>".join(f"{n}: {t}" for n, t in cells[0].items())
        span = _participant(drawn[0]) + (f",{_participant(drawn[-1])}" if len(drawn) > 1 else "")
        out.append(f"    Note over {span}: initial state<br/>{initial}")
    for k, (a, (src, dst)) in enumerate(zip(trace.actions, arrows, strict=True), start=1):
        out.append(f"    {_participant(src)}->>{_participant(dst)}: {k}. {trace.ts.actions[a].label}")
        notes = [f"{n}: {t}" for n, t in changed(cells, k)]
        if notes:
            out.append(f"    Note over {_participant(dst)}: {'<br/>'.join(notes)}")
    return "\n".join(out + ["```"])


def trace_markdown(trace: Trace, view: View, lifelines: list[str], arrow: Arrow, title: str) -> str:
    """Markdown for a mailing list or a forge: a Mermaid sequence diagram and the text trace."""
    out = [f"# {title}", "", f"System `{trace.ts.name}`; violates **{trace.violates}**"
           + (f" (without {', '.join(sorted(trace.dropped))})" if trace.dropped else "") + ".", "",
           trace_mermaid(trace, view, lifelines, arrow), "", "```", trace_text(trace, view), "```", ""]
    return "\n".join(out)


def trace_json(trace: Trace, view: View) -> dict[str, Any]:
    """A trace as data: each step's kernel call, actor, parameters and full state."""
    return {
        "schema": TRACE_SCHEMA,
        "version": SCHEMA_VERSION,
        "system": trace.ts.name,
        "violates": trace.violates,
        "without": sorted(trace.dropped),
        "initial": {"state": trace.labels(0), "view": dict(view(trace.labels(0)))},
        "steps": [
            {
                "call": trace.ts.actions[a].family,
                "params": list(trace.ts.actions[a].params),
                "actor": trace.ts.actions[a].actor,
                "state": trace.labels(k),
                "view": dict(view(trace.labels(k))),
            }
            for k, a in enumerate(trace.actions, start=1)
        ],
    }


def report_json(report: Report, view: View) -> dict[str, Any]:
    s = report.stats
    return {
        "schema": REPORT_SCHEMA,
        "version": SCHEMA_VERSION,
        "system": report.system,
        "engine": report.engine,
        "engine_reason": report.engine_reason,
        "without": list(report.dropped),
        "complete": report.stopped is None,
        "stopped": report.stopped,
        "stats": {"states": s.states, "transitions": s.transitions, "depth": s.depth, "seconds": round(s.seconds, 3)},
        "results": [
            {
                "property": r.name,
                "verdict": r.verdict.value,
                "vacuous": r.vacuous,
                "counterexample": trace_json(r.counterexample, view) if r.counterexample else None,
            }
            for r in report.results
        ],
        "deadlocks": report.deadlocks,
        "deadlock": trace_json(report.deadlock, view) if report.deadlock else None,
        "never_enabled": list(report.never_enabled),
        "strict_failures": list(report.strict_failures),
        "exit_code": report.exit_code,
    }


def cross_check_text(cc: CrossCheck, view: View) -> str:
    """The cross-check's lines, then each disagreement with both engines' traces."""
    agreeing = len(cc.comparisons) - len(cc.disagreements) - len(cc.undecided)
    out = [f"  cross-check with bmc to depth {cc.depth}: agrees on {agreeing} of {len(cc.comparisons)} properties"]
    out += [f"  UNKNOWN  {c.explicit.name}: {c.summary}" for c in cc.undecided]
    if cc.interrupted:
        rest = f"not compared: {', '.join(cc.not_compared)}" if cc.not_compared else "every property was reached"
        out.append(f"  cross-check interrupted after {len(cc.comparisons)} comparisons; {rest}")
    out += [f"  DISAGREE {c.explicit.name}: {c.summary}" for c in cc.disagreements]
    for c in cc.disagreements:
        for engine, trace in (("explicit", c.explicit.counterexample), ("bmc", c.bmc.trace)):
            if trace is not None:
                out += ["", f"{c.explicit.name}, {engine} engine:", trace_text(trace, view)]
    return "\n".join(out)


def cross_check_json(cc: CrossCheck, view: View) -> dict[str, Any]:
    """The cross-check as data: per property both answers, and BMC's trace where it differs."""
    return {
        "depth": cc.depth,
        "comparisons": [
            {
                "property": c.explicit.name,
                "summary": c.summary,
                "decided": c.decided,
                "agrees": c.agrees if c.decided else None,
                "bmc_counterexample": trace_json(c.bmc.trace, view) if c.bmc.trace and not c.agrees else None,
            }
            for c in cc.comparisons
        ],
        "interrupted": cc.interrupted,
        "not_compared": list(cc.not_compared),
    }
