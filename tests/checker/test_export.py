"""The exported model is the model: SPIN and TLC, run on the Promela and TLA+ that
`dmabuf-mc export` writes, find exactly the states and depth our engines find (the
committed manifest) and the same verdicts, deadlocks included; the state graph has the
manifest's states and transitions. In CI (CI=true) a missing SPIN, C compiler, java or
tla2tools.jar fails these tests; elsewhere they are skipped with the reason."""

from __future__ import annotations

import json
import os

import networkx as nx
import pytest
from click.testing import CliRunner

from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import explore
from dmabuf_mc.checker.export.graph import state_graph
from dmabuf_mc.checker.export.promela import promela
from dmabuf_mc.checker.export.tla import tla
from dmabuf_mc.checker.export.tools import Counted, ToolMissing, spin, tlc
from dmabuf_mc.checker.ir import Const, add, implies, lt, ne
from dmabuf_mc.checker.ts import Effect, Property, TransitionSystem, Var, action, bounded
from dmabuf_mc.checker.verdict import Exit, Verdict
from tests.checker.test_explicit import peterson, philosophers
from tests.conftest import system
from tests.manifest import MANIFEST

CONFIGS = ["seed", "heap-mmap", "bounce-32bit"]
"""Small built-ins with refuted and holding properties, transients and a final state."""


def run(tool: str, *args: object, **kwargs: object) -> Counted:
    """SPIN or TLC on an exported model; a missing tool skips, or fails in CI."""
    try:
        return (spin if tool == "spin" else tlc)(*args, **kwargs)  # type: ignore[arg-type]
    except ToolMissing as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have {tool}: {e}")
        pytest.skip(str(e))


def manifest(name: str) -> dict[str, object]:
    return json.loads(MANIFEST.read_text())[name]


def holding(name: str) -> tuple[str, ...]:
    verdicts = manifest(name)["verdicts"]
    return tuple(p for p, v in verdicts.items() if v == "HOLDS")  # type: ignore[union-attr]


def refuted(name: str) -> tuple[str, ...]:
    verdicts = manifest(name)["verdicts"]
    return tuple(p for p, v in verdicts.items() if v == "REFUTED")  # type: ignore[union-attr]


@pytest.mark.parametrize("bfs", [True, False], ids=["bfs", "dfs"])
@pytest.mark.parametrize("name", CONFIGS)
def test_spin_counts_the_manifest_states(name, bfs, tmp_path):
    """With the properties that hold exported, SPIN searches everything, finds no
    violation, and stores exactly our states (breadth-first: at our depth)."""
    _, ts = system(name)
    seen = run("spin", promela(ts, holding(name)), tmp_path, bfs=bfs)
    assert seen.errors == ()
    assert seen.states == manifest(name)["states"]
    if bfs:
        assert seen.depth == manifest(name)["depth"]


@pytest.mark.parametrize("name", CONFIGS)
def test_tlc_counts_the_manifest_states(name, tmp_path):
    """TLC finds our states; its depth counts the initial state, so ours plus one."""
    _, ts = system(name)
    spec = tla(ts, "Model", holding(name))
    seen = run("tlc", "Model", spec.module, spec.cfg, tmp_path)
    assert seen.errors == ()
    assert seen.states == manifest(name)["states"]
    assert seen.depth == manifest(name)["depth"] + 1


def test_spin_refutes_what_we_refute(tmp_path):
    """Each property our check refutes, exported alone, fails a SPIN assertion."""
    name = "bounce-32bit"
    _, ts = system(name)
    assert refuted(name)
    for prop in refuted(name):
        seen = run("spin", promela(ts, (prop,)), tmp_path / prop)
        assert seen.errors, prop


def test_tlc_reports_the_invariants_we_refute(tmp_path):
    name = "bounce-32bit"
    _, ts = system(name)
    spec = tla(ts, "Model")
    seen = run("tlc", "Model", spec.module, spec.cfg, tmp_path, stop_at_error=False)
    assert set(seen.errors) == {f"Inv_{p.replace('-', '_')}" for p in refuted(name)}


def test_without_o2_spin_drops_states(tmp_path):
    """Why the exporter says `spin -o2`: with one property that reads few variables, SPIN
    without -o2 leaves out those nothing reads and counts fewer states."""
    import subprocess

    _, ts = system("bounce-32bit")
    with_o2 = run("spin", promela(ts, ("no-refusal",)), tmp_path)
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "model.pml").write_text(promela(ts, ("no-refusal",)))
    subprocess.run(["spin", "-a", "model.pml"], cwd=tmp_path / "plain", check=True, capture_output=True)
    subprocess.run(["gcc", "-O2", "-DSAFETY", "-DBFS", "-o", "pan", "pan.c"], cwd=tmp_path / "plain", check=True)
    out = subprocess.run(["./pan"], cwd=tmp_path / "plain", capture_output=True, text=True).stdout
    assert with_o2.states == manifest("bounce-32bit")["states"]
    assert f"{with_o2.states} states, stored" not in out


def swap() -> TransitionSystem:
    """x and y swap (each reads the other: the Promela needs a temporary), x counts up to
    3, and a transient `bumped` marks the step that counted; y reaches 3 (a violation)."""
    x, y, bumped = Var("x", bounded("n", 3)), Var("y", bounded("n", 3)), Var("bumped", transient=True)
    e = Effect()
    e.set(x, y.ref)
    e.set(y, x.ref)
    swap_xy = action("swap", (), "t", ne(x.ref, y.ref), e)
    e = Effect()
    e.set(x, add(x.ref, Const(1)))
    e.set(bumped, True)
    bump = action("bump", (), "t", lt(x.ref, Const(3)), e)
    props = (Property("y-below-3", "y stays below 3", lt(y.ref, Const(3))),
             Property("bumped-counts", "a step that counted left x above 0", implies(bumped.eq(True), x.ne(0))))
    return TransitionSystem("swap", (x, y, bumped), {"x": 0, "y": 0, "bumped": 0}, (swap_xy, bump), props)


TOYS = [swap(), peterson(False), peterson(True), philosophers(3)]


@pytest.mark.parametrize("ts", TOYS, ids=lambda ts: ts.name)
def test_tools_agree_on_toy_systems(ts, tmp_path):
    """States and depth as our BFS counts them; a property SPIN or TLC finds violated is
    one we refute; a deadlock is reported by both tools exactly when we find one."""
    model = compile_system(ts)
    ours = explore(model, [p.name for p in ts.properties], stop_when_refuted=False)
    holds = tuple(p.name for p in ts.properties if p.name not in ours.counterexamples)
    spec = tla(ts, "Toy", holds)
    for seen, depth in ((run("spin", promela(ts, holds), tmp_path / "spin", stop_at_error=False), ours.stats.depth),
                        (run("tlc", "Toy", spec.module, spec.cfg, tmp_path / "tlc"), ours.stats.depth + 1)):
        assert (seen.states, seen.depth) == (ours.stats.states, depth)
        assert bool(seen.errors) == (ours.deadlocks > 0)
    for name in ours.counterexamples:
        assert run("spin", promela(ts, (name,)), tmp_path / name).errors


def test_philosophers_deadlock_is_reported_by_both_tools(tmp_path):
    ts = philosophers(3)
    spec = tla(ts, "Philosophers")
    assert explore(compile_system(ts), []).deadlocks
    assert "deadlock" in run("tlc", "Philosophers", spec.module, spec.cfg, tmp_path / "tlc").errors
    assert run("spin", promela(ts), tmp_path / "spin").errors  # the assertion that a stuck state is final


@pytest.mark.parametrize("name", CONFIGS)
def test_state_graph_has_the_manifest_states_and_transitions(name):
    _, ts = system(name)
    report = check(ts)  # the default properties
    g = state_graph(ts, [r.name for r in report.results])
    assert (g.number_of_nodes(), g.number_of_edges()) == (manifest(name)["states"], manifest(name)["transitions"])
    assert nx.has_path(g, "s0", f"s{g.number_of_nodes() - 1}")
    bad = {r.name for r in report.results if r.verdict == Verdict.REFUTED}
    marked = {p for _, d in g.nodes(data=True) for p in str(d["violates"]).split(", ") if p}
    assert marked == bad


def test_export_command_writes_each_format(tmp_path):
    cli = CliRunner()
    for fmt, out in (("promela", "m.pml"), ("tla", "Model.tla"), ("dot", "g.dot"), ("graphml", "g.graphml")):
        result = cli.invoke(main, ["export", "--config", "seed", "--format", fmt, "-o", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / out).read_text()
    assert "INVARIANT Inv_no_refusal" in (tmp_path / "Model.cfg").read_text()
    assert "digraph" in (tmp_path / "g.dot").read_text()
    assert "active proctype" in cli.invoke(main, ["export", "--format", "promela"]).output


@pytest.mark.parametrize("args, message", [
    (["--format", "tla"], "give -o FILE.tla"),
    (["--format", "tla", "-o", "not-a-module.tla"], "names the module"),
    (["--format", "dot", "--config", "bounce-32bit", "--max-states", "100"], "more than 100 states"),
    (["--format", "promela", "--property", "nope"], "unknown property 'nope'"),
    (["--format", "promela", "--without", "nope"], "unknown obligation 'nope'"),
])
def test_export_refuses_bad_input(args, message):
    result = CliRunner().invoke(main, ["export", *args])
    assert result.exit_code == Exit.BAD_INPUT
    assert message in result.output


def test_exported_identifiers_are_distinct_and_cover_every_variable():
    _, ts = system("bounce-32bit")
    text = promela(ts)
    declared = [line.split()[1] for line in text.splitlines() if line.startswith("byte ")]
    assert len(declared) == len(set(declared)) == len(ts.variables)
