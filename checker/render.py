"""Renderers for runs and traces: text and Markdown for people, versioned JSON for tools
(the ITF trace format is `checker.itf`).

A `View` turns a state (variable -> value label) into named cells a reader recognises;
the model supplies it, so traces speak in kernel terms and never show the bit encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dmabuf_mc.checker.crosscheck import CrossCheck
from dmabuf_mc.checker.run import Run, exit_code
from dmabuf_mc.checker.trace import DEADLOCK, Trace
from dmabuf_mc.checker.ts import Action
from dmabuf_mc.checker.verdict import Coverage, PropertyResult, Verdict

View = Callable[[Mapping[str, str]], Mapping[str, str]]
REPORT_SCHEMA = "dmabuf-mc.report"
REPORT_VERSION = 2
"""Version 2: every command's report (check, prove, fuzz), with limits, provenance and
per-property evidence; version 1 was check's alone."""
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


def _header(run: Run) -> list[str]:
    """The system, engine and why, what was left out; the search's size when it has one."""
    out = [f"dmabuf-mc: {run.system} ({run.engine} engine"
           + (f": {run.engine_reason}" if run.engine_reason else "") + ")"
           + (f", without {', '.join(run.dropped)}" if run.dropped else "")]
    s = run.stats
    if s is not None:
        coverage = "exhaustive" if run.stopped is None else f"stopped: {run.stopped}"
        out.append(f"  {s.states:,} states, {s.transitions:,} transitions, depth {s.depth}, "
                   f"{s.seconds:.2f}s ({s.states_per_second:,.0f} states/s); {coverage}")
    return out


def _note(run: Run, r: PropertyResult) -> str:
    """What a verdict line says after the property's name."""
    if r.counterexample is not None:
        return violation_note(r)
    if run.stats is None:
        return r.note
    if r.verdict is Verdict.HOLDS:
        return f"in all {run.stats.states:,} reachable states" + (
            " - VACUOUS: its premise never occurs" if r.vacuous else "")
    return f"no violation in the {run.stats.states:,} states explored ({run.stopped})"


def run_text(run: Run, view: View) -> str:
    """The verdict lines, what the run covered and what --strict judged, then each
    counterexample; a cross-check's lines and traces last."""
    out = _header(run)
    width = max((len(r.name) for r in run.results), default=0)
    out += [f"  {r.verdict.value:<8} {r.name:<{width}}  {_note(run, r)}" for r in run.results]
    out += [f"  {line}" for line in _findings(run)]
    for r in run.results:
        if r.counterexample is not None:
            out += ["", f"{r.name}: {r.doc}", trace_text(r.counterexample, view)]
    if run.deadlock is not None:
        out += ["", "deadlock:", trace_text(run.deadlock, view)]
    if run.cross_check is not None:
        out += [f"  {line}" for line in _cross_check_lines(run.cross_check)]
        out += _disagreements(run.cross_check, view)
    return "\n".join(out)


def _findings(run: Run) -> list[str]:
    """What the run covered beyond its verdicts: states visited, deadlocks, actions never
    enabled, and what --strict judged."""
    out = [f"{run.visited:,} distinct states visited"] if run.visited is not None else []
    if run.deadlock is not None:
        out.append(f"DEADLOCK {run.deadlocks} state(s) where nothing is enabled; first one below")
    if run.never_enabled:
        out.append(f"warning: never enabled: {', '.join(run.never_enabled)}")
    if run.coverage is not None:
        out += coverage_lines(run.coverage)
    return out


def run_markdown(run: Run, view: View, trace_markdown: Callable[[Trace], str]) -> str:
    """A run for a mailing list or a forge: a table of verdicts, then each counterexample
    as `trace_markdown` renders it (the model supplies lifelines and arrows)."""
    out = [f"# {run.system}", "", f"`{run.command}` with the {run.engine} engine"
           + (f" ({run.engine_reason})" if run.engine_reason else "")
           + (f", without {', '.join(run.dropped)}" if run.dropped else "") + "."]
    if run.stats is not None:
        out += ["", "```", *_header(run)[1:], "```"]
    out += ["", "| property | verdict | evidence |", "|---|---|---|"]
    out += [f"| {r.name} | {r.verdict.value} | {_note(run, r).replace('|', '/')} |" for r in run.results]
    extra = _findings(run) + (_cross_check_lines(run.cross_check) if run.cross_check is not None else [])
    out += [""] + [f"- {line}" for line in extra] if extra else []
    for trace in run.counterexamples:
        out += ["", trace_markdown(trace)]
    return "\n".join(out)


def coverage_lines(cov: Coverage) -> list[str]:
    """`--strict`'s lines: what fails the run, what could not be decided."""
    out = [f"STRICT   the run fails: {'; '.join(cov.failures)}"] if cov.failures else []
    if cov.undecided:
        out.append(f"STRICT   not decided: {'; '.join(cov.undecided)}")
    return out


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


def _result_json(r: PropertyResult, view: View) -> dict[str, Any]:
    return {
        "property": r.name,
        "doc": r.doc,
        "verdict": r.verdict.value,
        "vacuous": r.vacuous,
        "note": r.note,
        "certificate": r.certificate,
        "bound": r.bound,
        "seconds": None if r.seconds is None else round(r.seconds, 3),
        "counterexample": trace_json(r.counterexample, view) if r.counterexample else None,
    }


def run_json(run: Run, view: View) -> dict[str, Any]:
    """A run as data (schemas/report.schema.json): what ran on what, with which limits,
    each property's verdict and evidence, what the run covered, and its exit code."""
    s = run.stats
    return {
        "schema": REPORT_SCHEMA,
        "version": REPORT_VERSION,
        "command": run.command,
        "system": run.system,
        **run.origin,
        "engine": run.engine,
        "engine_reason": run.engine_reason,
        "without": list(run.dropped),
        "limits": dict(run.limits),
        "complete": run.stats is not None and run.stopped is None and not run.interrupted,
        "stopped": run.stopped,
        "interrupted": run.interrupted,
        "seconds": round(run.seconds, 3),
        "stats": None if s is None else {"states": s.states, "transitions": s.transitions, "depth": s.depth,
                                         "seconds": round(s.seconds, 3)},
        "visited": run.visited,
        "results": [_result_json(r, view) for r in run.results],
        "deadlocks": run.deadlocks,
        "deadlock": trace_json(run.deadlock, view) if run.deadlock else None,
        "never_enabled": list(run.never_enabled),
        "strict": run.strict,
        "strict_failures": list(run.strict_failures),
        "not_decided": list(run.coverage.undecided) if run.coverage is not None else [],
        "cross_check": _cross_check_json(run.cross_check, view) if run.cross_check is not None else None,
        "exit_code": int(exit_code(run)),
    }


def _cross_check_lines(cc: CrossCheck) -> list[str]:
    """The cross-check's summary: how many properties agree, what BMC left undecided, what
    an interrupt left uncompared, and each disagreement."""
    agreeing = len(cc.comparisons) - len(cc.disagreements) - len(cc.undecided)
    out = [f"cross-check with bmc to depth {cc.depth}: agrees on {agreeing} of {len(cc.comparisons)} properties"]
    out += [f"UNKNOWN  {c.explicit.name}: {c.summary}" for c in cc.undecided]
    if cc.interrupted:
        rest = f"not compared: {', '.join(cc.not_compared)}" if cc.not_compared else "every property was reached"
        out.append(f"cross-check interrupted after {len(cc.comparisons)} comparisons; {rest}")
    return out + [f"DISAGREE {c.explicit.name}: {c.summary}" for c in cc.disagreements]


def _disagreements(cc: CrossCheck, view: View) -> list[str]:
    """Both engines' traces for each property they disagree on."""
    out = []
    for c in cc.disagreements:
        for engine, trace in (("explicit", c.explicit.counterexample), ("bmc", c.bmc.trace)):
            if trace is not None:
                out += ["", f"{c.explicit.name}, {engine} engine:", trace_text(trace, view)]
    return out


def _cross_check_json(cc: CrossCheck, view: View) -> dict[str, Any]:
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
