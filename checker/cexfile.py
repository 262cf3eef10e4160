"""Counterexample files: a versioned JSON record of a trace with its provenance, and
their replay against the current model (schema: counterexamples/schema.json).

A file names the configuration and policy it was found under, the property, the dropped
obligations, and the steps as kernel calls with parameters and the state after each.
Replay re-executes the calls with the IR interpreter and says where the violation shows,
or which step no longer applies and why.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.interp import evaluate, successor
from checker.render import View, trace_json
from checker.trace import Trace
from checker.ts import TransitionSystem

SCHEMA = "dmabuf-mc.counterexample"
VERSION = 1


class CounterexampleError(Exception):
    """A counterexample file that cannot be read or no longer applies: file, step, why."""

    def __init__(self, file: str, reason: str, step: int | None = None) -> None:
        where = f"{file}: step {step}" if step is not None else file
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Recorded:
    """What a file says: where it came from and the calls, by label."""

    file: str
    config: str
    policy: str
    property: str
    without: tuple[str, ...]
    calls: tuple[str, ...]


def document(trace: Trace, view: View, config: str, policy: str) -> dict[str, Any]:
    doc = trace_json(trace, view)
    doc.update(schema=SCHEMA, version=VERSION, config=config, policy=policy, violated_at=len(trace))
    return doc


def file_stem(trace: Trace) -> str:
    """The same trace gets the same name: system, property and a hash of the calls."""
    key = "\n".join([trace.ts.name, trace.violates, *sorted(trace.dropped), *trace.action_labels()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"{trace.ts.name.replace('/', '-')}-{trace.violates}-{digest}"


def read(path: str) -> Recorded:
    """Parse and validate a counterexample file (nothing is written)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise CounterexampleError(path, f"cannot be read ({e})") from None
    except json.JSONDecodeError as e:
        raise CounterexampleError(path, f"not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise CounterexampleError(path, f"expected \"schema\": \"{SCHEMA}\"")
    if doc.get("version") != VERSION:
        raise CounterexampleError(path, f"schema version {doc.get('version')!r} is not supported (expected {VERSION})")
    try:
        calls = []
        for k, step in enumerate(doc["steps"], start=1):
            if not isinstance(step.get("call"), str) or not isinstance(step.get("params"), list):
                raise CounterexampleError(path, "expected a call name and a params list", k)
            calls.append(f"{step['call']}({', '.join(map(str, step['params']))})")
        return Recorded(path, str(doc["config"]), str(doc["policy"]), str(doc["violates"]),
                        tuple(doc.get("without", [])), tuple(calls))
    except (KeyError, TypeError, AttributeError) as e:
        raise CounterexampleError(path, f"missing or malformed field {e}") from None


def to_trace(rec: Recorded, ts: TransitionSystem) -> Trace:
    """Re-execute the recorded calls; stop at the first state violating the property.

    Raises CounterexampleError naming the step whose call is unknown or not enabled.
    """
    names = [p.name for p in ts.properties]
    if rec.property not in names:
        raise CounterexampleError(rec.file, f"unknown property {rec.property!r}")
    unknown = sorted(set(rec.without) - set(ts.obligation_names()))
    if unknown:
        raise CounterexampleError(rec.file, f"unknown obligation {unknown[0]!r}")
    prop = ts.property(rec.property)
    dropped = frozenset(rec.without)
    labels = {a.label: i for i, a in enumerate(ts.actions)}
    state = dict(ts.init)
    states = [tuple(state.values())]
    actions = []
    for k, call in enumerate(rec.calls, start=1):
        if call not in labels:
            raise CounterexampleError(rec.file, f"{call} is not an action of {ts.name}", k)
        act = ts.actions[labels[call]]
        if not evaluate(act.enabled(dropped), state):
            failed = [o.name for o in act.obligations if o.name not in dropped and not evaluate(o.holds, state)]
            why = f"obligation {', '.join(failed)} does not hold" if failed else "its guard does not hold"
            raise CounterexampleError(rec.file, f"{call} is no longer enabled: {why}", k)
        state = successor(ts, act, state)
        states.append(tuple(state[v.name] for v in ts.variables))
        actions.append(labels[call])
        if not evaluate(prop.holds, state):
            break
    return Trace(ts, tuple(states), tuple(actions), rec.property, dropped)


def still_violates(trace: Trace) -> bool:
    state = trace.valuation(len(trace.states) - 1)
    return not evaluate(trace.ts.property(trace.violates).holds, state)


def dump(doc: dict[str, Any], markdown: str, stem: str, directory: Path) -> Path:
    """Write STEM.json and STEM.md under `directory`; returns the JSON path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    (directory / f"{stem}.md").write_text(markdown)
    return path
