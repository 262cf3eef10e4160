"""The compiled successor and property functions agree with the IR interpreter."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import explore
from dmabuf_mc.checker.interp import evaluate, successor
from dmabuf_mc.model.config import builtin_names
from tests.conftest import system


def interpreted(ts, state: dict[str, int]) -> list[tuple[int, dict[str, int]]]:
    return [(i, successor(ts, a, state)) for i, a in enumerate(ts.actions) if evaluate(a.enabled(), state)]


def agree(model, packed: int) -> None:
    ts = model.ts
    state = model.unpack(packed)
    acts, outs = model.successors(packed)
    compiled = list(zip(acts, (model.unpack(t) for t in outs), strict=True))
    assert compiled == interpreted(ts, state)
    bits, n = model.observe(packed), len(ts.properties)
    for k, p in enumerate(ts.properties):
        assert bool(bits >> k & 1) == (not evaluate(p.holds, state)), p.name
        assert bool(bits >> (n + k) & 1) == bool(evaluate(p.premise, state)), p.name
    assert model.is_final(packed) == bool(evaluate(ts.final, state))


@pytest.mark.parametrize("name", [n for n in builtin_names() if n != "largest"])
def test_compiled_successors_match_interpreter_on_every_reachable_state(name):
    _, ts = system(name)
    model = compile_system(ts)
    seen = explore(model, [], stop_when_refuted=False)
    assert seen.complete
    # Re-walk the reachable set with the interpreter's successors as the reference.
    frontier, reached = [model.initial], {model.initial}
    while frontier:
        s = frontier.pop()
        agree(model, s)
        for t in model.successors(s)[1]:
            if t not in reached:
                reached.add(t)
                frontier.append(t)
    assert len(reached) == seen.stats.states


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_compiled_matches_interpreter_on_arbitrary_states(data):
    name = data.draw(st.sampled_from(builtin_names()))
    _, ts = system(name)
    model = compile_system(ts)
    valuation = {v.name: data.draw(st.integers(0, v.domain.size - 1), label=v.name) for v in ts.variables}
    agree(model, model.pack(valuation))


def test_a_model_is_generated_once_per_process_and_each_compiled_keeps_its_own_system():
    from dataclasses import replace

    _, ts = system("seed")
    renamed = replace(ts, name="seed-again")  # the same model under another name, as sweeps build it
    first, again = compile_system(ts), compile_system(renamed)
    assert again.successors is first.successors and again.ts is renamed and again.source == first.source
    obligation = ts.obligation_names()[0]
    without = compile_system(ts, frozenset([obligation]))
    assert without.successors is not first.successors and without.dropped == {obligation}
    _, other = system("coherent-importer")
    assert compile_system(other).source != first.source
