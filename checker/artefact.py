"""What every file the tool leaves behind (counterexamples, certificates) carries and how
it is written: the tool's version, a fingerprint of the model it was checked against, and
atomic writes, so a reader never sees half a file and one write never clobbers another's.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib import metadata
from pathlib import Path

from checker.ts import TransitionSystem

DISTRIBUTION = "dmabuf-mc"


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


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename:
    the file is either the old one or the whole new one, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
