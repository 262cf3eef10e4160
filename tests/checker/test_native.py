"""The native (C) engine agrees exactly with the Python explicit engine: the same
states, transitions, depth, deadlocks, premises, fired actions, and the same shortest
counterexamples step for step, on every built-in configuration under the baseline and
two proposals, on the classic toy systems, under limits, and on a state wider than one
machine word. Skipped only when there is no C compiler."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from itertools import combinations_with_replacement, count

import pytest

from dmabuf_mc.checker.check import PROBE_STATES, check
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines import native
from dmabuf_mc.checker.engines.explicit import NO_LIMITS, Exploration, Limits, explore
from dmabuf_mc.checker.engines.native import explore_native
from dmabuf_mc.checker.ir import FALSE, TRUE, Const, add, and_, lt, or_
from dmabuf_mc.checker.native import toolchain
from dmabuf_mc.checker.native.csource import c_source, words
from dmabuf_mc.checker.native.toolchain import NativeUnavailable
from dmabuf_mc.checker.symmetry import NotSymmetric, symmetry
from dmabuf_mc.checker.trace import replay
from dmabuf_mc.checker.ts import BOOL, Effect, Property, TransitionSystem, Var, action, bounded
from dmabuf_mc.model import catalog
from dmabuf_mc.model.build import system as build_system
from dmabuf_mc.model.config import builtin_names, load
from dmabuf_mc.model.policy import BASELINE, POLICIES
from tests.checker.test_explicit import peterson, philosophers, toggles, triangle
from tests.checker.test_symmetry import ALIKE, reachable
from tests.conftest import system
from tests.manifest import MANIFEST

pytestmark = pytest.mark.skipif(toolchain.compiler() is None, reason="no C compiler found (gcc, cc or $CC)")


def same(a: Exploration, b: Exploration) -> None:
    """Everything but the time taken."""
    assert replace(a.stats, seconds=0) == replace(b.stats, seconds=0)
    assert a.stopped == b.stopped
    assert a.counterexamples == b.counterexamples  # the same action sequences and states
    assert a.deadlock == b.deadlock
    assert a.deadlocks == b.deadlocks
    assert a.premises_seen == b.premises_seen
    assert a.actions_fired == b.actions_fired


def both(ts: TransitionSystem, limits: Limits = NO_LIMITS, stop_when_refuted: bool = True,
         dropped: frozenset[str] = frozenset()) -> Exploration:
    model = compile_system(ts, dropped)
    props = [p.name for p in ts.properties]
    python = explore(model, props, limits, stop_when_refuted=stop_when_refuted)
    native = explore_native(model, props, limits, stop_when_refuted=stop_when_refuted)
    same(python, native)
    return native


@pytest.mark.parametrize("policy", ["baseline", "p1-coherent-flag", "p11-sync-all-attachments"])
@pytest.mark.parametrize("name", builtin_names())
def test_agrees_with_python_on_every_builtin(name, policy):
    _, ts = system(name, POLICIES[policy])
    both(ts)  # stops when every property is refuted, as `check` does
    both(ts, stop_when_refuted=False)


def test_agrees_with_an_obligation_dropped():
    _, ts = system("heap-mmap", BASELINE)
    seen = both(ts, dropped=frozenset({"cpu-access-bracketed"}))
    assert "cpu-reads-latest" in seen.counterexamples


@pytest.mark.parametrize("ts", [toggles(7), triangle(9), philosophers(4), peterson(False), peterson(True)],
                         ids=lambda ts: ts.name)
def test_agrees_on_toy_systems(ts):
    both(ts)


def test_agrees_on_deadlocks():
    seen = both(philosophers(5))
    assert seen.deadlocks == 1 and len(seen.deadlock) == 5


@pytest.mark.parametrize("limits", [Limits(max_states=5), Limits(max_states=2049), Limits(max_depth=0),
                                    Limits(max_depth=2), Limits(max_depth=4, max_states=300)],
                         ids=repr)
def test_limits_stop_both_engines_at_the_same_place(limits):
    _, ts = system("bounce-32bit", BASELINE)
    both(ts, limits, stop_when_refuted=False)
    both(toggles(12), limits)


def staircase(n: int) -> TransitionSystem:
    """n counters 0..4 (3 bits each), counter i rising only while below counter i-1:
    the reachable states are the non-increasing sequences, C(n+4, 4) of them. With n = 30
    the state is 90 bits, two words, and counter 21 straddles them. A transient flag
    records a rise of an odd counter; the top state is a deadlock 4n steps deep."""
    v = [Var(f"v{i}", bounded("0..4", 4)) for i in range(n)]
    odd = Var("odd", BOOL, transient=True)
    acts = []
    for i in range(n):
        e = Effect()
        e.set(v[i], add(v[i].ref, Const(1)))
        if i % 2:
            e.set(odd, TRUE)
        guard = and_(lt(v[i].ref, Const(4)), lt(v[i].ref, v[i - 1].ref) if i else TRUE)
        acts.append(action("up", (str(i),), "t", guard, e))
    props = (
        Property("last-below-3", "the last counter stays below 3", lt(v[-1].ref, Const(3))),
        Property("never-odd-at-4", "no odd rise once the first is 4", or_(v[0].ne(4), odd.eq(False)),
                 premise=odd.eq(True)),
        Property("holds", "the counters stay in range", TRUE, premise=FALSE),
    )
    init = {x.name: 0 for x in (*v, odd)}
    return TransitionSystem("staircase", (*v, odd), init, tuple(acts), props)


def staircase_states(n: int) -> int:
    """Reachable states by counting: a non-increasing sequence with the odd flag set (or
    clear) is reached when some odd (or even) counter can have risen last."""
    count = 0
    for ascending in combinations_with_replacement(range(5), n):
        v = ascending[::-1]
        last = {i % 2 for i in range(n) if v[i] and (i == n - 1 or v[i] - 1 >= v[i + 1])}
        count += len(last) + (not any(v))
    return count


def test_multi_word_states():
    ts = staircase(30)
    model = compile_system(ts)
    assert words(model) == 2
    seen = both(ts, stop_when_refuted=False)
    assert seen.stats.states == staircase_states(30)
    assert len(seen.counterexamples["last-below-3"]) == 3 * 30
    assert seen.deadlocks == 1 and len(seen.deadlock) == 4 * 30
    assert replay(seen.deadlock) == 120


def test_check_reports_are_identical_whatever_the_engine():
    _, ts = system("largest", BASELINE)
    python, native, auto = (check(ts, engine=e) for e in ("explicit", "native", "auto"))
    assert (python.engine, native.engine, auto.engine) == ("explicit", "native", "native")
    assert f"over {PROBE_STATES:,} states" in auto.engine_reason
    for r in (native, auto):
        assert replace(r, stats=python.stats, engine="explicit", engine_reason=python.engine_reason) == python


def test_auto_stays_in_python_for_small_models():
    _, ts = system("seed", BASELINE)
    report = check(ts)
    assert report.engine == "explicit" and "done within" in report.engine_reason


def test_without_a_compiler_native_fails_and_auto_falls_back(monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler")
    _, ts = system("largest", BASELINE)
    with pytest.raises(NativeUnavailable, match="no C compiler"):
        check(ts, engine="native")
    report = check(ts, ["no-refusal"])
    assert report.engine == "explicit" and "no C compiler" in report.engine_reason
    assert report.stats.states == json.loads(MANIFEST.read_text())["largest"]["states"]


def test_libraries_are_cached_by_source(tmp_path, monkeypatch):
    monkeypatch.setenv(toolchain.CACHE_ENV, str(tmp_path))
    source = c_source(compile_system(toggles(3)))
    toolchain.build(source)
    [built] = tmp_path.glob("*.so")
    assert built == toolchain.library_path(source, toolchain.compiler())
    stamp = built.stat().st_mtime_ns
    toolchain.build(source)
    assert list(tmp_path.glob("*.so")) == [built] and built.stat().st_mtime_ns == stamp
    assert toolchain.library_path(c_source(compile_system(toggles(4))), toolchain.compiler()) != built


def test_systems_differing_only_in_name_share_a_library():
    ts = toggles(3)
    renamed = replace(ts, name="toggles/another-policy")
    cc = toolchain.compiler()
    assert toolchain.library_path(c_source(compile_system(ts)), cc) == \
        toolchain.library_path(c_source(compile_system(renamed)), cc)


def test_a_time_limit_stops_both_engines_at_their_first_look_at_the_clock(monkeypatch):
    # Both look before expanding the initial state; every look at the clock is 1 s later, so
    # the answer does not depend on how fast (or how coarse the clock of) the machine is.
    clock = count(0.0, 1.0)
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))  # the module both engines read
    seen = both(toggles(12), Limits(timeout=0.5))
    assert seen.stopped == "time limit 0.5s reached" and seen.stats.states == 1


def test_ctrl_c_between_chunks_gives_a_partial_exploration(monkeypatch):
    clock = iter(range(0, 10**6, 2))  # every look at the clock is 2 s later: progress each time
    monkeypatch.setattr(native.time, "perf_counter", lambda: float(next(clock)))
    reported = []

    def progress(stats):
        reported.append(stats.states)
        if len(reported) == 3:
            raise KeyboardInterrupt

    _, ts = system("largest", BASELINE)
    seen = explore_native(compile_system(ts), [p.name for p in ts.properties], progress=progress)
    assert seen.stopped == "interrupted"
    largest = json.loads(MANIFEST.read_text())["largest"]["states"]
    assert reported == sorted(reported) and reported[-1] <= seen.stats.states < largest
    for trace in seen.counterexamples.values():
        replay(trace)  # raises unless every step is enabled and the last state violates


def _build(source: str) -> bool:
    """Whether a worker got a library it can search with."""
    return hasattr(toolchain.build(source), "mc_run")


def test_concurrent_builds_of_one_model_compile_it_once(tmp_path, monkeypatch):
    log, wrapper = tmp_path / "cc.log", tmp_path / "cc"
    wrapper.write_text(f'#!/bin/sh\necho run >> {log}\nexec {toolchain.compiler()} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", str(wrapper))
    monkeypatch.setenv(toolchain.CACHE_ENV, str(tmp_path / "cache"))
    source = c_source(compile_system(toggles(5)))
    with ProcessPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(_build, [source] * 8))
    assert log.read_text().splitlines() == ["run"]


@pytest.mark.parametrize("limits", [Limits(max_states=30000), Limits(max_states=20000), Limits(max_depth=6)], ids=repr)
def test_auto_under_limits_reports_what_python_reports(limits):
    _, ts = system("largest", BASELINE)
    python, auto = check(ts, limits=limits, engine="explicit"), check(ts, limits=limits)
    assert replace(auto, stats=python.stats, engine="explicit", engine_reason=python.engine_reason) == python
    assert replace(auto.stats, seconds=0) == replace(python.stats, seconds=0)


def _script(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_cc_with_a_launcher_in_front_is_split_into_words(tmp_path, monkeypatch):
    launcher = _script(tmp_path / "ccache", '#!/bin/sh\nexec "$@"\n')
    real = toolchain.compiler()
    monkeypatch.setenv("CC", f"{launcher} {real}")
    monkeypatch.setenv(toolchain.CACHE_ENV, str(tmp_path / "cache"))
    assert toolchain.compiler_command() == [str(launcher), real]
    assert toolchain.compiler() == f"{launcher} {real}"
    _, ts = system("largest", BASELINE)
    report = check(ts, ["no-refusal"], limits=Limits(max_states=30000))
    assert report.engine == "native" and f"C compiled by {launcher} {real}" in report.engine_reason

def test_a_compiler_that_writes_junk_is_unavailable_and_its_library_is_not_kept(tmp_path, monkeypatch):
    junk = _script(tmp_path / "fakecc", '#!/bin/sh\nwhile [ $# -gt 0 ]; do\n'
                   '  if [ "$1" = -o ]; then echo junk > "$2"; fi; shift\ndone\n')
    monkeypatch.setenv("CC", str(junk))
    monkeypatch.setenv(toolchain.CACHE_ENV, str(tmp_path / "cache"))
    _, ts = system("largest", BASELINE)
    with pytest.raises(NativeUnavailable, match="built a library that does not load"):
        check(ts, engine="native")
    assert list((tmp_path / "cache").glob("*.so")) == []  # the next run compiles again
    report = check(ts, ["no-refusal"], limits=Limits(max_states=30000))
    assert report.engine == "explicit" and "does not load" in report.engine_reason
    assert report.stopped == "state limit 30000 reached" and list((tmp_path / "cache").glob("*.so")) == []


def test_a_library_without_the_search_is_unavailable(tmp_path, monkeypatch):
    # A compiler that builds a real library, but not from the generated C.
    empty = tmp_path / "empty.c"
    empty.write_text("int unrelated;\n")
    real = toolchain.compiler()
    out = 1 + len(toolchain.FLAGS) + 1  # cc FLAGS... -o OUT SOURCE
    other = _script(tmp_path / "othercc", f'#!/bin/sh\nexec {real} -shared -fPIC -o "${out}" {empty}\n')
    monkeypatch.setenv("CC", str(other))
    monkeypatch.setenv(toolchain.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(NativeUnavailable, match="does not load"):
        native.library(compile_system(toggles(3)))
    assert list((tmp_path / "cache").glob("*.so")) == []

class _OutOfMemory:
    """The compiled search, except that it runs out of memory: at its first chunk of
    states after `after` yields, or already when allocating its store (`after` None)."""

    def __init__(self, lib, after):
        self.lib, self.after = lib, after

    def __getattr__(self, name):
        return getattr(self.lib, name)

    def mc_new(self, *args):
        if self.after is None:
            return None
        return self.lib.mc_new(*args)

    def mc_run(self, handle, resume):
        status = self.lib.mc_run(handle, resume)
        if status == native.MC_YIELD and resume:
            self.after -= 1
            if self.after < 0:
                return native.MC_NOMEM
        return status


@pytest.mark.parametrize("after", [None, 2])
def test_the_native_engine_out_of_memory_is_a_limit_unknown_exit_3(monkeypatch, after):
    from click.testing import CliRunner

    from dmabuf_mc.app.cli import main

    real = native.library
    monkeypatch.setattr(native, "library", lambda model, symmetric=False: _OutOfMemory(real(model, symmetric), after))
    r = CliRunner().invoke(main, ["check", "--config", "largest", "--engine", "native", "--property", "no-refusal"])
    assert r.exit_code == 3, r.output
    stopped = re.search(r"stopped: out of memory after ([0-9,]+) states", r.output)
    assert stopped is not None, r.output
    assert (stopped[1] == "0") == (after is None)
    assert "UNKNOWN  no-refusal" in r.output


# --- symmetry reduction: the C canonical form is checker.symmetry's --------------------------

def doubled(name: str) -> TransitionSystem:
    """Built-in `name` with its first importer configured twice, under another name."""
    cfg = load(name)
    first = cfg.importers[0]
    return build_system(replace(cfg, importers=(*cfg.importers, replace(first, name=f"{first.name}2"))), BASELINE)[1]


@pytest.mark.parametrize("name", builtin_names())
def test_reduced_searches_agree_with_python_on_builtins_with_an_importer_doubled(name):
    # a state limit bounds the work on the big ones; both engines stop at the same place
    ts = doubled(name)
    model = compile_system(ts)
    props = [p.name for p in ts.properties]
    limits = Limits(max_states=20_000)
    try:
        canon = symmetry(model).canon
    except NotSymmetric:  # the run goes on unreduced, whichever engine, and says why
        reports = [check(ts, limits=limits, engine=e, symmetric=True) for e in ("explicit", "native")]
        assert all("--symmetry not used" in r.engine_reason for r in reports)
        assert reports[0].stats.states == reports[1].stats.states == check(ts, limits=limits).stats.states
        return
    python = explore(model, props, limits, stop_when_refuted=False, canon=canon)
    reduced = explore_native(model, props, limits, stop_when_refuted=False, canon=canon)
    same(python, reduced)
    if python.stopped is None:  # orbits, counted by hand from the unreduced search
        assert reduced.stats.states == len({canon(s) for s in reachable(model)}) < both(ts).stats.states


def test_check_symmetry_reports_are_identical_whatever_the_engine():
    for name in ALIKE:
        _, ts = system(catalog.configuration(name), BASELINE)
        python, c = (check(ts, engine=e, symmetric=True) for e in ("explicit", "native"))
        assert "--symmetry: states counted up to swapping" in c.engine_reason and c.engine == "native"
        assert replace(c, engine="", engine_reason="", seconds=0, stats=replace(c.stats, seconds=0)) == \
            replace(python, engine="", engine_reason="", seconds=0, stats=replace(python.stats, seconds=0))
        assert any(r.counterexample for r in c.results) or name != ALIKE[0]


def counters(n: int) -> TransitionSystem:
    """n interchangeable processes, each a counter 0..5 (3 bits) and a flag, after a 6-bit
    variable no action changes: 6 + 4n bits, so with n = 20 the counter of process 14
    (bits 62 to 64) straddles the two words. A process counts up, or sets its flag once its
    counter is past 2; no process may have both a counter at 5 and its flag set."""
    pad = Var("pad", bounded("0..63", 63))
    procs = [(Var(f"c{i}", bounded("0..5", 5)), Var(f"f{i}", BOOL)) for i in range(n)]
    acts = []
    for i, (c, f) in enumerate(procs):
        up, flag = Effect(), Effect()
        up.set(c, add(c.ref, Const(1)))
        flag.set(f, TRUE)
        acts.append(action("up", (str(i),), "p", lt(c.ref, Const(5)), up))
        acts.append(action("flag", (str(i),), "p", and_(lt(Const(2), c.ref), f.eq(False)), flag))
    bad = and_(*(or_(c.ne(5), f.eq(False)) for c, f in procs))
    init = {"pad": 9, **{v.name: 0 for p in procs for v in p}}
    return TransitionSystem("counters", (pad, *(v for p in procs for v in p)), init, tuple(acts),
                            (Property("never-5-flagged", "no counter at 5 with its flag set", bad),),
                            symmetric=(tuple((c.name, f.name) for c, f in procs),))


def test_reduced_searches_agree_on_records_straddling_two_words():
    ts = counters(20)
    model = compile_system(ts)
    assert words(model) == 2
    canon = symmetry(model).canon
    for limits in (Limits(max_states=3000), Limits(max_depth=7)):
        python = explore(model, ["never-5-flagged"], limits, stop_when_refuted=False, canon=canon)
        same(python, explore_native(model, ["never-5-flagged"], limits, stop_when_refuted=False, canon=canon))
        assert len(python.counterexamples["never-5-flagged"]) == 6  # 3 up, flag, 2 up
    assert python.stats.states < explore(model, [], limits).stats.states  # to depth 7: orbits, fewer
