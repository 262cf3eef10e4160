"""Run an explicit-state engine on a system and turn what it saw into a replayed report.

Two engines do the same breadth-first search: `explicit` in Python and `native` in C
generated from the system, compiled by the system C compiler (`checker.native`). `auto`
starts in Python and moves to C only for a model that outgrows PROBE_STATES, so the many
small models of a sweep are never compiled and a large one is searched at C speed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from dmabuf_mc.checker.compile import Compiled, compile_system
from dmabuf_mc.checker.engines.explicit import (
    ALL_REFUTED,
    INTERRUPTED,
    NO_LIMITS,
    Exploration,
    Limits,
    Stats,
    explore,
    state_limit,
)
from dmabuf_mc.checker.engines.native import explore_native
from dmabuf_mc.checker.engines.random import fuzz
from dmabuf_mc.checker.native.toolchain import NativeUnavailable, compiler
from dmabuf_mc.checker.trace import replay
from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.checker.verdict import Coverage, PropertyResult, Report, Verdict, refuted


class UnknownName(Exception):
    """A property or obligation name the system does not have."""

    def __init__(self, kind: str, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(known)}")


def validate_names(ts: TransitionSystem, properties: Sequence[str], without: Sequence[str]) -> list[str]:
    """The properties to check (all when none are named); raises UnknownName on a typo."""
    known = [p.name for p in ts.properties]
    for name in properties:
        if name not in known:
            raise UnknownName("property", name, known)
    for name in without:
        if name not in ts.obligation_names():
            raise UnknownName("obligation", name, ts.obligation_names())
    return list(properties) or known


@dataclass(frozen=True)
class Fuzzed:
    """What random histories found, how many distinct states they visited, and what they
    exercised there (for `--strict`)."""

    results: tuple[PropertyResult, ...]
    visited: int
    coverage: Coverage


def fuzz_check(
    ts: TransitionSystem,
    properties: Sequence[str] = (),
    without: Sequence[str] = (),
    examples: int = 100,
    steps: int = 200,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Fuzzed:
    """Random histories: REFUTED with a replayed trace, or UNKNOWN (random testing proves
    nothing)."""
    wanted = validate_names(ts, properties, without)
    model = compile_system(ts, frozenset(without))
    found = fuzz(model, wanted, examples, steps, seed, progress)
    tried = f"{examples} histories of up to {steps} steps (seed {seed})"
    note = f"interrupted before {tried} were run" if found.interrupted else f"no violation in {tried}"
    results = []
    for name in wanted:
        doc = ts.property(name).doc
        if name in found.counterexamples:
            results.append(refuted(name, doc, found.counterexamples[name]))
        else:
            results.append(PropertyResult(name, doc, Verdict.UNKNOWN, note=note))
    covered = (Coverage.not_judged(f"interrupted after {len(found.states_seen):,} distinct states")
               if found.interrupted else visited_coverage(model, found.states_seen, wanted))
    return Fuzzed(tuple(results), len(found.states_seen), covered)


def visited_coverage(model: Compiled, states: Iterable[int], properties: Sequence[str]) -> Coverage:
    """Which premises never held and which actions were never enabled in `states`."""
    names = [p.name for p in model.ts.properties]
    seen = 0
    enabled: set[int] = set()
    for s in states:
        seen |= model.observe(s)
        enabled.update(model.successors(s)[0])
    vacuous = tuple(p for p in properties if not seen >> (len(names) + names.index(p)) & 1)
    return Coverage(vacuous, tuple(a.label for i, a in enumerate(model.ts.actions) if i not in enabled))


ENGINES = ("auto", "native", "explicit")
PROBE_STATES = 20_000
"""`auto` explores this many states in Python before compiling: Python's BFS covers them
in about 0.15 s, less than a compiler run (~0.4 s for the largest built-in model). The
probe's time is not counted against a time limit, nor in the reported seconds."""


def _explore(
    model: Compiled,
    wanted: Sequence[str],
    limits: Limits,
    progress: Callable[[Stats], None] | None,
    engine: str,
) -> tuple[Exploration, str, str]:
    """What the chosen engine saw, which engine that was, and why (NativeUnavailable if
    `native` was asked for and cannot run)."""
    if engine == "explicit":
        return explore(model, wanted, limits, progress), "explicit", "--engine explicit"
    if engine == "native":
        return explore_native(model, wanted, limits, progress), "native", f"--engine native, C compiled by {compiler()}"
    if limits.max_states is not None and limits.max_states <= PROBE_STATES:
        return explore(model, wanted, limits, progress), "explicit", f"a state limit within {PROBE_STATES:,}"
    probe = replace(limits, max_states=PROBE_STATES)
    seen = explore(model, wanted, probe, progress)
    if seen.stopped != state_limit(probe):
        return seen, "explicit", f"done within {PROBE_STATES:,} states, sooner than compiling"
    try:
        native = explore_native(model, wanted, limits, progress)
    except NativeUnavailable as e:
        return explore(model, wanted, limits, progress), "explicit", f"over {PROBE_STATES:,} states, but {e}"
    except KeyboardInterrupt:  # while compiling: what the probe saw is the answer so far
        return replace(seen, stopped=INTERRUPTED), "explicit", f"interrupted compiling past {PROBE_STATES:,} states"
    return native, "native", f"over {PROBE_STATES:,} states, C compiled by {compiler()}"


def check(
    ts: TransitionSystem,
    properties: Sequence[str] = (),
    without: Sequence[str] = (),
    limits: Limits = NO_LIMITS,
    progress: Callable[[Stats], None] | None = None,
    engine: str = "auto",
) -> Report:
    """Check the named properties (all when empty) with some obligations dropped, with
    one of ENGINES (NativeUnavailable if `native` cannot run here).

    Every counterexample is replayed with the IR interpreter before it is reported; a
    trace that does not replay is an engine bug and raises ReplayError.
    """
    wanted = validate_names(ts, properties, without)
    model = compile_system(ts, frozenset(without))
    seen, engine, why = _explore(model, wanted, limits, progress, engine)
    if seen.deadlock is not None:
        replay(seen.deadlock)
    exhaustive = seen.stopped in (None, ALL_REFUTED)
    results = []
    for name in wanted:
        prop = ts.property(name)
        trace = seen.counterexamples.get(name)
        if trace is not None:
            results.append(refuted(name, prop.doc, trace))
        elif exhaustive:
            results.append(PropertyResult(name, prop.doc, Verdict.HOLDS, vacuous=name not in seen.premises_seen))
        else:
            results.append(PropertyResult(name, prop.doc, Verdict.UNKNOWN))
    return Report(
        system=ts.name,
        engine=engine,
        engine_reason=why,
        dropped=tuple(sorted(without)),
        stats=seen.stats,
        stopped=seen.stopped,
        results=tuple(results),
        deadlock=seen.deadlock,
        deadlocks=seen.deadlocks,
        never_enabled=tuple(a.label for i, a in enumerate(ts.actions) if i not in seen.actions_fired)
        if seen.stopped is None
        else (),
    )
