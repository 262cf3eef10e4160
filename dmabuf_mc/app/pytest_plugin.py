"""The pytest plugin (entry point `pytest11`): DMA-buf properties as tests of a user's own
configurations and policies, named as on the command line, files relative to the test file.

    @pytest.mark.dmabuf_mc("../configs/mine.toml", "heap-bracketed", properties=["device-reads-latest"])
    def test_my_heaps(): ...

    def test_my_proposal(dmabuf_mc):
        dmabuf_mc.prove("seed", policy="mine-policy.toml", properties=["device-reads-latest"])

The marker takes configurations, then `policy`, `mode` (check, prove or fuzz),
`properties` and `without`; the fixture has `check`, `prove` and `fuzz`. A failure shows
the report with the replayed trace. Limits are work, set in the ini file:
`dmabuf_mc_max_states`, `dmabuf_mc_max_depth`, `dmabuf_mc_prove_depth`,
`dmabuf_mc_examples`, `dmabuf_mc_steps`, `dmabuf_mc_seed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from dmabuf_mc.app.testing import MODES, ModelCheckFailed, Settings, relative_to, verify
from dmabuf_mc.checker.verdict import PropertyResult
from dmabuf_mc.model.config import ConfigError

MARKER = "dmabuf_mc"
INI = {
    "max_states": "check: stop after this many states (UNKNOWN fails the test); 0: no limit",
    "max_depth": "check: do not expand states deeper than this; 0: no limit",
    "prove_depth": "prove: the BMC depth, and k-induction's largest k",
    "examples": "fuzz: random histories per configuration",
    "steps": "fuzz: the longest history",
    "seed": "fuzz: the random seed",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    defaults = Settings()
    for name, doc in INI.items():
        parser.addini(f"dmabuf_mc_{name}", f"dmabuf-mc {doc} (default {getattr(defaults, name)})", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*configs, policy='baseline', mode='check', properties=(), without=()): "
        f"check, prove or fuzz DMA-buf configurations (names or paths relative to the test file)")


def settings(config: pytest.Config) -> Settings:
    """The ini file's limits over the defaults; 0 lifts a state or depth limit."""
    values: dict[str, int | None] = {}
    for f in fields(Settings):
        raw = config.getini(f"dmabuf_mc_{f.name}") if f.name in INI else None
        if raw in (None, ""):
            continue
        try:
            number = int(str(raw))
        except ValueError:
            raise pytest.UsageError(f"ini option dmabuf_mc_{f.name}: expected a whole number, got {raw!r}") from None
        values[f.name] = None if number == 0 and f.name.startswith("max_") else number
    return Settings(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ModelChecker:
    """What the `dmabuf_mc` fixture gives a test: check, prove or fuzz, with files named
    relative to the test file and the ini file's limits."""

    base: Path
    settings: Settings

    def run(self, mode: str, config: str, policy: str = "baseline", properties: Sequence[str] = (),
            without: Sequence[str] = ()) -> tuple[PropertyResult, ...]:
        """The results; a violation, a refusal or (check, prove) an undecided property fails the test."""
        try:
            return verify(relative_to(config, self.base), relative_to(policy, self.base), mode, properties, without,
                          self.settings)
        except ModelCheckFailed as e:
            failure = f"{mode} {config} under {policy}\n{e.report}"
        except ConfigError as e:
            failure = f"{mode} {config}: {e}"
        pytest.fail(failure, pytrace=False)  # outside the handler: no chained exception in the report

    def check(self, config: str, **options: object) -> tuple[PropertyResult, ...]:
        return self.run("check", config, **options)  # type: ignore[arg-type]

    def prove(self, config: str, **options: object) -> tuple[PropertyResult, ...]:
        return self.run("prove", config, **options)  # type: ignore[arg-type]

    def fuzz(self, config: str, **options: object) -> tuple[PropertyResult, ...]:
        return self.run("fuzz", config, **options)  # type: ignore[arg-type]


@pytest.fixture
def dmabuf_mc(request: pytest.FixtureRequest) -> ModelChecker:
    """Check, prove or fuzz configurations from a test; files relative to the test file."""
    return ModelChecker(request.path.parent, settings(request.config))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Run what a test's `dmabuf_mc` markers ask before its body; every configuration is
    checked, and the test fails with each failing one's report."""
    checker = ModelChecker(item.path.parent, settings(item.config))
    failures = []
    for mark in item.iter_markers(MARKER):
        options = dict(mark.kwargs)
        mode = options.pop("mode", "check")
        if mode not in MODES or not mark.args:
            pytest.fail(f"@pytest.mark.{MARKER}: expected configurations and mode= one of {', '.join(MODES)}",
                        pytrace=False)
        for config in mark.args:
            try:
                checker.run(mode, config, **options)
            except pytest.fail.Exception as e:
                failures.append(str(e.msg))
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
