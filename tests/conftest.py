"""Shared helpers: run a fixed history of kernel calls through the IR interpreter."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import z3

from dmabuf_mc.checker.interp import evaluate, successor
from dmabuf_mc.checker.native.toolchain import CACHE_ENV
from dmabuf_mc.checker.trace import Trace
from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.model.build import system as build_system
from dmabuf_mc.model.config import Configuration, load, parse
from dmabuf_mc.model.policy import BASELINE, Policy
from dmabuf_mc.model.view import view


def system(cfg: str | Configuration, policy: Policy = BASELINE) -> tuple[Configuration, TransitionSystem]:
    config = load(cfg) if isinstance(cfg, str) else cfg
    return build_system(config, policy)


def config_text(text: str) -> Configuration:
    return parse(text, "test.toml")


def history(cfg: str | Configuration, calls: list[str], policy: Policy = BASELINE) -> list[dict[str, str]]:
    """The view after each call (index 0: the initial state); every call must be enabled."""
    config, ts = system(cfg, policy)
    state = dict(ts.init)
    views = [view(config, {v.name: v.domain.labels[state[v.name]] for v in ts.variables})]
    for call in calls:
        act = ts.actions[ts.action_index(call)]
        assert evaluate(act.enabled(), state), f"{call} is not enabled"
        state = successor(ts, act, state)
        views.append(view(config, {v.name: v.domain.labels[state[v.name]] for v in ts.variables}))
    return views


def labels(trace: Trace) -> list[str]:
    return list(trace.action_labels())


@pytest.fixture(autouse=True, scope="session")
def native_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build the native engine's libraries in a directory of this test session, not in
    the user's cache (workers and subprocesses inherit it)."""
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("native-cache"))

@pytest.fixture
def solver_rlimit() -> Iterator[Callable[[int], None]]:
    """Set Z3's resource limit for every query made during the test: a work limit, so a
    solver gives up at the same point on every machine, unlike a time limit."""
    yield lambda n: z3.set_param("rlimit", n)
    z3.set_param("rlimit", 0)
