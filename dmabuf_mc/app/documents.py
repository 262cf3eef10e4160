"""The JSON documents of the commands whose answer is not a run (a run's report is
`checker.render.run_json`): the batch commands' answers (schemas/batch.schema.json), and
what `replay`, `certify` and `list` say (schemas/replay.schema.json, certify, list).

Every document opens with its schema name and version, the tool that wrote it and the
command, and ends with the exit code the command exits with, so a tool reading stdout
never needs the process status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dmabuf_mc.app.batch import Cell, Outcome
from dmabuf_mc.app.judge import CATEGORIES, Allocation, Answer, Comparison, Explanation, Matrix, batch_exit
from dmabuf_mc.checker.artefact import DISTRIBUTION, tool_version
from dmabuf_mc.checker.verdict import Exit, Verdict

VERSION = 1
BATCH_SCHEMA = "dmabuf-mc.batch"
REPLAY_SCHEMA = "dmabuf-mc.replay"
CERTIFY_SCHEMA = "dmabuf-mc.certify"
LIST_SCHEMA = "dmabuf-mc.list"
CHECKED = (Verdict.HOLDS, Verdict.REFUTED, Verdict.REFUSED, Verdict.UNKNOWN)
"""The verdicts a batch's checks give (an explicit search proves nothing beyond HOLDS)."""
CERTIFY_EXIT = {"VALID": Exit.HOLDS, "REJECTED": Exit.VIOLATED, "UNKNOWN": Exit.UNKNOWN}
"""`certify`'s verdicts and their exit codes."""


def envelope(schema: str, command: str, body: Mapping[str, Any], code: Exit) -> dict[str, Any]:
    """A document: what it is and who wrote it, the command's answer, its exit code."""
    return {"schema": schema, "version": VERSION, "tool": f"{DISTRIBUTION} {tool_version()}", "command": command,
            **body, "exit_code": int(code)}


def cell_json(cell: Cell) -> dict[str, Any]:
    """One property of one check: its verdict, and the replayed trace where there is one."""
    return {"verdict": cell.verdict.value, "vacuous": cell.vacuous,
            "trace": {"calls": list(cell.calls), "text": cell.trace} if cell.trace else None}


def outcome_json(o: Outcome) -> dict[str, Any]:
    """One configuration's check: its name, the states it explored, each property's cell."""
    return {"config": o.config, "states": o.states, "cells": {p: cell_json(c) for p, c in o.cells}}


def _checked(outcomes: Sequence[Outcome]) -> list[str]:
    """The properties the checks covered (every check covers the same ones)."""
    return [p for p, _ in outcomes[0].cells] if outcomes else []


def _matrix(m: Matrix) -> dict[str, Any]:
    counts = m.counts()
    return {"properties": list(m.properties),
            "counts": {p: {v.value: counts[p][v] for v in CHECKED} for p in m.properties},
            "rows": [outcome_json(o) for o in m.outcomes]}


def _comparison(cmp: Comparison) -> dict[str, Any]:
    counts = cmp.counts()
    return {"properties": list(cmp.properties),
            "counts": {p: {c: counts[p][c] for c in CATEGORIES} for p in cmp.properties},
            "rows": [{"config": r.config,
                      "changes": {c.prop: {"category": c.category, "how": c.how or None,
                                           "base": cell_json(c.base), "proposal": cell_json(c.proposal)}
                                  for c in r.changes}}
                     for r in cmp.rows]}


def _explanation(e: Explanation) -> dict[str, Any]:
    return {"properties": _checked(e.outcomes), "configurations": e.configs, "holding": list(e.holding),
            "rows": [outcome_json(o) for o in e.outcomes],
            "findings": [{"kind": f.kind, "name": f.name, "change": f.change, "weaker": f.weaker or None,
                          "necessary": f.necessary, "config": f.config or None, "property": f.prop or None,
                          "evidence": cell_json(f.evidence) if f.evidence is not None else None}
                         for f in e.findings]}


def _allocation(a: Allocation) -> dict[str, Any]:
    return {"devices": list(a.devices), "properties": _checked([c.outcome for c in a.candidates]),
            "candidates": [{"label": c.label, **outcome_json(c.outcome), "safe": c.safe} for c in a.candidates],
            "safe": [c.label for c in a.candidates if c.safe]}


def batch_json(command: str, answer: Answer, given: Mapping[str, str]) -> dict[str, Any]:
    """A batch command's answer as data (schemas/batch.schema.json): the policies as the
    command line gave them (`given`), every configuration's verdicts with their traces,
    and the exit code (`judge.batch_exit`)."""
    if isinstance(answer, Matrix):
        body = _matrix(answer)
    elif isinstance(answer, Comparison):
        body = _comparison(answer)
    elif isinstance(answer, Explanation):
        body = _explanation(answer)
    else:
        body = _allocation(answer)
    doubts = {"failures": list(answer.doubts.failures), "undecided": list(answer.doubts.undecided)}
    return envelope(BATCH_SCHEMA, command, {**given, **body, "complete": answer.complete, "doubts": doubts},
                    batch_exit(answer))


def replay_json(file: str, system: str, prop: str, steps: int, still: bool, code: Exit) -> dict[str, Any]:
    """What `replay` found (schemas/replay.schema.json): whether the recorded violation
    still happens when the current model runs the file's steps."""
    return envelope(REPLAY_SCHEMA, "replay", {"file": file, "system": system, "property": prop, "steps": steps,
                                              "still_violated": still}, code)


def certify_json(file: str, system: str, prop: str, engine: str, verdict: str, failures: Sequence[str],
                 reason: str | None, proved: str | None, code: Exit) -> dict[str, Any]:
    """What `certify` found (schemas/certify.schema.json): VALID with what the certificate
    proves, REJECTED with the obligations that failed, or UNKNOWN with why the solver gave up."""
    return envelope(CERTIFY_SCHEMA, "certify", {"file": file, "system": system, "property": prop,
                                                "engine": engine, "verdict": verdict, "failures": list(failures),
                                                "reason": reason, "claim": proved}, code)


def list_json(sections: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """What `list` shows (schemas/list.schema.json): each section's entries and their docs."""
    return envelope(LIST_SCHEMA, "list", {"sections": {name: dict(entries) for name, entries in sections.items()}},
                    Exit.HOLDS)
