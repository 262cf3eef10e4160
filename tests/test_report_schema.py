"""Every command's `--format json` report matches schemas/report.schema.json and says the
exit code the command exits with; `--format itf` writes counterexamples that an ITF reader
(the PyPI package itf-py) reads back as the calls and states of the counterexample files
the same run dumps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from itf_py import trace_from_json
from jsonschema import Draft202012Validator

from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.itf import ACTION_TAKEN, INIT

SCHEMA = json.loads((Path(__file__).parent.parent / "schemas" / "report.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)

HEAP = ("--config", "heap-bracketed", "--property", "device-reads-latest")
RUNS = {
    "check refutes": (["check", "--property", "device-reads-latest"], 1),
    "check holds, strict, cross-checked": (["check", *HEAP, "--strict", "--cross-check"], 0),
    "check reaches a state limit": (["check", "--config", "heap-bracketed", "--max-states", "5"], 3),
    "check refutes under a --rule": (["check", "--config", "heap-mmap", "--rule", "cpu-access=nothing",
                                             "--property", "cpu-reads-latest"], 1),
    "prove refutes": (["prove", "--property", "device-reads-latest"], 1),
    "prove proves": (["prove", *HEAP], 0),
    "prove bmc is bounded": (["prove", *HEAP, "--engine", "bmc", "--depth", "3"], 3),
    "fuzz refutes": (["fuzz", "--property", "device-reads-latest", "--examples", "20", "--seed", "3"], 1),
    "fuzz proves nothing": (["fuzz", *HEAP, "--examples", "5", "--steps", "20"], 3),
    "fuzz --strict fails on what it never saw": (["fuzz", *HEAP, "--examples", "2", "--steps", "5", "--strict"], 1),
}


def errors(doc: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


def invoke(args: list[str], tmp_path: Path):
    extra = ["--certificates", str(tmp_path / "certs")] if args[0] == "prove" else []
    return CliRunner().invoke(main, [*args, *extra])


def test_the_report_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("case", list(RUNS))
def test_json_report_matches_the_schema_and_the_exit_code(case, tmp_path):
    args, code = RUNS[case]
    r = invoke([*args, "--format", "json"], tmp_path)
    assert r.exit_code == code, r.output
    doc = json.loads(r.stdout)
    assert errors(doc) == []
    assert doc["command"] == args[0] and doc["exit_code"] == code
    assert doc["config"]["name"] == (args[args.index("--config") + 1] if "--config" in args else "seed")
    for result in doc["results"]:
        if result["verdict"] == "PROVED":
            assert Path(result["certificate"]).is_file()


def test_the_schema_refuses_a_report_that_breaks_it(tmp_path):
    r = invoke([*RUNS["check refutes"][0], "--format", "json"], tmp_path)
    doc = json.loads(r.stdout)
    doc["results"][0]["counterexample"] = None  # a REFUTED verdict without its trace
    assert errors(doc) != []
    del doc["exit_code"]
    assert any("exit_code" in e for e in errors(doc))


@pytest.mark.parametrize("case", ["check refutes", "prove refutes", "fuzz refutes"])
def test_itf_traces_read_back_as_the_json_reports_counterexamples(case, tmp_path):
    args, code = RUNS[case]
    itf = invoke([*args, "--format", "itf", "--dump", str(tmp_path / "cex")], tmp_path)
    assert itf.exit_code == code
    traces = [trace_from_json(json.loads(line)) for line in itf.stdout.splitlines()]
    dumped = {doc["violates"]: doc for doc in (json.loads(p.read_text()) for p in (tmp_path / "cex").glob("*.json"))}
    assert traces and len(traces) == len(dumped)
    for trace in traces:
        cex = dumped[trace.meta["violates"]]
        assert trace.meta["format"] == "ITF" and trace.meta["config"] == cex["config"]
        states = [cex["initial"]["state"]] + [s["state"] for s in cex["steps"]]
        assert [s.meta["index"] for s in trace.states] == list(range(len(states)))
        assert [{k: v for k, v in s.values.items() if k != ACTION_TAKEN} for s in trace.states] == states
        assert trace.states[0].values[ACTION_TAKEN] == INIT
        assert all(s.values[ACTION_TAKEN].startswith(step["call"])
                   for s, step in zip(trace.states[1:], cex["steps"], strict=True))
        assert set(trace.vars) == set(trace.states[0].values)


def test_itf_without_a_counterexample_prints_nothing(tmp_path):
    r = invoke(["check", *HEAP, "--format", "itf"], tmp_path)
    assert r.exit_code == 0 and r.stdout == ""


def test_markdown_report_has_a_verdict_table_and_the_trace(tmp_path):
    r = invoke(["check", "--property", "device-reads-latest", "--format", "markdown"], tmp_path)
    assert r.exit_code == 1
    assert "| device-reads-latest | REFUTED | counterexample in 5 steps, replayed |" in r.stdout
    assert "sequenceDiagram" in r.stdout and "-> violates device-reads-latest" in r.stdout


def test_dump_with_json_output_keeps_stdout_json(tmp_path):
    r = invoke(["check", "--property", "device-reads-latest", "--format", "json", "--dump", str(tmp_path)], tmp_path)
    assert r.exit_code == 1
    assert errors(json.loads(r.stdout)) == [] and "wrote " in r.stderr


def test_show_itf_reads_back_as_show_json_states():
    """Both show the file as the current model runs it."""
    kept = sorted((Path(__file__).parent.parent / "counterexamples").glob("seed-*.json"))[0]
    r = CliRunner().invoke(main, ["show", str(kept), "--format", "itf"])
    assert r.exit_code == 0, r.output
    trace = trace_from_json(json.loads(r.stdout))
    doc = json.loads(CliRunner().invoke(main, ["show", str(kept), "--format", "json"]).stdout)
    states = [doc["initial"]["state"]] + [s["state"] for s in doc["steps"]]
    assert [{k: v for k, v in s.values.items() if k != ACTION_TAKEN} for s in trace.states] == states
    assert trace.meta["violates"] == doc["violates"]


@pytest.mark.parametrize(("case", "complete"), [("check holds, strict, cross-checked", True),
                                                 ("check reaches a state limit", False),
                                                 ("prove proves", False), ("fuzz proves nothing", False)])
def test_complete_means_an_explicit_search_covered_every_reachable_state(case, complete, tmp_path):
    doc = json.loads(invoke([*RUNS[case][0], "--format", "json"], tmp_path).stdout)
    assert doc["complete"] is complete
    assert (doc["stats"] is not None) == (doc["command"] == "check")
    assert (doc["visited"] is not None) == (doc["command"] == "fuzz")
