"""Every file reader, fed thousands of generated and mutated files, returns a parsed value
or its own error naming the file and the field: never another exception, never a hang.

Each reader is driven from a valid file of its kind, mutated three ways: a field replaced,
removed or duplicated (structure-aware), bytes of the text cut, doubled or replaced (raw),
and files made from nothing. Work is bounded by example counts, never by time. The CLI
turns each reader's error into one line and exit 2 (tests/test_exit_codes.py).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmabuf_mc.checker.artefact import fingerprint
from dmabuf_mc.checker.certificate import Certificate, CertificateError, claim, save
from dmabuf_mc.checker.certificate import load as load_certificate
from dmabuf_mc.checker.cexfile import CounterexampleError, read, to_trace
from dmabuf_mc.model.config import ConfigError, load, parse
from dmabuf_mc.model.policy import BASELINE
from dmabuf_mc.model.policyfile import parse_policy
from dmabuf_mc.model.provenance import from_record, resolve
from tests.conftest import system

ROOT = Path(__file__).parent.parent
EXAMPLES = 600
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

# JSON values of every kind, nested a little; plus the integers and strings readers judge.
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                    st.text(max_size=20), st.sampled_from(["", "kind", "pdr", "seed", "baseline", "DMA_TO_DEVICE"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


@st.composite
def mutated_json(draw: st.DrawFn, doc: Any) -> str:
    """A document with one to three values replaced, removed or a list grown, as text."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(doc)))
        if not path:
            doc = draw(json_values)
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        how = draw(st.sampled_from(["replace", "remove", "grow"]))
        if how == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "grow" and isinstance(parent[path[-1]], list):
            parent[path[-1]] = parent[path[-1]] * draw(st.integers(0, 3))
        else:
            parent[path[-1]] = draw(json_values)
    return json.dumps(doc)


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """The text with up to three slices cut, doubled or replaced by random characters."""
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        how = draw(st.sampled_from(["cut", "double", "replace"]))
        middle = {"cut": "", "double": text[i:j] * 2, "replace": draw(st.text(max_size=12))}[how]
        text = text[:i] + middle + text[j:]
    return text


def files(valid: str, as_json: bool) -> st.SearchStrategy[str]:
    """Files derived from a valid one: mutated structure, mutated bytes, or made from nothing."""
    made = st.builds(json.dumps, json_values) if as_json else st.text(max_size=200)
    ways = [mutated_text(valid), made]
    if as_json:
        ways.insert(0, mutated_json(json.loads(valid)))
    return st.one_of(*ways)


def either(read_it: Callable[[], object], error: type[Exception], file: str) -> None:
    """Whatever the file holds, the reader parses it or raises `error` naming the file."""
    try:
        read_it()
    except error as e:
        assert file in str(e), e


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzzed")


# --- configuration TOML (model/config.py) ---

CONFIG_TOML = (ROOT / "model" / "configs" / "largest.toml").read_text()
TOML_VALUES = st.sampled_from(['[{}]', '[[1]]', '["p1-clear-for-uncached"]', '"bracketed"',
                               'true', '0', '-1', '99999999999999999999', '3', '"x"', '""', '[]', '["DMA_TO_DEVICE"]',
                               '[1, "a"]', '{}', '{ a = 1 }', '1979-05-27', '1.5', 'inf', '"heap"', '"6.1"', '"v99"'])

CONFIG_KEYS = ("name", "coherent", "kind", "version", "lines", "map_directions", "junk", "dma_mask", "source", "mmap",
               "arch", "prep", "reads", "writes")
POLICY_KEYS = ("name", "base", "doc", "drop", "add", "attach", "exporter-cpu-access", "cpu-access", "junk")


@st.composite
def toml_lines(draw: st.DrawFn, text: str, keys: tuple[str, ...]) -> str:
    """The configuration with values replaced, lines dropped or tables and keys added."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, max(0, len(lines) - 1)))
        how = draw(st.sampled_from(["value", "drop", "table", "key"]))
        if how == "value" and "=" in lines[n]:
            lines[n] = lines[n].split("=")[0] + "= " + draw(TOML_VALUES)
        elif how == "drop" and lines:
            del lines[n]
        elif how == "table":
            lines.insert(n, draw(st.sampled_from(["[[importer]]", "[kernel]", "[buffer]", "[exporter]", "[x]",
                                                  "[[exporter]]", "importer = 1", "[rules]", "[obligations]",
                                                  "[[rules]]", "rules = 1"])))
        else:
            key = draw(st.sampled_from(keys))
            lines.insert(n, f"{key} = {draw(TOML_VALUES)}")
    return "\n".join(lines)


def toml_value(value: Any) -> str:
    """A value as TOML writes it inline (TOML has no null: an empty string stands for it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps("" if value is None else value)


def toml_text(doc: Any) -> str:
    """A document as TOML: scalars first, then each table and array of tables."""
    if not isinstance(doc, dict):
        return f"x = {toml_value(doc)}"
    out = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in doc.items()
           if not isinstance(v, dict) and not (isinstance(v, list) and v and all(isinstance(t, dict) for t in v))]
    for k, v in doc.items():
        if isinstance(v, dict):
            out += [f"[{json.dumps(k)}]", *(f"{json.dumps(kk)} = {toml_value(vv)}" for kk, vv in v.items())]
        elif isinstance(v, list) and v and all(isinstance(t, dict) for t in v):
            for t in v:
                out += [f"[[{json.dumps(k)}]]", *(f"{json.dumps(kk)} = {toml_value(vv)}" for kk, vv in t.items())]
    return "\n".join(out)


def toml_files(valid: str, keys: tuple[str, ...]) -> st.SearchStrategy[str]:
    """TOML derived from a valid file: its tables with values replaced or removed, its lines
    edited, its bytes mutated, or text made from nothing."""
    structured = mutated_json(tomllib.loads(valid)).map(lambda text: toml_text(json.loads(text)))
    return st.one_of(structured, toml_lines(valid, keys), files(valid, as_json=False))


@FUZZ
@given(toml_files(CONFIG_TOML, CONFIG_KEYS))
def test_configuration_reader_never_crashes(text: str) -> None:
    def read_it() -> None:
        cfg = parse(text, "fuzzed.toml")
        system(cfg)  # what it parsed builds a model

    either(read_it, ConfigError, "fuzzed.toml")


def test_configuration_reader_refuses_a_huge_file_before_parsing_it(scratch: Path) -> None:
    huge = scratch / "huge.toml"
    huge.write_text(CONFIG_TOML + "\n# padding\n" * 200_000)
    with pytest.raises(ConfigError, match=r"huge.toml: \(file\): expected a file of at most"):
        load(str(huge))


def test_configuration_reader_refuses_deep_nesting() -> None:
    with pytest.raises(ConfigError, match=r"fuzzed\.toml: \(syntax\): expected valid TOML \(nested too deeply\)"):
        parse("x = " + "[" * 100_000 + "]" * 100_000, "fuzzed.toml")


# --- policy TOML (model/policyfile.py) ---

POLICY_TOML = """name = "p1-plus"
base = "p1-clear-for-uncached"
doc = "P1, and exporters bracket their own CPU writes"
[rules]
exporter-cpu-access = "bracketed"
[obligations]
drop = ["no-device-work-in-cpu-bracket"]
add = ["cpu-access-bracketed"]
"""


@FUZZ
@given(toml_files(POLICY_TOML, POLICY_KEYS))
def test_policy_reader_never_crashes(text: str) -> None:
    def read_it() -> None:
        policy = parse_policy(text, "fuzzed.toml")
        system("seed", policy)

    either(read_it, ConfigError, "fuzzed.toml")


# --- counterexample JSON (checker/cexfile.py) ---

CEX = sorted(p for p in (ROOT / "counterexamples").glob("*.json") if p.name != "schema.json")
CEX_TEXT = CEX[-1].read_text()  # seed: the system below


@pytest.fixture(scope="module")
def seed_system():
    return system("seed")[1]


@FUZZ
@given(text=files(CEX_TEXT, as_json=True))
def test_counterexample_reader_never_crashes(text: str, scratch: Path, seed_system) -> None:
    path = scratch / "fuzzed.json"
    path.write_text(text)

    def read_it() -> None:
        rec = read(str(path))
        try:
            from_record(rec.origin, str(path))
        except ConfigError as e:
            raise CounterexampleError(str(path), str(e)) from None
        to_trace(rec, seed_system)

    either(read_it, CounterexampleError, str(path))


# --- certificate JSON (checker/certificate.py) ---

@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A PDR and a k-induction certificate as prove writes them (whether they check does
    not matter to the reader: `certify` re-checks them)."""
    directory = tmp_path_factory.mktemp("certs")
    prov = resolve("heap-bracketed", BASELINE)
    ts = prov.system()[1]
    texts = {}
    for engine, k, invariant in (("pdr", 0, "(declare-fun device_read () Int)\n(assert (< device_read 2))"),
                                 ("kind", 3, "")):
        cert = Certificate(ts.name, prov.record(), (), "device-reads-latest", engine, k, invariant, fingerprint(ts))
        texts[engine] = save(cert, ts, directory).read_text()
    return texts


def test_both_certificates_are_there(certificates: dict[str, str]) -> None:
    assert set(certificates) == {"pdr", "kind"}


@pytest.mark.parametrize("engine", ["pdr", "kind"])
def test_certificate_reader_never_crashes(engine: str, certificates: dict[str, str], scratch: Path) -> None:
    ts = system("heap-bracketed")[1]
    path = scratch / f"fuzzed-{engine}.cert.json"

    @FUZZ
    @given(text=files(certificates[engine], as_json=True))
    def fuzz(text: str) -> None:
        path.write_text(text)

        def read_it() -> None:
            cert = load_certificate(str(path))
            try:
                claim(cert, ts)
            except CertificateError as e:  # as certify says it: the file first
                raise CertificateError(f"{path}: {e}") from None

        either(read_it, CertificateError, str(path))

    fuzz()


def test_json_readers_refuse_a_huge_file_before_parsing_it(scratch: Path) -> None:
    huge = scratch / "huge.json"
    huge.write_text(" " * (65 * 2**20) + "{}")
    with pytest.raises(CounterexampleError, match=r"huge.json: cannot be read.*at most"):
        read(str(huge))
    with pytest.raises(CertificateError, match=r"huge.json: .*at most"):
        load_certificate(str(huge))



@pytest.mark.parametrize(("invariant", "message"), [
    ("(assert " + "(not " * 1000 + "true" + ")" * 1001, "invariant_smt2: expected parentheses nested at most"),
    ("(assert (", "invariant_smt2: expected SMT-LIB assertions"),
])
def test_certificate_reader_refuses_an_invariant_before_z3_reads_it(invariant, message, certificates, scratch):
    path = scratch / "bad.cert.json"
    path.write_text(json.dumps({**json.loads(certificates["pdr"]), "invariant_smt2": invariant}))
    with pytest.raises(CertificateError, match=re.escape(f"{path}: {message}")):
        load_certificate(str(path))


def test_claim_of_an_invariant_that_shares_subterms_does_not_write_out_the_tree(certificates, scratch):
    """Each let doubles the formula written out: 200 of them would never finish."""
    lets = "".join(f"(let ((a{i + 1} (and a{i} a{i}))) " for i in range(150))
    text = f"(declare-fun device_read () Int)\n(assert (let ((a0 (< device_read 2))) {lets}a150{')' * 150}))"
    path = scratch / "shared.cert.json"
    path.write_text(json.dumps({**json.loads(certificates["pdr"]), "invariant_smt2": text}))
    assert "not shown" in claim(load_certificate(str(path)), system("heap-bracketed")[1])
