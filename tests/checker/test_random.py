"""Random histories over the compiled model: what they find, how short and how reproducibly."""

from __future__ import annotations

import json
from random import Random

import pytest
from click.testing import CliRunner

from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import path_trace
from dmabuf_mc.checker.engines.random import fuzz, shortest_within
from dmabuf_mc.checker.verdict import Verdict, refuted
from dmabuf_mc.model.config import builtin_names
from tests.conftest import system

SLACK = 1.5
"""A fuzz trace may be this many times as long as the shortest one, BFS's."""


def bfs_lengths(name: str, properties: list[str]) -> dict[str, int]:
    """The shortest counterexample's length for each named property BFS refutes."""
    _, ts = system(name)
    report = check(ts, properties)
    return {r.name: len(r.counterexample) for r in report.results if r.counterexample is not None}


@pytest.mark.parametrize("name", builtin_names())
def test_fuzz_traces_are_within_half_again_the_length_of_bfs(name):
    _, ts = system(name)
    names = [p.name for p in ts.properties]
    found = fuzz(compile_system(ts), names)
    shortest = bfs_lengths(name, names)
    # every violation BFS finds, vmap-fence-wait's 10-step stale read through fence waits
    # included (one order among many: walks prefer states not entered yet), none invented
    assert set(found.counterexamples) == set(shortest)
    for prop, trace in found.counterexamples.items():
        assert refuted(prop, "", trace).verdict in (Verdict.REFUTED, Verdict.REFUSED)
        assert shortest[prop] <= len(trace) <= SLACK * shortest[prop], prop


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    _, ts = system("bounce-32bit")
    model = compile_system(ts)
    runs = [fuzz(model, ["no-lost-writes", "cpu-reads-latest"], examples=30, seed_value=s) for s in (7, 7, 8)]
    assert runs[0] == runs[1]
    assert runs[0].states_seen != runs[2].states_seen


def test_the_trace_is_the_shortest_path_through_the_visited_states():
    _, ts = system("bounce-32bit")
    model = compile_system(ts)
    k = [p.name for p in ts.properties].index("no-lost-writes")
    rng = Random(1)
    s, walk = model.initial, [model.initial]
    while not model.observe(s) & 1 << k:  # a random walk, from the start again at the end of a history
        outs = model.successors(s)[1]
        s = rng.choice(outs) if outs else model.initial
        walk.append(s)
    states, actions = shortest_within(model, set(walk), 1 << k)[k]
    assert set(states[:-1]) <= set(walk) and model.observe(states[-1]) & 1 << k
    assert bfs_lengths("bounce-32bit", ["no-lost-writes"])["no-lost-writes"] <= len(actions) < len(walk) - 1
    assert refuted("no-lost-writes", "", path_trace(model, states, actions, "no-lost-writes")).counterexample


def test_fuzz_with_default_options_refutes_the_seed_within_half_again_bfs(tmp_path):
    r = CliRunner().invoke(main, ["fuzz", "--dump", str(tmp_path)])
    assert r.exit_code == 1, r.output
    assert "REFUTED  device-reads-latest" in r.output
    docs = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    dumped = {doc["violates"]: doc["violated_at"] for doc in docs}
    shortest = bfs_lengths("seed", list(dumped))
    assert dumped and set(dumped) == set(shortest)
    for prop, length in dumped.items():
        assert length <= SLACK * shortest[prop], prop
