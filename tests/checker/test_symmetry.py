"""Symmetry reduction: exact orbit counts, the same verdicts and shortest traces as the
unreduced search, traces in the user's device names, and declarations that are checked."""

from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner

from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.native.toolchain import compiler
from dmabuf_mc.checker.symmetry import NotSymmetric, symmetry
from dmabuf_mc.checker.verdict import Exit
from dmabuf_mc.model import catalog
from dmabuf_mc.model.build import system
from dmabuf_mc.model.policy import BASELINE

ALIKE = [
    "sweep:udmabuf/memfd/noncoherent/high/dma32+dma32",  # bouncing, with violations
    "sweep:drm-prime/driver-cached/noncoherent/low/camera+camera+camera",  # three alike
    "sweep:drm-prime/driver-uncached/coherent/low/display+gpu+gpu",  # two alike, one not
]


def reachable(model) -> set[int]:
    """Every reachable packed state, by a plain search written here."""
    seen, todo = {model.initial}, [model.initial]
    while todo:
        for t in model.successors(todo.pop())[1]:
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


@pytest.mark.parametrize("name", ALIKE)
def test_the_reduced_search_counts_orbits_and_decides_as_the_unreduced_one(name):
    _, ts = system(catalog.configuration(name), BASELINE)
    model = compile_system(ts)
    sym = symmetry(model)
    full = check(ts, engine="explicit")
    reduced = check(ts, symmetric=True)
    assert "--symmetry" in reduced.engine_reason
    assert reduced.stats.states == len({sym.canon(s) for s in reachable(model)}) < full.stats.states
    assert reduced.stats.depth == full.stats.depth
    assert reduced.never_enabled == full.never_enabled and reduced.deadlocks <= full.deadlocks
    for r, f in zip(reduced.results, full.results, strict=True):
        assert (r.name, r.verdict, r.vacuous) == (f.name, f.verdict, f.vacuous)
        if f.counterexample is not None:  # replayed by check(), so in the configured devices' names
            assert len(r.counterexample) == len(f.counterexample)


def test_some_refuted_trace_steps_name_a_device_other_than_the_representative():
    # with two alike bouncing devices, the stored orbit representative is one ordering; the
    # trace is rebuilt from the real initial state and replays whichever device it names
    _, ts = system(catalog.configuration(ALIKE[0]), BASELINE)
    report = check(ts, symmetric=True)
    traces = [r.counterexample for r in report.results if r.counterexample is not None]
    assert traces
    labels = " ".join(ts.actions[a].label for t in traces for a in t.actions)
    assert "dma320" in labels or "dma321" in labels


def test_a_declared_symmetry_that_is_not_one_is_refused():
    cfg, ts = system(catalog.configuration(ALIKE[2]), BASELINE)
    display, gpu = cfg.importers[0].name, cfg.importers[1].name
    gpu_vars = ts.symmetric[0][0]
    bogus = replace(ts, symmetric=((tuple(v.replace(gpu, display) for v in gpu_vars), gpu_vars),))
    with pytest.raises(NotSymmetric, match="no counterpart with the processes swapped"):
        symmetry(compile_system(bogus))
    with pytest.raises(NotSymmetric, match="no interchangeable"):
        symmetry(compile_system(system(catalog.configuration("seed"), BASELINE)[1]))


def test_a_model_whose_actions_tell_alike_importers_apart_runs_unreduced_and_says_why():
    # the heap's begin_cpu_access syncs attachments in list order: the IR differs by order
    _, ts = system(catalog.configuration("sweep:heap/system-heap/noncoherent/high/dma32+dma32"), BASELINE)
    report = check(ts, ["device-reads-latest"], symmetric=True)
    assert "--symmetry not used: " in report.engine_reason
    assert report.stats.states == check(ts, ["device-reads-latest"]).stats.states


@pytest.mark.parametrize("engine", ["auto", "explicit", "native"])
def test_check_symmetry_flag_on_either_engine(engine):
    if engine == "native" and compiler() is None:
        pytest.skip("no C compiler found (gcc, cc or $CC)")
    r = CliRunner().invoke(main, ["check", "--config", ALIKE[0], "--symmetry", "--engine", engine])
    assert r.exit_code == Exit.VIOLATED and "states counted up to swapping dma320 = dma321" in r.output, r.output
