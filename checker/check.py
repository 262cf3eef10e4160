"""Run an explicit-state engine on a system and turn what it saw into a replayed report.

Two engines do the same breadth-first search: `explicit` in Python and `native` in C
generated from the system, compiled by the system C compiler (`checker.native`). `auto`
starts in Python and moves to C only for a model that outgrows PROBE_STATES, so the many
small models of a sweep are never compiled and a large one is searched at C speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from dmabuf_mc.checker.checkpoint import Checked, Frontier, load, saver
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
from dmabuf_mc.checker.engines.random import Walked, fuzz
from dmabuf_mc.checker.native.toolchain import NativeUnavailable, compiler
from dmabuf_mc.checker.run import Run
from dmabuf_mc.checker.symmetry import NotSymmetric, Symmetry, symmetry
from dmabuf_mc.checker.trace import replay
from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.checker.verdict import Coverage, PropertyResult, Verdict, refuted


class UnknownName(Exception):
    """A property or obligation name the system does not have."""

    def __init__(self, kind: str, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(known)}")


def validate_names(ts: TransitionSystem, properties: Sequence[str], without: Sequence[str]) -> list[str]:
    """The properties to check, groups expanded (the default ones when none are named);
    raises UnknownName on a typo."""
    try:
        wanted = ts.select(properties)
    except KeyError as e:
        raise UnknownName("property", e.args[0], [*(p.name for p in ts.properties), *ts.groups]) from None
    for name in without:
        if name not in ts.obligation_names():
            raise UnknownName("obligation", name, ts.obligation_names())
    return wanted


def fuzz_check(
    ts: TransitionSystem,
    properties: Sequence[str] = (),
    without: Sequence[str] = (),
    examples: int = 100,
    steps: int = 200,
    seed: int = 0,
    progress: Callable[[Walked], None] | None = None,
) -> Run:
    """Random histories: REFUTED with a replayed trace, or UNKNOWN (random testing proves
    nothing); the run also says how many distinct states they visited and what they
    exercised there (for `--strict`)."""
    start = time.perf_counter()
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
    return Run(
        command="fuzz",
        system=ts.name,
        engine="random",
        results=tuple(results),
        dropped=tuple(sorted(without)),
        limits={"examples": examples, "steps": steps, "seed": seed},
        visited=len(found.states_seen),
        observed=covered,
        interrupted=found.interrupted,
        seconds=time.perf_counter() - start,
    )


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


Explorer = Callable[..., Exploration]
"""`explore` or `explore_native`: they take the same arguments."""


@dataclass(frozen=True)
class Search:
    """How either engine searches, beyond limits: the checkpoint it goes on from, where it
    saves checkpoints and how often, and the canonical form of symmetry reduction."""

    resume: Frontier | None = None
    checkpoint: Callable[[Frontier], None] | None = None
    every: float | None = None
    canon: Callable[[int], int] | None = None

    def run(self, engine: Explorer, model: Compiled, wanted: Sequence[str], limits: Limits,
            progress: Callable[[Stats], None] | None) -> Exploration:
        return engine(model, wanted, limits, progress, resume=self.resume, checkpoint=self.checkpoint,
                      checkpoint_every=self.every, canon=self.canon)


PLAIN = Search()


def _explore(
    model: Compiled,
    wanted: Sequence[str],
    limits: Limits,
    progress: Callable[[Stats], None] | None,
    engine: str,
    how: Search = PLAIN,
) -> tuple[Exploration, str, str]:
    """What the chosen engine saw, which engine that was, and why (NativeUnavailable if
    `native` was asked for and cannot run). `auto`'s Python probe is skipped when the
    search resumes past it, and writes a checkpoint only if its answer is the run's and a
    limit or Ctrl-C stopped it (not its own state limit)."""
    if engine == "explicit":
        return how.run(explore, model, wanted, limits, progress), "explicit", "--engine explicit"
    if engine == "native":
        return (how.run(explore_native, model, wanted, limits, progress), "native",
                f"--engine native, C compiled by {compiler()}")
    if limits.max_states is not None and limits.max_states <= PROBE_STATES:
        return how.run(explore, model, wanted, limits, progress), "explicit", f"a state limit within {PROBE_STATES:,}"
    seen = None
    if how.resume is None or len(how.resume.states) < PROBE_STATES:
        probe = replace(limits, max_states=PROBE_STATES)
        held: list[Frontier] = []
        seen = replace(how, checkpoint=held.append if how.checkpoint else None).run(explore, model, wanted, probe,
                                                                                    progress)
        if seen.stopped != state_limit(probe):
            if how.checkpoint is not None and held and seen.stopped not in (None, ALL_REFUTED):
                how.checkpoint(held[-1])
            return seen, "explicit", f"done within {PROBE_STATES:,} states, sooner than compiling"
    try:
        native = how.run(explore_native, model, wanted, limits, progress)
    except NativeUnavailable as e:
        return how.run(explore, model, wanted, limits, progress), "explicit", f"over {PROBE_STATES:,} states, but {e}"
    except KeyboardInterrupt:  # while compiling: what the probe saw is the answer so far
        if seen is None:
            raise
        return replace(seen, stopped=INTERRUPTED), "explicit", f"interrupted compiling past {PROBE_STATES:,} states"
    return native, "native", f"over {PROBE_STATES:,} states, C compiled by {compiler()}"


@dataclass(frozen=True)
class Saving:
    """Where the search writes its checkpoints (and how often, in seconds), and the
    checkpoint it goes on from."""

    checkpoint: Path | None = None
    every: float | None = None
    resume: str | None = None


NOT_SAVED = Saving()


def _symmetry(model: Compiled, symmetric: bool) -> tuple[Symmetry | None, str]:
    """The system's symmetry if `symmetric` and it checks out, and what to add to the
    engine's reason about it."""
    if not symmetric:
        return None, ""
    try:
        sym = symmetry(model)
    except NotSymmetric as e:
        return None, f"; --symmetry not used: {e}"
    return sym, f"; --symmetry: states counted up to swapping {sym.describe()}"


def _search(model: Compiled, wanted: Sequence[str], saving: Saving, sym: Symmetry | None) -> Search:
    """How to search: resumed from and writing `saving`'s checkpoints (of a search reduced
    alike), over the orbits of `sym`."""
    checked = Checked(model.ts, tuple(wanted), tuple(sorted(model.dropped)), sym is not None)
    return Search(
        resume=None if saving.resume is None else load(saving.resume, checked),
        checkpoint=None if saving.checkpoint is None else saver(saving.checkpoint, checked),
        every=saving.every,
        canon=None if sym is None else sym.canon,
    )


def check(
    ts: TransitionSystem,
    properties: Sequence[str] = (),
    without: Sequence[str] = (),
    limits: Limits = NO_LIMITS,
    progress: Callable[[Stats], None] | None = None,
    engine: str = "auto",
    saving: Saving = NOT_SAVED,
    symmetric: bool = False,
) -> Run:
    """Check the named properties (all when empty) with some obligations dropped, with
    one of ENGINES (NativeUnavailable if `native` cannot run here), checkpointing and
    resuming as `saving` says (CheckpointError for a checkpoint of another check), and
    with `symmetric`, reduced by the system's checked symmetry (either engine).

    Every counterexample is replayed with the IR interpreter before it is reported; a
    trace that does not replay is an engine bug and raises ReplayError.
    """
    wanted = validate_names(ts, properties, without)
    model = compile_system(ts, frozenset(without))
    sym, note = _symmetry(model, symmetric)
    seen, engine, why = _explore(model, wanted, limits, progress, engine, _search(model, wanted, saving, sym))
    if sym is not None:  # an action is enabled in the unreduced search when one of its images is here
        seen = replace(seen, actions_fired=frozenset(sym.action_images(set(seen.actions_fired))))
    why += note
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
    never_enabled = (tuple(a.label for i, a in enumerate(ts.actions) if i not in seen.actions_fired)
                     if seen.stopped is None else ())
    return Run(
        command="check",
        system=ts.name,
        engine=engine,
        engine_reason=why,
        dropped=tuple(sorted(without)),
        stats=seen.stats,
        stopped=seen.stopped,
        results=tuple(results),
        deadlock=seen.deadlock,
        deadlocks=seen.deadlocks,
        never_enabled=never_enabled,
        limits={"max_states": limits.max_states, "max_depth": limits.max_depth, "timeout": limits.timeout},
        observed=Coverage(tuple(r.name for r in results if r.vacuous), never_enabled),
        interrupted=seen.stopped == INTERRUPTED,
        seconds=seen.stats.seconds,
    )
