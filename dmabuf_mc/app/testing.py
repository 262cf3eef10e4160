"""Properties as tests in a user's own CI: random driver histories as a pytest test.

    from dmabuf_mc.app.testing import random_histories
    test_my_heaps = random_histories(["heap-bracketed", "my-config.toml"], properties=["device-reads-latest"])

The test is parametrised over the configurations; a violation fails it with the shrunk,
replayed trace as the message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from dmabuf_mc.checker.check import validate_names
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.random import fuzz
from dmabuf_mc.checker.render import trace_text
from dmabuf_mc.checker.trace import replay
from dmabuf_mc.model import catalog
from dmabuf_mc.model.build import system
from dmabuf_mc.model.view import view


def check_random_histories(config: str, policy: str = "baseline", properties: Sequence[str] = (),
                           examples: int = 50, seed: int = 0) -> None:
    """Raise AssertionError with the trace if random histories violate a property.
    `config` and `policy` are named as on the command line: built-ins, files, `sweep:`
    names and policy variants; `properties` as with --property (groups; none: the default
    ones)."""
    cfg, ts = system(catalog.configuration(config), catalog.policy(policy))
    result = fuzz(compile_system(ts), validate_names(ts, properties, ()), examples, seed_value=seed)
    for trace in result.counterexamples.values():
        replay(trace)
        raise AssertionError(f"{trace.violates} violated in {config}:\n{trace_text(trace, partial(view, cfg))}")


def random_histories(configs: Sequence[str], policy: str = "baseline", properties: Sequence[str] = (),
                     examples: int = 50, seed: int = 0) -> Callable[[str], None]:
    """A pytest test function, parametrised over `configs`."""
    import pytest

    @pytest.mark.parametrize("config", list(configs))
    def test(config: str) -> None:
        check_random_histories(config, policy, properties, examples, seed)

    return test
