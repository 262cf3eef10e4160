"""Malformed configurations get an error naming the file, the field and what was expected."""

from __future__ import annotations

import pytest

from dmabuf_mc.model.config import ConfigError, builtin_names, load, parse

GOOD = """
[exporter]
kind = "heap"
[[importer]]
name = "isp"
coherent = false
"""


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        parse(text, "mine.toml")
    assert str(e.value).startswith("mine.toml:")
    return e.value


def test_good_minimal_file_parses_with_defaults():
    cfg = parse(GOOD, "mine.toml")
    assert cfg.name == "mine"
    assert cfg.buffer.source.name == "system-heap" and cfg.buffer.lines == 1
    assert cfg.importers[0].snoops is False and cfg.importers[0].map_directions == ("DMA_TO_DEVICE",)


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("[exporter\n", "(syntax)", "valid TOML"),
        (GOOD.replace('kind = "heap"', 'kind = "ion"'), "exporter.kind", "one of heap, drm-prime"),
        (GOOD.replace("coherent = false", 'coherent = "no"'), "importer[0].coherent", "a bool"),
        (GOOD.replace("coherent = false", "coherent = false\ndma_mask = 48"), "importer[0].dma_mask", "32 or 64"),
        (GOOD + "[buffer]\nlines = 5\n", "buffer.lines", "1 to 4 cache lines, got 5"),
        (GOOD + "[buffer]\nsource = \"memfd\"\n", "buffer.source", "one of system-heap, cma-heap"),
        (GOOD + "[buffer]\ncolour = 1\n", "buffer.colour", "no such field"),
        (GOOD.replace('name = "isp"', 'name = "ISP 1"'), "importer[0].name", "short lower-case name"),
        (GOOD.replace('name = "isp"', 'name = "observed"'), "importer[0].name", "not one of the model's own"),
        (GOOD.replace('name = "isp"', 'name = "dma_buf"'), "importer[0].name", "not one of the model's own"),
        (GOOD + '[[importer]]\nname = "isp"\ncoherent = true\n', "importer.name", "distinct names"),
        ('[exporter]\nkind = "heap"\n', "importer", "1 to 6 [[importer]] tables"),
        (GOOD + "[clients]\nmmap = true\n", "clients.mmap", "a str"),
        (GOOD + '[clients]\nmmap = "often"\n', "clients.mmap", "one of none, read, write, read-write"),
        (GOOD.replace("coherent = false", 'coherent = false\nmap_directions = ["DMA_FROM_DEVICE"]'),
         "importer[0].map_directions[0]", "one of DMA_TO_DEVICE, DMA_BIDIRECTIONAL"),
        (GOOD.replace("coherent = false", "coherent = false\nreads = false"), "importer[0].reads",
         "reads, writes or both"),
        (GOOD.replace('kind = "heap"', 'kind = "heap"\nbrackets_own_cpu_access = true'),
         "exporter.brackets_own_cpu_access", "exporter.cpu_writes = true"),
        ('[exporter]\nkind = "drm-prime"\n[buffer]\nsource = "dma-alloc-wc"\ncpu_zeroed = true\n'
         '[[importer]]\nname = "a"\ncoherent = false\n', "buffer.cpu_zeroed", "flushed at allocation"),
        ("importer = 3\n[exporter]\nkind = \"heap\"\n", "importer", "1 to 6"),
    ],
)
def test_bad_field_is_named_with_what_was_expected(text, field, expected):
    e = error(text)
    assert e.field == field
    assert expected in e.expected


def test_unknown_name_or_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="one of: "):
        load(str(tmp_path / "nope.toml"))


def test_binary_file_is_an_error_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="readable UTF-8"):
        load(str(bad))


@pytest.mark.parametrize("name", builtin_names())
def test_builtins_parse_and_describe_themselves(name):
    assert load(name).description
