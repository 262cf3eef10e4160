"""The symbolic engines agree with the explicit one, and certificates are really checked."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.certificate import check_invariant, invariant_to_smt2, recheck
from dmabuf_mc.checker.certificate import load as load_certificate
from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.engines.bmc import bmc
from dmabuf_mc.checker.engines.prove import kinduction, pdr
from dmabuf_mc.checker.symbolic import Encoding
from dmabuf_mc.checker.trace import replay
from dmabuf_mc.checker.verdict import Verdict
from dmabuf_mc.model.config import builtin_names
from tests.checker.test_explicit import peterson
from tests.conftest import system

SWEEP = [n for n in builtin_names() if n != "largest"]


@pytest.mark.parametrize("name", SWEEP)
def test_pdr_and_bmc_agree_with_explicit_search(name):
    _, ts = system(name)
    explicit = {r.name: r for r in check(ts).results}
    for prop, r in explicit.items():
        proof = pdr(ts, prop, 30)
        if r.verdict is Verdict.REFUTED:
            assert proof.trace is not None, (name, prop)
            assert len(proof.trace) == len(r.counterexample), (name, prop)  # PDR's trace comes from BMC
            assert replay(proof.trace) == len(r.counterexample)
            assert bmc(ts, prop, len(r.counterexample) - 1).trace is None  # nothing shorter
        else:
            assert r.verdict is Verdict.HOLDS
            assert proof.proved, (name, prop, proof.stopped)


@pytest.mark.parametrize("name", ["seed", "heap-mmap", "x86-no-snoop", "coherent-importer"])
def test_k_induction_never_contradicts_explicit_search(name):
    _, ts = system(name)
    for r in check(ts).results:
        proof = kinduction(ts, r.name, 6)
        if proof.proved:
            assert r.verdict is Verdict.HOLDS, r.name
        if proof.trace is not None:
            assert r.verdict is Verdict.REFUTED and len(proof.trace) == len(r.counterexample), r.name


def test_engines_on_classic_systems():
    mutex = peterson(broken=False)
    assert pdr(mutex, "mutex", 20).proved
    bad = pdr(peterson(broken=True), "mutex", 20)
    assert bad.trace is not None and len(bad.trace) == 6
    assert kinduction(mutex, "mutex", 12).proved or pdr(mutex, "mutex", 20).invariant is not None
    # PDR's invariant re-checks on its own; k-induction, which stalls here, finds no trace.
    proof = pdr(mutex, "mutex", 20)
    assert check_invariant(Encoding(mutex, frozenset()), "mutex", invariant_to_smt2(proof.invariant)) == []
    assert kinduction(mutex, "mutex", 6).trace is None


def test_seeded_non_inductive_invariant_is_rejected():
    _, ts = system("heap-bracketed")
    enc = Encoding(ts, frozenset())
    # The property itself is not inductive here (it needs the cache/mapping facts PDR finds).
    not_inductive = "(declare-fun device_read () Int)\n(assert (< device_read 2))"
    failures = check_invariant(enc, "device-reads-latest", not_inductive)
    assert any("not inductive" in f for f in failures)
    # And one that is inductive but too weak to imply the property.
    assert check_invariant(enc, "device-reads-latest", "(assert true)") == ["invariant => device-reads-latest fails"]


def test_prove_writes_a_certificate_that_certify_accepts_and_a_tampered_one_it_rejects(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["prove", "--config", "heap-bracketed", "--property", "device-reads-latest",
                             "--certificates", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "PROVED   device-reads-latest" in r.output
    (cert_file,) = tmp_path.glob("*.cert.json")
    _, ts = system("heap-bracketed")
    assert recheck(load_certificate(str(cert_file)), ts) == []
    ok = runner.invoke(main, ["certify", str(cert_file)])
    assert ok.exit_code == 0 and ok.output.startswith("VALID")
    doc = json.loads(cert_file.read_text())
    doc["invariant_smt2"] = "(declare-fun device_read () Int)\n(assert (< device_read 2))"
    cert_file.write_text(json.dumps(doc))
    bad = runner.invoke(main, ["certify", str(cert_file)])
    assert bad.exit_code == 1 and "not inductive" in bad.output


def test_prove_refutes_with_the_explicit_engines_trace_length():
    r = CliRunner().invoke(main, ["prove", "--property", "device-reads-latest"])
    assert r.exit_code == 1
    assert "REFUTED  device-reads-latest  counterexample in 5 steps, replayed" in r.output


def test_bmc_bound_is_unknown_exit_3(tmp_path):
    r = CliRunner().invoke(main, ["prove", "--config", "heap-bracketed", "--engine", "bmc", "--depth", "3",
                                  "--property", "device-reads-latest", "--certificates", str(tmp_path)])
    assert r.exit_code == 3
    assert "UNKNOWN  device-reads-latest  depth bound 3 reached" in r.output


def test_bad_prove_and_certify_input_exits_2(tmp_path):
    runner = CliRunner()
    garbage = tmp_path / "x.cert.json"
    garbage.write_text("{not json")
    wrong_schema = tmp_path / "y.cert.json"
    wrong_schema.write_text(json.dumps({"schema": "other", "version": 1}))
    for args, needle in [
        (["prove", "--engine", "magic"], "Invalid value for '--engine'"),
        (["prove", "--depth", "-1"], "Invalid value for '--depth'"),
        (["certify", str(tmp_path / "missing.json")], "not a readable JSON certificate"),
        (["certify", str(garbage)], "not a readable JSON certificate"),
        (["certify", str(wrong_schema)], "expected schema dmabuf-mc.certificate"),
    ]:
        r = runner.invoke(main, args)
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output, (args, r.output)
