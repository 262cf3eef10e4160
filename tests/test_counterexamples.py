"""Random histories, counterexample files and their replay; the kept corpus is a regression suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dmabuf_mc.app.cli import main
from dmabuf_mc.app.testing import check_random_histories, random_histories
from dmabuf_mc.checker.cexfile import read, still_violates, to_trace
from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import explore
from dmabuf_mc.checker.engines.random import fuzz
from dmabuf_mc.model.provenance import from_record
from tests.conftest import system

CORPUS = sorted(Path(__file__).parent.parent.joinpath("counterexamples").glob("*.json"))
CORPUS = [p for p in CORPUS if p.name != "schema.json"]
SEED = next(p for p in CORPUS if p.name.startswith("seed-baseline-device-reads-latest"))


def test_corpus_is_not_empty():
    assert len(CORPUS) >= 3


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_every_kept_counterexample_still_violates_at_its_recorded_step(path):
    rec = read(str(path))
    _, ts = from_record(rec.origin, str(path)).system()
    trace = to_trace(rec, ts)
    assert still_violates(trace)
    assert len(trace) == json.loads(path.read_text())["violated_at"]


def test_random_histories_find_the_seed_stale_read_and_shrink_it():
    _, ts = system("seed")
    shortest = check(ts, ["device-reads-latest"]).results[0].counterexample
    found = fuzz(compile_system(ts), ["device-reads-latest"], examples=30, seed_value=3)
    trace = found.counterexamples["device-reads-latest"]
    assert len(trace) <= len(shortest)


@pytest.mark.parametrize("name", ["heap-bracketed", "udmabuf-no-cpu-sync"])
def test_random_histories_stay_inside_the_reachable_set(name):
    _, ts = system(name)
    model = compile_system(ts)
    reachable = set()
    frontier = [model.initial]
    while frontier:
        s = frontier.pop()
        if s not in reachable:
            reachable.add(s)
            frontier += model.successors(s)[1]
    assert len(reachable) == explore(model, []).stats.states
    walked = fuzz(model, [], examples=20, steps=100, seed_value=1).states_seen
    assert walked and walked <= reachable


def test_user_helper_passes_a_safe_configuration_and_fails_an_unsafe_one():
    check_random_histories("heap-bracketed", properties=["device-reads-latest"], examples=10)
    with pytest.raises(AssertionError, match="REFUTED  device-reads-latest"):
        check_random_histories("seed", properties=["device-reads-latest"], examples=20)
    assert random_histories(["seed"]).pytestmark[0].args == ("config", ["seed"])


def test_user_helper_takes_groups_and_checks_the_default_set_when_none_is_named():
    with pytest.raises(AssertionError, match=r"(?s)fuzz heap-bracketed.*REFUTED  dma-api-direction"):
        check_random_histories("heap-bracketed", properties=["dma-api-rules"], examples=50)
    check_random_histories("heap-bracketed-to-device", examples=10)  # dma-api-ownership is not in the default


def test_dump_names_are_stable_and_nothing_else_is_written(tmp_path):
    runner = CliRunner()
    args = ["check", "--property", "device-reads-latest", "--dump", str(tmp_path)]
    runner.invoke(main, args)
    first = sorted(p.name for p in tmp_path.iterdir())
    runner.invoke(main, args)
    assert sorted(p.name for p in tmp_path.iterdir()) == first and len(first) == 2


def test_show_renders_text_markdown_and_json():
    path = str(SEED)
    runner = CliRunner()
    text = runner.invoke(main, ["show", path])
    assert text.exit_code == 0 and "-> violates" in text.output
    md = runner.invoke(main, ["show", path, "--format", "markdown"])
    assert "```mermaid" in md.output and "sequenceDiagram" in md.output
    diagram = md.output[md.output.index("sequenceDiagram"):]
    # From the initial state, each call from its caller: the importer attaches, the exporter writes.
    assert "Note over Exporter,display: initial state<br/>dma_buf: allocated" in diagram
    assert "display->>dma_buf: 2. dma_buf_attach(display)" in diagram
    assert "Exporter->>Cache: 4. cpu_write(exporter, line0)" in diagram
    assert "display->>Memory: 5. dma_read(display, line0)" in diagram
    assert "participant Userspace" not in diagram  # only the lifelines the trace uses
    doc = json.loads(runner.invoke(main, ["show", path, "--format", "json"]).output)
    assert doc["schema"] == "dmabuf-mc.counterexample"


def test_replay_reports_a_fixed_violation_with_exit_0_after_a_model_change(tmp_path):
    (path,) = _dumped(tmp_path)
    doc = json.loads(path.read_text())
    doc["config"]["text"] = doc["config"]["text"].replace("coherent = false", "coherent = true")  # the display snoops
    path.write_text(json.dumps(doc))
    r = CliRunner().invoke(main, ["replay", str(path)])
    assert r.exit_code == 0, r.output
    warning, answer = r.output.splitlines()
    assert "warning: the model of seed/baseline has changed since this file was written" in warning
    assert answer.endswith("all 5 steps run and device-reads-latest holds: the violation no longer happens")


def _dumped(directory: Path, *args: str) -> list[Path]:
    """The JSON files `check --dump` writes for the seed stale read (or `args`)."""
    r = CliRunner().invoke(main, ["check", *(args or ("--property", "device-reads-latest")), "--dump",
                                  str(directory)])
    assert r.exit_code == 1, r.output
    return sorted(directory.glob("*.json"))


def _corrupt(tmp_path: Path, edit) -> tuple[Path, str]:
    """A freshly dumped seed stale read, edited: every claim in it is checkable."""
    (fresh,) = _dumped(tmp_path / "fresh")
    doc = json.loads(fresh.read_text())
    text = edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(text if isinstance(text, str) else json.dumps(doc))
    return path, path.read_text()


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: "{broken", "not valid JSON"),
        (lambda d: d.update(version=7), "schema version 7 is not supported"),
        (lambda d: d.update(schema="other"), 'expected "schema": "dmabuf-mc.counterexample"'),
        (lambda d: d["steps"][1].update(call="dma_buf_frobnicate"), "step 2: dma_buf_frobnicate(display)"),
        (lambda d: d["steps"].pop(1) and d.update(violated_at=4),
         "step 2: dma_buf_map_attachment(display, DMA_TO_DEVICE) is no longer enabled"),
        (lambda d: d.pop("steps"), "steps: missing"),
        (lambda d: d.update(steps={}), "steps: expected a list"),
        (lambda d: d.update(steps=[], violated_at=0), "violated_at: device-reads-latest holds after step 0"),
        (lambda d: d.update(violated_at=4), "violated_at: expected the number of steps, 5, got 4"),
        (lambda d: d.update(violated_at="5"), 'violated_at: expected an integer, got "5"'),
        (lambda d: d["steps"][0].update(params="display"), "step 1: params: expected a list"),
        (lambda d: d["steps"][2].update(state=None), "step 3: state: expected an object"),
        (lambda d: d.update(violates=["device-reads-latest"]), "violates: expected a string"),
        (lambda d: d["steps"][3]["state"].update({"cache[0]": "clean"}),
         "step 4: state: cache[0] is 'clean' in the file, 'dirty' in the model it was written against"),
        (lambda d: d["steps"].append(d["steps"][-1]) or d.update(violated_at=6),
         "violated_at: device-reads-latest already fails at step 5, not at step 6 as recorded"),
        (lambda d: d["policy"]["rules"].update(map="magic"), "policy: expected known rules"),
        (lambda d: d["config"].update(text=7), "config.text: expected a string or null, got 7"),
    ],
)
def test_corrupted_file_gets_a_clear_error_and_is_not_touched(tmp_path, edit, needle):
    path, before = _corrupt(tmp_path, edit)
    for cmd in ("replay", "show"):
        r = CliRunner().invoke(main, [cmd, str(path)])
        assert r.exit_code == 2, r.output
        assert str(path) in r.output and needle in r.output, r.output
        assert "Traceback" not in r.output
    assert path.read_text() == before


def test_fuzz_command_reports_and_dumps(tmp_path):
    r = CliRunner().invoke(main, ["fuzz", "--property", "device-reads-latest", "--examples", "20", "--seed", "3",
                                  "--dump", str(tmp_path)])
    assert r.exit_code == 1, r.output
    assert "REFUTED  device-reads-latest" in r.output
    assert len(list(tmp_path.glob("*.json"))) == 1
    bad = CliRunner().invoke(main, ["fuzz", "--examples", "0"])
    assert bad.exit_code == 2


def test_replay_builds_every_state_in_the_systems_variable_order_whatever_the_order_of_init():
    from dataclasses import replace

    from dmabuf_mc.checker.trace import codes, replay

    rec = read(str(SEED))
    _, ts = from_record(rec.origin, str(SEED)).system()
    shuffled = replace(ts, init=dict(reversed(list(ts.init.items()))))
    assert list(shuffled.init) != [v.name for v in ts.variables]
    trace = to_trace(rec, shuffled)
    assert trace.states[0] == codes(ts, ts.init)
    assert replay(trace) == len(trace) == len(rec.calls)
    assert rec.calls[0] == (ts.actions[trace.actions[0]].family, ts.actions[trace.actions[0]].params)


def test_replay_and_file_replay_explain_a_disabled_step_alike():
    from dmabuf_mc.checker.trace import NotEnabled, ReplayError, Trace, replay, why_disabled

    rec = read(str(SEED))
    _, ts = from_record(rec.origin, str(SEED)).system()
    trace = to_trace(rec, ts)
    skipped = Trace(ts, trace.states[:1] + trace.states[2:], trace.actions[1:], trace.violates, trace.dropped)
    with pytest.raises(ReplayError) as e:
        replay(skipped)
    assert isinstance(e.value, NotEnabled)
    assert e.value.why == why_disabled(ts.actions[trace.actions[1]], trace.valuation(0), trace.dropped)
    assert str(e.value).startswith(f"step 1: {ts.actions[trace.actions[1]].label} is not enabled: ")


def test_show_says_when_the_changed_model_no_longer_violates(tmp_path):
    (path,) = _dumped(tmp_path)
    doc = json.loads(path.read_text())
    doc["config"]["text"] = doc["config"]["text"].replace("coherent = false", "coherent = true")  # the display snoops
    doc["tool"] = "dmabuf-mc 0.0.1"
    path.write_text(json.dumps(doc))
    runner = CliRunner()
    fixed = "-> device-reads-latest holds after step 5: the violation no longer happens in the current model"
    for fmt in ("text", "markdown"):
        r = runner.invoke(main, ["show", str(path), "--format", fmt])
        assert r.exit_code == 0, r.output
        assert "-> violates" not in r.stdout and fixed in r.stdout, r.stdout
        assert "warning: the model of seed/baseline has changed" in r.stderr
    assert "no longer violates **device-reads-latest**" in r.stdout
    r = runner.invoke(main, ["show", str(path), "--format", "json"])
    assert r.exit_code == 0 and fixed in r.stderr
    shown = json.loads(r.stdout)
    assert (shown["tool"], shown["model_fingerprint"]) == (doc["tool"], doc["model_fingerprint"])


def test_show_json_keeps_what_the_file_records_about_its_writer(tmp_path):
    (path,) = _dumped(tmp_path)
    doc = json.loads(path.read_text())
    doc["tool"] = "dmabuf-mc 0.0.1"
    path.write_text(json.dumps(doc))
    r = CliRunner().invoke(main, ["show", str(path), "--format", "json"])
    assert r.exit_code == 0 and r.stderr == ""
    assert json.loads(r.stdout) == doc
