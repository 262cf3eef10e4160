"""Counterexample files: a versioned JSON record of a trace with its provenance, and
their replay against the current model (schema: counterexamples/schema.json).

A file records where it was found (the application's `config` and `policy` fields), the
tool's version and the model's fingerprint, the property, the dropped obligations, and
the steps as kernel calls with parameters and the state after each. Replay re-executes
the calls with the IR interpreter and checks every claim the file makes that the current
model can check: it says where the violation shows, or which step or field no longer
applies and why. It never says "fixed" about a file that does not describe a violation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmabuf_mc.checker.artefact import (
    COUNTEREXAMPLE,
    ORIGIN,
    READABLE,
    VERSION,
    FieldError,
    Unreadable,
    field,
    fingerprint,
    read_json,
    readable,
    stamp,
    strings,
    write_atomic,
)
from dmabuf_mc.checker.interp import evaluate
from dmabuf_mc.checker.render import View, trace_json
from dmabuf_mc.checker.trace import NotEnabled, Trace, codes, run
from dmabuf_mc.checker.ts import TransitionSystem

SCHEMA = COUNTEREXAMPLE


class CounterexampleError(Exception):
    """A counterexample file that cannot be read or no longer applies: file, step, why."""

    def __init__(self, file: str, reason: str, step: int | None = None) -> None:
        where = f"{file}: step {step}" if step is not None else file
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Recorded:
    """What a file says: where it came from, the calls and the states it claims
    they lead to (the initial one first); the violation is claimed at the last call."""

    file: str
    origin: Mapping[str, Any]
    """The `config` and `policy` fields as written, for the application to resolve."""
    fingerprint: str | None
    """The model's when the file was written (None in version 1)."""
    tool: str | None
    """The tool and version that wrote the file (None: it does not say, as in version 1)."""
    property: str
    without: tuple[str, ...]
    calls: tuple[tuple[str, tuple[str, ...]], ...]
    """Each call as its family (the kernel function) and parameters."""
    states: tuple[Mapping[str, str], ...]


def document(trace: Trace, view: View, origin: Mapping[str, Any], recorded: Recorded | None = None) -> dict[str, Any]:
    """The file's content: the trace, what wrote it and what it ran on. Stamped with this
    tool and the trace's model, or with what the file `recorded` says wrote it and against
    which model (when it says so: version 1 files do not)."""
    doc = trace_json(trace, view)
    written = stamp(trace.ts)
    if recorded is not None and recorded.fingerprint is not None:
        written = {"model_fingerprint": recorded.fingerprint}
        if recorded.tool is not None:
            written = {"tool": recorded.tool, **written}
    doc.update(schema=SCHEMA, version=VERSION, **written, **origin, violated_at=len(trace))
    return doc


def file_stem(trace: Trace) -> str:
    """The same trace gets the same name: system, property and a hash of the calls."""
    key = "\n".join([trace.ts.name, trace.violates, *sorted(trace.dropped), *trace.action_labels()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"{trace.ts.name.replace('/', '-')}-{trace.violates}-{digest}"


def _state(table: Mapping[str, Any], where: str = "") -> dict[str, str]:
    """`table["state"]`: variable name -> value label."""
    state = field(table, "state", dict, where)
    if not all(isinstance(v, str) for v in state.values()):
        raise FieldError(f"{where}.state" if where else "state", "an object of variable -> value label", state)
    return state


def _load(path: str) -> dict[str, Any]:
    """The JSON object of a counterexample file in a version this code reads."""
    try:
        doc = read_json(path)
    except Unreadable as e:
        raise CounterexampleError(path, str(e)) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise CounterexampleError(path, f"expected \"schema\": \"{SCHEMA}\"")
    if not readable(doc, SCHEMA):
        raise CounterexampleError(path, f"schema version {doc.get('version')!r} is not supported "
                                  f"(expected one of {', '.join(map(str, READABLE))})")
    return doc


def read(path: str) -> Recorded:
    """Parse and validate a counterexample file (nothing is written); CounterexampleError
    names the field (and step) that is missing or has the wrong type."""
    doc = _load(path)
    calls = []
    step: int | None = None
    try:
        states = [_state(field(doc, "initial", dict), "initial")]
        for step, entry in enumerate(field(doc, "steps", list), start=1):
            if not isinstance(entry, dict):
                raise CounterexampleError(path, "expected an object with call, params and state", step)
            params = strings(entry, "params")
            calls.append((field(entry, "call", str), params))
            states.append(_state(entry))
        step = None
        violated_at = field(doc, "violated_at", int)
        if violated_at != len(calls):
            raise CounterexampleError(path, f"violated_at: expected the number of steps, {len(calls)}, "
                                      f"got {violated_at}")
        for key in ORIGIN:
            if key not in doc:
                raise FieldError(key, "present")
        return Recorded(
            file=path,
            origin={key: doc[key] for key in ORIGIN},
            fingerprint=field(doc, "model_fingerprint", str) if doc["version"] >= 2 else None,
            tool=field(doc, "tool", str) if "tool" in doc else None,
            property=field(doc, "violates", str),
            without=strings(doc, "without"),
            calls=tuple(calls),
            states=tuple(states),
        )
    except FieldError as e:
        raise CounterexampleError(path, str(e), step) from None


def _difference(rec: Recorded, ts: TransitionSystem, state: Mapping[str, int], k: int) -> str | None:
    """How the state the model reaches after step `k` differs from the recorded one (None:
    it does not)."""
    computed = {v.name: v.domain.labels[state[v.name]] for v in ts.variables}
    recorded = rec.states[k]
    for name in sorted(set(computed) | set(recorded)):
        if computed.get(name) != recorded.get(name):
            where = "initial.state" if k == 0 else "state"
            return f"{where}: {name} is {recorded.get(name)!r} in the file, {computed.get(name)!r} in the model"
    return None


def to_trace(rec: Recorded, ts: TransitionSystem) -> Trace:
    """Re-execute the recorded calls and check the file's claims; the trace the model runs.

    Every call must be an action of `ts` and enabled, and the property may not fail before
    the last step. The model may say the violation is gone only if it has changed since the
    file was written: if `ts` has the recorded fingerprint, every state must be the recorded
    one and the property must fail at the last step; so must it in a version 1 file (no
    fingerprint) whose states are all the model's. CounterexampleError names the step and
    the field otherwise.
    """
    names = [p.name for p in ts.properties]
    if rec.property not in names:
        raise CounterexampleError(rec.file, f"violates: unknown property {rec.property!r}")
    unknown = sorted(set(rec.without) - set(ts.obligation_names()))
    if unknown:
        raise CounterexampleError(rec.file, f"without: unknown obligation {unknown[0]!r}")
    same_model = rec.fingerprint == fingerprint(ts)
    prop = ts.property(rec.property)
    dropped = frozenset(rec.without)
    index = {(a.family, a.params): i for i, a in enumerate(ts.actions)}
    actions: list[int] = []

    def resolved() -> Iterator[int]:
        """The recorded calls as actions of `ts`, each looked up when replay reaches it."""
        for k, (family, params) in enumerate(rec.calls, start=1):
            if (family, params) not in index:
                raise CounterexampleError(rec.file, f"{_call(family, params)} is not an action of {ts.name}", k)
            actions.append(index[family, params])
            yield actions[-1]

    states = []
    differences = []
    last = len(rec.calls)
    try:
        for k, state in enumerate(run(ts, resolved(), dropped)):
            differences.append(_difference(rec, ts, state, k))
            if same_model and differences[-1] is not None:
                raise CounterexampleError(rec.file, f"{differences[-1]} it was written against", k or None)
            states.append(codes(ts, state))
            if k < last and not evaluate(prop.holds, state):
                raise CounterexampleError(rec.file, f"violated_at: {prop.name} already fails at step {k}, not at "
                                          f"step {last} as recorded")
    except NotEnabled as e:
        raise CounterexampleError(rec.file, f"{e.action.label} is no longer enabled: {e.why}", e.step) from None
    checkable = same_model or (rec.fingerprint is None and not any(differences))
    if checkable and evaluate(prop.holds, state):
        raise CounterexampleError(rec.file, f"violated_at: {prop.name} holds after step {last}: the file records no "
                                  "violation of the model it was written against")
    return Trace(ts, tuple(states), tuple(actions), rec.property, dropped)


def _call(family: str, params: tuple[str, ...]) -> str:
    """A recorded call as the trace text shows it."""
    return f"{family}({', '.join(params)})"


def still_violates(trace: Trace) -> bool:
    state = trace.valuation(len(trace.states) - 1)
    return not evaluate(trace.ts.property(trace.violates).holds, state)


def dump(doc: dict[str, Any], markdown: str, stem: str, directory: Path) -> Path:
    """Write STEM.json and STEM.md under `directory`, each atomically; returns the JSON path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.json"
    write_atomic(path, json.dumps(doc, indent=2) + "\n")
    write_atomic(directory / f"{stem}.md", markdown)
    return path
