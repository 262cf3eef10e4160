"""Counterexample files and certificates are self-contained: they rebuild the system they
were written for in any directory, say when the model has changed, claim only what was
checked, and are written atomically."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.artefact import fingerprint, tool_version, write_atomic
from dmabuf_mc.checker.verdict import Exit
from tests.conftest import system

BUILTINS = Path(__file__).parent.parent / "model" / "configs"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_rule_override_is_recorded_so_replay_still_fails_elsewhere(tmp_path, monkeypatch):
    assert run("check", "--config", "heap-mmap", "--property", "cpu-reads-latest").exit_code == Exit.HOLDS
    monkeypatch.chdir(tmp_path)
    dumped = run("check", "--config", "heap-mmap", "--rule", "cpu-access=nothing", "--property", "cpu-reads-latest",
                 "--dump", "out")
    assert dumped.exit_code == Exit.VIOLATED, dumped.output
    (path,) = (tmp_path / "out").glob("*.json")
    doc = json.loads(path.read_text())
    assert doc["policy"]["rules"] == {"cpu-access": "nothing"}
    assert "cpu-access-bracketed" in doc["policy"]["obligations"]
    assert doc["config"]["name"] == "heap-mmap" and "[[importer]]" in doc["config"]["text"]
    assert doc["tool"] == f"dmabuf-mc {tool_version()}" and doc["model_fingerprint"].startswith("sha256:")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    r = run("replay", str(path))
    assert r.exit_code == Exit.VIOLATED, r.output
    assert r.output.strip().endswith(f"cpu-reads-latest is still violated, at step {doc['violated_at']}")
    assert "warning" not in r.output


def test_relative_policy_and_configuration_files_replay_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("mine").mkdir()
    Path("mine/noop.toml").write_text('name = "noop"\n[rules]\ncpu-access = "nothing"\n')
    Path("mine/cfg.toml").write_text(BUILTINS.joinpath("heap-mmap.toml").read_text())
    dumped = run("check", "--config", "mine/cfg.toml", "--policy", "mine/noop.toml", "--property",
                 "cpu-reads-latest", "--dump", "out")
    assert dumped.exit_code == Exit.VIOLATED, dumped.output
    (path,) = Path("out").resolve().glob("*.json")
    monkeypatch.chdir(tmp_path / "mine")  # neither relative path resolves from here
    shown = run("show", str(path))
    assert shown.exit_code == Exit.HOLDS and "-> violates cpu-reads-latest" in shown.output
    replayed = run("replay", str(path))
    assert replayed.exit_code == Exit.VIOLATED and "still violated" in replayed.output


def test_a_certificate_under_a_rule_override_certifies_valid_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    proved = run("prove", "--rule", "attach=rejects-noncoherent", "--property", "device-reads-latest",
                 "--certificates", "certs")
    assert proved.exit_code == Exit.HOLDS, proved.output
    (cert,) = Path("certs").resolve().glob("*.cert.json")
    assert cert.name.endswith(".pdr.cert.json")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    r = run("certify", str(cert))
    assert r.exit_code == Exit.HOLDS, r.output
    assert r.output.startswith(f"VALID {cert}: device-reads-latest holds in every reachable state of "
                               "seed/baseline[attach=rejects-noncoherent] (pdr)")


def test_certify_prints_the_invariant_it_checked_not_the_text_stored_beside_it(tmp_path):
    assert run("prove", "--config", "heap-bracketed", "--property", "no-lost-writes", "--certificates",
               str(tmp_path)).exit_code == Exit.HOLDS
    (cert,) = tmp_path.glob("*.cert.json")
    doc = json.loads(cert.read_text())
    honest = run("certify", str(cert)).output
    doc["invariant_text"] = "anything at all"
    cert.write_text(json.dumps(doc))
    r = run("certify", str(cert))
    assert r.exit_code == Exit.HOLDS and "anything at all" not in r.output
    assert r.output == honest and "memory_latest[0]" in r.output


def test_certify_warns_when_the_model_changed_and_rebuilds_from_the_recorded_text(tmp_path):
    assert run("prove", "--config", "heap-bracketed", "--property", "no-lost-writes", "--certificates",
               str(tmp_path)).exit_code == Exit.HOLDS
    (cert,) = tmp_path.glob("*.cert.json")
    doc = json.loads(cert.read_text())
    doc["model_fingerprint"] = "sha256:" + "0" * 64
    cert.write_text(json.dumps(doc))
    r = run("certify", str(cert))
    first, second = r.output.splitlines()[:2]
    assert "warning: the model of heap-bracketed/baseline has changed since this file was written" in first
    assert second.startswith("VALID")


def test_pdr_and_k_induction_certificates_do_not_overwrite_each_other(tmp_path):
    for engine in ("pdr", "kind"):
        r = run("prove", "--config", "seed", "--property", "dma-within-mapping", "--engine", engine, "--depth", "4",
                "--certificates", str(tmp_path))
        assert r.exit_code == Exit.HOLDS, r.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"seed-baseline-dma-within-mapping.{e}.cert.json" for e in ("kind", "pdr")]
    for name in names:
        assert run("certify", str(tmp_path / name)).exit_code == Exit.HOLDS


def test_the_fingerprint_follows_the_model_not_its_name():
    _, seed = system("seed")
    assert fingerprint(seed) == fingerprint(system("seed")[1])
    assert fingerprint(replace(seed, name="x")) == fingerprint(seed)
    assert fingerprint(seed) != fingerprint(system("seed-zeroed")[1])


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    write_atomic(path, "old")

    def fail(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_atomic(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_version_1_files_still_replay_by_name():
    corpus = sorted(Path(__file__).parent.parent.joinpath("counterexamples").glob("seed-*.json"))
    assert json.loads(corpus[0].read_text())["version"] == 1
    assert run("replay", str(corpus[0])).exit_code == Exit.VIOLATED


def test_version_1_certificates_still_certify_by_name(tmp_path):
    assert run("prove", "--config", "heap-bracketed", "--property", "no-lost-writes", "--certificates",
               str(tmp_path)).exit_code == Exit.HOLDS
    (cert,) = tmp_path.glob("*.cert.json")
    doc = json.loads(cert.read_text())
    for key in ("tool", "model_fingerprint"):
        del doc[key]
    doc.update(version=1, config="heap-bracketed", policy="baseline")
    cert.write_text(json.dumps(doc))
    r = run("certify", str(cert))
    assert r.exit_code == Exit.HOLDS and r.output.startswith("VALID"), r.output


DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_TOML = "v = " + "[" * 5000 + "]" * 5000 + "\n"


@pytest.mark.parametrize(("command", "needle"), [("replay", "not valid JSON (nested too deeply)"),
                                                 ("show", "not valid JSON (nested too deeply)"),
                                                 ("certify", "not a readable JSON certificate (nested too deeply)")])
def test_deeply_nested_json_is_bad_input_naming_the_file(tmp_path, command, needle):
    path = tmp_path / "deep.json"
    path.write_text(DEEP_JSON)
    r = run(command, str(path))
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert f"{path}: {needle}" in r.output and "internal error" not in r.output


def test_deeply_nested_toml_is_bad_input_naming_the_file(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text(DEEP_TOML)
    r = run("check", "--config", str(path))
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert f"{path}: (syntax): expected valid TOML (nested too deeply)" in r.output


def test_deeply_nested_toml_inside_an_artefact_is_bad_input_naming_the_field(tmp_path):
    assert run("check", "--property", "device-reads-latest", "--dump", str(tmp_path)).exit_code == Exit.VIOLATED
    (path,) = tmp_path.glob("*.json")
    doc = json.loads(path.read_text())
    doc["config"]["text"] = DEEP_TOML
    path.write_text(json.dumps(doc))
    r = run("replay", str(path))
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert f"{path}: config.text: expected a valid configuration" in r.output and "nested too deeply" in r.output


@pytest.fixture(scope="module")
def kind_certificate(tmp_path_factory) -> dict:
    directory = tmp_path_factory.mktemp("kind")
    r = run("prove", "--config", "seed", "--property", "dma-within-mapping", "--engine", "kind", "--depth", "4",
            "--certificates", str(directory))
    assert r.exit_code == Exit.HOLDS, r.output
    (cert,) = directory.glob("*.kind.cert.json")
    return json.loads(cert.read_text())


@pytest.mark.parametrize("k", [-3, 0, 10**12, 65])
def test_a_k_induction_certificate_with_k_out_of_range_is_bad_input(tmp_path, kind_certificate, k):
    path = tmp_path / "c.kind.cert.json"
    path.write_text(json.dumps({**kind_certificate, "k": k}))
    r = run("certify", str(path))
    assert r.exit_code == Exit.BAD_INPUT, r.output
    assert f"{path}: k: expected an integer from 1 to 64 for engine kind, got {k}" in r.output


def test_a_k_induction_certificate_at_the_largest_k_is_read(tmp_path, kind_certificate):
    from dmabuf_mc.checker.certificate import MAX_K, load
    path = tmp_path / "c.kind.cert.json"
    path.write_text(json.dumps({**kind_certificate, "k": MAX_K}))
    assert load(str(path)).k == MAX_K


def test_version_true_is_not_version_1(tmp_path, kind_certificate):
    cert = tmp_path / "c.kind.cert.json"
    cert.write_text(json.dumps({**kind_certificate, "version": True}))
    r = run("certify", str(cert))
    assert r.exit_code == Exit.BAD_INPUT and "expected schema dmabuf-mc.certificate version 1 or 2" in r.output
    assert run("check", "--property", "device-reads-latest", "--dump", str(tmp_path / "cex")).exit_code == 1
    (cex,) = (tmp_path / "cex").glob("*.json")
    cex.write_text(json.dumps({**json.loads(cex.read_text()), "version": True}))
    for command in ("replay", "show"):
        r = run(command, str(cex))
        assert r.exit_code == Exit.BAD_INPUT and "schema version True is not supported" in r.output, r.output


def test_a_field_error_about_a_deeply_nested_value_still_names_the_field():
    from dmabuf_mc.checker.artefact import FieldError, field

    deep: list = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(FieldError, match=r"^steps: expected a string, got a list nested too deeply to show$"):
        field({"steps": deep}, "steps", str)
