"""What every file the tool leaves behind (counterexamples, certificates) carries and how
it is written and read: the tool's version, a fingerprint of the model it was checked
against, atomic writes, so a reader never sees half a file and one write never clobbers
another's, and one validator of JSON fields, so every reader names a bad field alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from dmabuf_mc.checker.ts import TransitionSystem

DISTRIBUTION = "dmabuf-mc"

COUNTEREXAMPLE = "dmabuf-mc.counterexample"
"""The `schema` field of a counterexample file (counterexamples/schema.json)."""
CERTIFICATE = "dmabuf-mc.certificate"
"""The `schema` field of a proof certificate."""
VERSION = 2
"""The format version written; the same for counterexamples and certificates."""
READABLE = (1, 2)
"""Version 1 named the configuration and policy only, and recorded no fingerprint."""
ORIGIN = ("config", "policy")
"""The fields the application fills with what the check ran on (`model.provenance`)."""


def tool_version() -> str:
    """The installed version of the tool, as its package metadata says."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def fingerprint(ts: TransitionSystem) -> str:
    """A hash of what the model means: variables and domains, the initial state, every
    action (label, actor, guard, obligations and updates as IR), the properties and the
    final states. Names and docs are left out, so renaming a policy changes nothing; any
    change to what a call does changes the fingerprint."""
    parts = [
        repr([(v.name, v.domain.labels, v.transient) for v in ts.variables]),
        repr(sorted(ts.init.items())),
        *(repr((a.label, a.actor, a.guard, a.obligations, a.updates)) for a in ts.actions),
        *(repr((p.name, p.holds, p.premise, p.refusal)) for p in ts.properties),
        repr(ts.final),
    ]
    return "sha256:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def stamp(ts: TransitionSystem) -> dict[str, str]:
    """The fields every artefact records about what wrote it and against which model."""
    return {"tool": f"{DISTRIBUTION} {tool_version()}", "model_fingerprint": fingerprint(ts)}


def model_changed(recorded: str | None, ts: TransitionSystem) -> str | None:
    """The warning to print when the model `ts` is not the one an artefact recorded (None
    when it is, or when the artefact is too old to record a fingerprint)."""
    if recorded is None or recorded == fingerprint(ts):
        return None
    return (f"warning: the model of {ts.name} has changed since this file was written (fingerprint "
            f"{recorded[:19]} recorded, {fingerprint(ts)[:19]} now)")


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename:
    the file is either the old one or the whole new one, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Unreadable(Exception):
    """A file that cannot be read, or whose text is not JSON."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(f"{reason} ({error})")
        self.reason = reason
        self.error = error


MAX_BYTES = 64 * 2**20
"""The largest artefact read: ten times a counterexample of 10,000 steps of the largest
built-in model; a larger file is refused before it is read, not parsed for minutes."""


def read_json(path: str) -> Any:
    """The JSON value in the file at `path`; Unreadable says why there is none (a file
    over MAX_BYTES is not read)."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:
            raise Unreadable("cannot be read", f"expected a file of at most {MAX_BYTES:,} bytes, got {size:,}")
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise Unreadable("cannot be read", str(e)) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise Unreadable("not valid JSON", "nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, and the parser's other refusals
        raise Unreadable("not valid JSON", str(e)) from None


def readable(doc: Any, schema: str) -> bool:
    """Whether `doc` is an object of `schema` in a version this code reads (a JSON integer:
    `true` is not version 1)."""
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        return False
    version = doc.get("version")
    return isinstance(version, int) and not isinstance(version, bool) and version in READABLE


KINDS: dict[type | tuple[type, ...], str] = {
    str: "a string", int: "an integer", list: "a list", dict: "an object", (str, type(None)): "a string or null",
}
"""What each JSON type is called in an error message."""

_MISSING: Any = object()


class FieldError(Exception):
    """A field of a JSON artefact that is missing or has the wrong type: `field` is its
    dotted name, `expected` what it should be, `got` what it is (None: it is missing)."""

    def __init__(self, field: str, expected: str, value: Any = _MISSING) -> None:
        self.field = field
        self.expected = expected
        self.got = None if value is _MISSING else _excerpt(value)
        super().__init__(f"{field}: missing" if self.got is None else f"{field}: expected {expected}, got {self.got}")


def _excerpt(value: Any) -> str:
    """The start of a JSON value as the file spells it."""
    try:
        return json.dumps(value)[:40]
    except (RecursionError, ValueError):
        return f"a {type(value).__name__} nested too deeply to show"


def field(table: Any, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """`table[key]`, which must be there and be a `kind` (a JSON true or false is never an
    integer); `where` names the table in errors."""
    name = f"{where}.{key}" if where else key
    if not isinstance(table, dict):
        raise FieldError(where or name, KINDS[dict], table)
    if key not in table:
        raise FieldError(name, KINDS[kind])
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise FieldError(name, KINDS[kind], value)
    return value


def strings(table: Any, key: str, where: str = "") -> tuple[str, ...]:
    """`table[key]`, which must be a list of strings."""
    values = field(table, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise FieldError(f"{where}.{key}" if where else key, "a list of strings", values)
    return tuple(values)
