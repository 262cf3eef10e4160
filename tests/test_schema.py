"""Counterexample files, fresh and kept, match counterexamples/schema.json, and the schema
asks at least what the reader requires."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from dmabuf_mc.app.cli import main

DIRECTORY = Path(__file__).parent.parent / "counterexamples"
SCHEMA = json.loads((DIRECTORY / "schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
CORPUS = sorted(p for p in DIRECTORY.glob("*.json") if p.name != "schema.json")


def errors(doc: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> list[dict]:
    """Counterexamples as check, prove and fuzz --dump write them now."""
    directory = tmp_path_factory.mktemp("dumped")
    runner = CliRunner()
    for args in (["check", "--property", "device-reads-latest"],
                 ["check", "--config", "heap-mmap", "--rule", "cpu-access=nothing", "--property", "cpu-reads-latest"],
                 ["prove", "--property", "device-reads-latest", "--certificates", str(directory / "certs")],
                 ["fuzz", "--property", "device-reads-latest", "--examples", "20", "--seed", "3"]):
        r = runner.invoke(main, [*args, "--dump", str(directory / args[0])])
        assert r.exit_code == 1, r.output
    docs = [json.loads(p.read_text()) for p in sorted(directory.glob("*/*.json"))]
    assert len(docs) == 4
    return docs


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)


def test_freshly_dumped_counterexamples_match_the_schema(fresh):
    for doc in fresh:
        assert errors(doc) == [], doc["violates"]


def test_show_json_matches_the_schema():
    for path in CORPUS:
        r = CliRunner().invoke(main, ["show", str(path), "--format", "json"])
        assert r.exit_code == 0, r.output
        assert errors(json.loads(r.stdout)) == [], path.name


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_every_kept_counterexample_matches_the_schema(path):
    assert errors(json.loads(path.read_text())) == []


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: d.pop("model_fingerprint"), "model_fingerprint"),
        (lambda d: d["initial"].pop("state"), "state"),
        (lambda d: d.update(version=True), "version"),
        (lambda d: d.update(violated_at="5"), "violated_at"),
        (lambda d: d["steps"][0].update(params="display"), "params"),
        (lambda d: d["steps"][0]["state"].update({"cache[0]": 1}), "cache[0]"),
    ],
)
def test_the_schema_refuses_what_the_reader_refuses(fresh, edit, where):
    doc = json.loads(json.dumps(fresh[0]))
    edit(doc)
    found = errors(doc)
    assert found and any(where in e for e in found), found
