"""Every command that prints JSON prints a document its published schema describes (the
report, batch, replay, certify and list schemas under schemas/, the counterexample schema
for `show`), on stdout alone, and the exit code the document states is the one the
command exits with."""

from __future__ import annotations

import inspect
import json
from collections import Counter
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator

import dmabuf_mc.app.judge
from dmabuf_mc.app.batch import MAX_STATES
from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.verdict import Exit

ROOT = Path(__file__).parent.parent
SCHEMA_FILES = [*sorted((ROOT / "schemas").glob("*.schema.json")), ROOT / "counterexamples" / "schema.json"]
SCHEMAS = {s["properties"]["schema"]["const"]: s for s in (json.loads(p.read_text()) for p in SCHEMA_FILES)}
NO_JSON = {"export"}
"""Commands whose formats are other tools' languages (Promela, TLA+, DOT, GraphML)."""

SEED_CEX = "check --property device-reads-latest"
REFUSED_BY_P1 = "sweep:drm-prime/driver-uncached/coherent/low/camera"
"""A configuration the baseline serves safely and P1 refuses (tests/test_policies.py)."""
ONE = ("--workers", "1")
CASES = {
    "check": (["check", "--property", "device-reads-latest"], "dmabuf-mc.report"),
    "prove": (["prove", "--config", "heap-bracketed", "--property", "device-reads-latest"], "dmabuf-mc.report"),
    "fuzz": (["fuzz", "--property", "device-reads-latest", "--examples", "20", "--seed", "3"], "dmabuf-mc.report"),
    "show": (["show", "{cex}"], "dmabuf-mc.counterexample"),
    "replay": (["replay", "{cex}"], "dmabuf-mc.replay"),
    "certify valid": (["certify", "{cert}"], "dmabuf-mc.certify"),
    "certify rejected": (["certify", "{rejected}"], "dmabuf-mc.certify"),
    "list": (["list"], "dmabuf-mc.list"),
    "list one section": (["list", "devices"], "dmabuf-mc.list"),
    "sweep": (["sweep", "--config", "seed", "--config", "heap-mmap", *ONE], "dmabuf-mc.batch"),
    "sweep stopped at a state limit": (["sweep", "--config", "seed", "--max-states", "5", *ONE], "dmabuf-mc.batch"),
    "sweep --strict": (["sweep", "--config", "heap-bracketed-to-device", "--strict", *ONE], "dmabuf-mc.batch"),
    "compare --cross-check": (["compare", "baseline", "{proposal}", "--config", "seed", "--cross-check", *ONE],
                              "dmabuf-mc.batch"),
    "compare": (["compare", "baseline", "{proposal}", "--config", "seed", "--config", REFUSED_BY_P1, *ONE],
                "dmabuf-mc.batch"),
    "explain": (["explain", "--config", "heap-mmap", *ONE], "dmabuf-mc.batch"),
    "explain stopped at a state limit": (["explain", "--config", "heap-mmap", "--max-states", "20", *ONE],
                                         "dmabuf-mc.batch"),
    "allocate": (["allocate", "camera", "display", *ONE], "dmabuf-mc.batch"),
    "allocate stopped at a state limit": (["allocate", "display", "--max-states", "20", *ONE], "dmabuf-mc.batch"),
}


def runner() -> CliRunner:
    """A runner whose result.stdout is stdout alone (click before 8.2 mixes stderr in unless told)."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()


def invoke(*args: str) -> Result:
    return runner().invoke(main, list(args))


def errors(doc: dict) -> list[str]:
    """What the document's schema finds wrong with it, each as PATH: MESSAGE."""
    validator = Draft202012Validator(SCHEMAS[doc["schema"]])
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def wrong(doc: dict) -> set[str]:
    """The paths of the fields the document's schema refuses."""
    return {e.partition(": ")[0] for e in errors(doc)}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """A counterexample as `check --dump` writes it, a certificate as `prove` writes it, that
    certificate claiming a property its invariant does not imply, and a proposal from
    `list --format json`."""
    tmp = tmp_path_factory.mktemp("artefacts")
    assert invoke(*SEED_CEX.split(), "--dump", str(tmp / "cex")).exit_code == Exit.VIOLATED
    assert invoke(*CASES["prove"][0], "--certificates", str(tmp / "certs")).exit_code == Exit.HOLDS
    (cex,) = (tmp / "cex").glob("*.json")
    (cert,) = (tmp / "certs").glob("*.cert.json")
    doc = json.loads(cert.read_text())
    rejected = tmp / "rejected.cert.json"
    rejected.write_text(json.dumps({**doc, "property": "cpu-reads-latest"}))
    policies = json.loads(invoke("list", "policies", "--format", "json").stdout)["sections"]["policies"]
    assert "p1-coherent-flag" in policies
    return {"cex": str(cex), "cert": str(cert), "rejected": str(rejected), "proposal": "p1-coherent-flag",
            "certs": str(tmp / "certs")}


def json_run(case: str, files: dict[str, str]) -> tuple[Result, dict]:
    args, _ = CASES[case]
    words = [a.format(**files) for a in args]
    extra = ["--certificates", files["certs"]] if words[0] == "prove" else []
    r = invoke(*words, *extra, "--format", "json")
    assert r.exit_code in (Exit.HOLDS, Exit.VIOLATED, Exit.UNKNOWN), r.output
    return r, json.loads(r.stdout)


def test_every_schema_is_a_valid_draft_2020_12_schema():
    assert len(SCHEMAS) == len(SCHEMA_FILES) >= 6
    for schema in SCHEMAS.values():
        Draft202012Validator.check_schema(schema)


def test_every_command_but_export_has_a_json_format_and_a_case_here():
    def formats(command: click.Command) -> list[str]:
        option = next((p for p in command.params if p.name == "fmt"), None)
        return list(option.type.choices) if option is not None and isinstance(option.type, click.Choice) else []

    with_json = {name for name, command in main.commands.items() if "json" in formats(command)}
    assert with_json == set(main.commands) - NO_JSON
    assert with_json == {args[0] for args, _ in CASES.values()}


@pytest.mark.parametrize("case", list(CASES))
def test_json_matches_its_schema_and_states_the_exit_code(case, files):
    r, doc = json_run(case, files)
    assert doc["schema"] == CASES[case][1]
    assert errors(doc) == []
    if doc["schema"] == "dmabuf-mc.counterexample":  # a file's format: `show` exits 0 whatever it renders
        assert r.exit_code == Exit.HOLDS
    else:
        assert doc["command"] == CASES[case][0][0] and doc["exit_code"] == r.exit_code


@pytest.mark.parametrize("case", [c for c, (_, schema) in CASES.items() if schema == "dmabuf-mc.batch"])
def test_a_batch_document_says_what_its_text_says(case, files):
    """The same answer in both formats: the exit code, and each configuration's verdicts."""
    r, doc = json_run(case, files)
    args = [a.format(**files) for a in CASES[case][0]]
    text = invoke(*args)
    assert text.exit_code == r.exit_code
    rows = doc["candidates"] if doc["command"] == "allocate" else doc["rows"]
    verdicts = Counter(c["verdict"] for row in rows for c in row.get("cells", {}).values())
    stopped = "--max-states" in args
    assert (r.exit_code == Exit.UNKNOWN) == stopped == ("cell(s) undecided" in text.stdout)
    assert bool(verdicts["UNKNOWN"]) == stopped or doc["command"] == "compare"
    if doc["command"] == "sweep":
        assert {p: Counter(row["cells"][p]["verdict"] for row in rows) for p in doc["properties"]} == {
            p: +Counter(counts) for p, counts in doc["counts"].items()}


def test_a_sweep_whose_checks_all_stopped_is_unknown_not_a_pass(files):
    """Cells left UNKNOWN at --max-states and nothing violated: exit 3, never 0."""
    r, doc = json_run("sweep stopped at a state limit", files)
    cells = [c for row in doc["rows"] for c in row["cells"].values()]
    assert cells and all(c["verdict"] == "UNKNOWN" for c in cells)
    assert r.exit_code == doc["exit_code"] == Exit.UNKNOWN


def test_compare_states_the_category_and_how_each_cell_changed(files):
    r, doc = json_run("compare", files)
    changes = {row["config"]: row["changes"] for row in doc["rows"]}
    assert changes[REFUSED_BY_P1]["no-refusal"]["category"] == "refused" and r.exit_code == Exit.VIOLATED
    fixed = [c for cs in changes.values() for c in cs.values() if c["category"] == "fixed"]
    assert fixed and all(c["how"] and c["base"]["trace"]["calls"] for c in fixed)


def test_a_refusal_of_a_configuration_the_base_left_undecided_is_no_regression_yet(files):
    # P1 refuses this configuration at attach, within 10 states; the baseline's check stops
    # there with nothing found: whether the baseline served it safely is unknown (exit 3).
    # With room to finish, the baseline serves it safely and the refusal is a regression.
    for limit, code in (("10", Exit.UNKNOWN), (str(MAX_STATES), Exit.VIOLATED)):
        r = invoke("compare", "baseline", files["proposal"], "--config", REFUSED_BY_P1, "--max-states", limit,
                   "--format", "json", *ONE)
        doc = json.loads(r.stdout)
        assert errors(doc) == [] and doc["rows"][0]["changes"]["no-refusal"]["category"] == "refused"
        assert r.exit_code == doc["exit_code"] == code


def test_explain_and_allocate_state_findings_and_safe_candidates(files):
    _, explained = json_run("explain", files)
    necessary = {f["name"]: f for f in explained["findings"] if f["necessary"]}
    assert "cpu-access-bracketed" in necessary
    assert "cpu_read" in necessary["cpu-access-bracketed"]["evidence"]["trace"]["text"]
    _, allocated = json_run("allocate", files)
    assert allocated["safe"] == [c["label"] for c in allocated["candidates"] if c["safe"]] != []


def test_certify_whose_solver_gives_up_states_unknown(files, solver_rlimit):
    solver_rlimit(1)
    r, doc = json_run("certify valid", files)
    assert errors(doc) == [] and doc["verdict"] == "UNKNOWN" and doc["reason"]
    assert doc["exit_code"] == r.exit_code == Exit.UNKNOWN


def test_an_interrupted_batch_is_unknown_with_the_note_on_stderr(monkeypatch, files):
    """Ctrl-C after the first check: the document covers it, says it is incomplete, exit 3."""
    real = dmabuf_mc.app.judge.run

    def first_only(jobs, *args, **kw):
        done, _ = real(jobs[:1], *args, **kw)
        return done, False

    monkeypatch.setattr(dmabuf_mc.app.judge, "run", first_only)
    r, doc = json_run("sweep", files)
    assert errors(doc) == [] and len(doc["rows"]) == 1 and doc["complete"] is False
    assert doc["exit_code"] == r.exit_code == Exit.UNKNOWN
    assert "interrupted" in r.stderr and "interrupted" not in r.stdout


def test_the_batch_schema_refuses_a_document_that_breaks_it(files):
    _, doc = json_run("sweep", files)
    k, prop = next((k, p) for k, row in enumerate(doc["rows"]) for p, c in row["cells"].items()
                   if c["verdict"] == "REFUTED")
    doc["rows"][k]["cells"][prop]["trace"] = None  # a violation without its trace
    assert f"rows/{k}/cells/{prop}/trace" in wrong(doc)
    _, doc = json_run("sweep", files)
    doc["complete"] = False  # an interrupted batch that claims an answer
    assert wrong(doc) == {"exit_code"}
    _, doc = json_run("compare", files)
    doc["policy"] = "baseline"  # a field of another command
    assert any("'policy' was unexpected" in e for e in errors(doc))
