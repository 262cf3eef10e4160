"""Checkpoints of a breadth-first search, so a long explicit run can stop and go on later.

A checkpoint holds everything the search needs to go on as if it had never stopped: the
states in BFS order with their parents, the next state to expand, the level bookkeeping,
the counts and the first (shortest) violations found. It is taken only between two states'
expansions, so counts are never split. The file is a JSON header line (schema, tool,
model fingerprint, what was checked) followed by the states and parents as packed binary,
written atomically; a checkpoint of another model, of another set of properties or
dropped obligations, or of a search reduced otherwise by symmetry, is refused. Both
explicit engines (Python and native) write and resume the same checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from dmabuf_mc.checker.artefact import FieldError, field, fingerprint, stamp, strings, write_atomic
from dmabuf_mc.checker.ts import TransitionSystem

SCHEMA = "dmabuf-mc.checkpoint"
VERSION = 2
"""2: the header carries the body's sha256, and indices are checked on load."""


@dataclass(frozen=True)
class Frontier:
    """A breadth-first search between two expansions: `states[next]` is expanded next."""

    states: tuple[int, ...]
    parent: tuple[int, ...]
    next: int
    depth: int
    level_end: int
    transitions: int
    deadlocks: int
    first_deadlock: int
    found: tuple[tuple[int, int], ...]
    """(property index, state index) of each property's first violation."""
    unfired: tuple[int, ...]
    pending: int
    unseen_premises: int
    seconds: float


class CheckpointError(Exception):
    """A checkpoint that cannot be read, or that belongs to another check."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Checked:
    """What a checkpoint is a search of: the model, the properties and dropped obligations,
    and whether states are stored as orbit representatives (--symmetry)."""

    ts: TransitionSystem
    properties: tuple[str, ...]
    dropped: tuple[str, ...]
    symmetric: bool = False

    def header(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "version": VERSION, **stamp(self.ts), "system": self.ts.name,
                "properties": sorted(self.properties), "dropped": sorted(self.dropped), "symmetry": self.symmetric}


def save(path: Path, checked: Checked, frontier: Frontier) -> None:
    """Write the checkpoint atomically: the file is the previous checkpoint or this one."""
    width = max(1, max(frontier.states).bit_length() + 7 >> 3)
    head = checked.header() | {
        "state_bytes": width,
        "count": len(frontier.states),
        **{k: getattr(frontier, k) for k in ("next", "depth", "level_end", "transitions", "deadlocks",
                                             "first_deadlock", "pending", "unseen_premises", "seconds")},
        "found": [list(f) for f in frontier.found],
        "unfired": list(frontier.unfired),
    }
    body = b"".join(s.to_bytes(width, "little") for s in frontier.states) + array("q", frontier.parent).tobytes()
    head["body_sha256"] = hashlib.sha256(body).hexdigest()
    try:
        write_atomic(path, json.dumps(head).encode() + b"\n" + body)
    except OSError as e:
        raise CheckpointError(str(path), f"cannot be written ({e.strerror or e})") from None


def load(path: str, checked: Checked) -> Frontier:
    """The frontier in the checkpoint at `path`; CheckpointError if it cannot be read or was
    taken for another model, other properties or other dropped obligations."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise CheckpointError(path, f"cannot be read ({e.strerror or e})") from None
    line, _, body = raw.partition(b"\n")
    try:
        head = json.loads(line)
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get("schema") != SCHEMA or head.get("version") != VERSION:
        raise CheckpointError(path, f"not a checkpoint (expected a {SCHEMA} version {VERSION} file)")
    try:
        _same_check(head, checked, path)
        if field(head, "body_sha256", str) != hashlib.sha256(body).hexdigest():
            raise CheckpointError(path, "damaged checkpoint: its states and parents do not match the digest "
                                        "its header records")
        return _consistent(_frontier(head, body, path), checked)
    except FieldError as e:
        raise CheckpointError(path, f"damaged checkpoint: {e}") from None


def _same_check(head: dict[str, Any], checked: Checked, path: str) -> None:
    """Refuse a checkpoint of another search."""
    if field(head, "model_fingerprint", str) != fingerprint(checked.ts):
        raise CheckpointError(path, f"a checkpoint of another model ({field(head, 'system', str)}, fingerprint "
                                    f"{head['model_fingerprint'][:19]}), not of {checked.ts.name} "
                                    f"({fingerprint(checked.ts)[:19]})")
    for key, ours in (("properties", checked.properties), ("dropped", checked.dropped)):
        theirs = strings(head, key)
        if sorted(theirs) != sorted(ours):
            raise CheckpointError(path, f"the checkpoint's search checked {key} {', '.join(theirs) or 'none'}; "
                                        f"this run asks for {', '.join(sorted(ours)) or 'none'}")
    reduced = head.get("symmetry", False)  # absent from checkpoints written before --symmetry could be saved
    if not isinstance(reduced, bool):
        raise FieldError("symmetry", "true or false", reduced)
    if reduced != checked.symmetric:
        said = {True: "with", False: "without"}
        raise CheckpointError(path, f"the checkpoint's search ran {said[reduced]} --symmetry's reduction; "
                                    f"this one runs {said[checked.symmetric]} it")


def _frontier(head: dict[str, Any], body: bytes, path: str) -> Frontier:
    width, count = field(head, "state_bytes", int), field(head, "count", int)
    if width < 1 or count < 1 or len(body) != count * (width + 8):
        raise CheckpointError(path, f"damaged checkpoint: {len(body)} bytes of states and parents, "
                                    f"expected {count} states of {width} + 8 bytes")
    cut = count * width
    parent = array("q")
    parent.frombytes(body[cut:])
    seconds = head.get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise FieldError("seconds", "a number", seconds)
    found = field(head, "found", list)
    if not all(isinstance(f, list) and len(f) == 2 and all(isinstance(x, int) for x in f) for f in found):
        raise FieldError("found", "a list of [property, state] pairs", found)
    unfired = field(head, "unfired", list)
    if not all(isinstance(a, int) for a in unfired):
        raise FieldError("unfired", "a list of action indices", unfired)
    return Frontier(
        states=tuple(int.from_bytes(body[k : k + width], "little") for k in range(0, cut, width)),
        parent=tuple(parent),
        **{k: field(head, k, int) for k in ("next", "depth", "level_end", "transitions", "deadlocks",
                                            "first_deadlock", "pending", "unseen_premises")},
        found=tuple((p, s) for p, s in found),
        unfired=tuple(unfired),
        seconds=float(seconds),
    )


def _consistent(f: Frontier, checked: Checked) -> Frontier:
    """The frontier, if every index in it points where a search could have left it
    (FieldError otherwise): an engine, the native one above all, trusts them."""
    count, props, actions = len(f.states), len(checked.ts.properties), len(checked.ts.actions)

    def within(name: str, value: int, low: int, high: int) -> None:
        if not low <= value < high:
            raise FieldError(name, f"a number from {low} to {high - 1}", value)

    if f.parent[0] != -1:
        raise FieldError("parents", "-1 for the initial state", f.parent[0])
    for k in range(1, count):
        within(f"parents[{k}]", f.parent[k], 0, k)
    within("next", f.next, 0, count + 1)
    within("level_end", f.level_end, f.next, count + 1)
    within("first_deadlock", f.first_deadlock, -1, count)
    for name in ("depth", "transitions", "deadlocks"):
        within(name, getattr(f, name), 0, 1 << 63)
    within("pending", f.pending, 0, 1 << props)
    within("unseen_premises", f.unseen_premises, 0, 1 << 2 * props)
    for prop, state in f.found:
        within("found: property", prop, 0, props)
        within("found: state", state, 0, count)
    for action in f.unfired:
        within("unfired", action, 0, actions)
    return f


def saver(path: Path, checked: Checked) -> Callable[[Frontier], None]:
    """The callback the search calls with each checkpoint it takes."""
    return lambda frontier: save(path, checked, frontier)


@contextmanager
def ctrl_c_between_states() -> Iterator[Callable[[], bool]]:
    """Hold Ctrl-C until the search is between two states, so the checkpoint it writes
    then is consistent; yields the question 'was Ctrl-C pressed?'. Outside the main
    thread, where signals are not delivered, it never is."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed.is_set
        return

    def note(_signum: int, _frame: FrameType | None) -> None:
        pressed.set()

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield pressed.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
