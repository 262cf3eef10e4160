"""The `dmabuf-mc` command: a thin dispatcher over the library (DESIGN.md "Engines").

Exit codes: 0 every property holds (or is proved; certify: the certificate is valid), 1
a property is violated or a deadlock found (certify: rejected), 2 bad input, 3 a limit
or Ctrl-C ended the run before an answer.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from checker.certificate import CertificateError, recheck
from checker.certificate import load as load_certificate
from checker.cexfile import CounterexampleError, document, dump, file_stem, still_violates, to_trace
from checker.cexfile import read as read_counterexample
from checker.check import UnknownName, check, fuzz_check
from checker.engines.explicit import Limits, Stats
from checker.prover import ENGINES, prove
from checker.render import proof_text, report_json, report_text, trace_markdown, trace_text
from checker.trace import Trace
from checker.ts import TransitionSystem
from checker.verdict import exit_code
from model.build import build
from model.config import ConfigError, Configuration, builtin_names, load
from model.exporters import EXPORTER_KINDS
from model.policy import OBLIGATIONS, POLICIES
from model.sequence import arrow, lifelines
from model.view import view
from properties import DOCS

DEFAULT_CONFIG = "seed"
EXIT_BAD_INPUT = 2


def _fail(message: str) -> NoReturn:
    click.echo(f"dmabuf-mc: error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _system(config_name: str, policy_name: str) -> tuple[Configuration, TransitionSystem]:
    try:
        cfg = load(config_name)
    except ConfigError as e:
        _fail(str(e))
    if policy_name not in POLICIES:
        _fail(f"--policy: unknown policy {policy_name!r}; known: {', '.join(POLICIES)}")
    return cfg, build(cfg, POLICIES[policy_name])


def system_options(command: Callable[..., None]) -> Callable[..., None]:
    """--config, --policy, --property and --without, shared by check, prove and fuzz."""
    for option in reversed([
        click.option("--config", "config_name", default=DEFAULT_CONFIG, show_default=True,
                     help="A built-in configuration name or a TOML file."),
        click.option("--policy", "policy_name", default="baseline", show_default=True, help="The API rules in force."),
        click.option("--property", "properties", multiple=True, metavar="NAME", help="Only these (repeatable)."),
        click.option("--without", multiple=True, metavar="OBLIGATION", help="Drop a client obligation (repeatable)."),
    ]):
        command = option(command)
    return command


dump_option = click.option(
    "--dump", type=click.Path(file_okay=False), is_flag=False, flag_value="counterexamples", default=None,
    help="Write each counterexample as JSON and Markdown under DIR (default: counterexamples/).",
)


def _dump(traces: list[Trace], cfg: Configuration, config_name: str, policy_name: str, directory: str | None) -> None:
    """Write the counterexamples, named so that the same trace gets the same file."""
    if directory is None:
        return
    for trace in traces:
        cells = partial(view, cfg)
        markdown = trace_markdown(trace, cells, lifelines(cfg), partial(arrow, cfg),
                                  f"{trace.violates} in {config_name} under {policy_name}")
        path = dump(document(trace, cells, config_name, policy_name), markdown, file_stem(trace), Path(directory))
        click.echo(f"wrote {path} (and .md)")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """A model checker for the Linux DMA-buf sharing protocol."""


@main.command("check")
@system_options
@click.option("--max-states", type=click.IntRange(min=1), help="Stop after this many states.")
@click.option("--max-depth", type=click.IntRange(min=0), help="Do not expand states deeper than this.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Stop after this many seconds.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@dump_option
def check_cmd(
    config_name: str,
    policy_name: str,
    properties: tuple[str, ...],
    without: tuple[str, ...],
    max_states: int | None,
    max_depth: int | None,
    timeout: float | None,
    fmt: str,
    dump: str | None,
) -> None:
    """Explore every reachable state of a configuration and check the properties."""
    cfg, ts = _system(config_name, policy_name)
    console = Console(stderr=True)
    status = console.status("exploring", spinner="dots") if console.is_terminal else None

    def progress(stats: Stats) -> None:
        if status is not None:
            status.start()
            status.update(f"{stats.states:,} states, depth {stats.depth}, {stats.states_per_second:,.0f} states/s")

    try:
        report = check(ts, properties, without, Limits(max_states, max_depth, timeout), progress)
    except UnknownName as e:
        _fail(str(e))
    finally:
        if status is not None:
            status.stop()
    cells = partial(view, cfg)
    if fmt == "json":
        click.echo(json.dumps(report_json(report, cells), indent=2))
    else:
        click.echo(report_text(report, cells))
    traces = [r.counterexample for r in report.results if r.counterexample is not None]
    _dump(traces, cfg, config_name, policy_name, dump)
    sys.exit(report.exit_code)


@main.command("prove")
@system_options
@click.option("--engine", type=click.Choice(ENGINES), default="pdr", show_default=True,
              help="pdr: Spacer, with an invariant; kind: k-induction; bmc: bounded only.")
@click.option("--depth", type=click.IntRange(min=0), default=30, show_default=True,
              help="BMC depth; for kind, the largest k.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds per property.")
@click.option("--certificates", type=click.Path(file_okay=False), default="certificates", show_default=True,
              help="Where proof certificates are written.")
@dump_option
def prove_cmd(
    config_name: str,
    policy_name: str,
    properties: tuple[str, ...],
    without: tuple[str, ...],
    engine: str,
    depth: int,
    timeout: float | None,
    certificates: str,
    dump: str | None,
) -> None:
    """Prove the properties for every reachable state, or refute them with a trace."""
    cfg, ts = _system(config_name, policy_name)
    try:
        results = prove(ts, engine, properties, without, depth, timeout, Path(certificates),
                        (config_name, policy_name))
    except UnknownName as e:
        _fail(str(e))
    click.echo(proof_text(ts.name, engine, results, partial(view, cfg)))
    _dump([r.counterexample for r in results if r.counterexample], cfg, config_name, policy_name, dump)
    sys.exit(exit_code(results))


@main.command("fuzz")
@system_options
@click.option("--examples", type=click.IntRange(min=1), default=100, show_default=True,
              help="Random histories to run.")
@click.option("--steps", type=click.IntRange(min=1), default=200, show_default=True, help="Longest history.")
@click.option("--seed", "seed_value", type=click.IntRange(min=0), default=0, show_default=True)
@dump_option
def fuzz_cmd(
    config_name: str,
    policy_name: str,
    properties: tuple[str, ...],
    without: tuple[str, ...],
    examples: int,
    steps: int,
    seed_value: int,
    dump: str | None,
) -> None:
    """Run random driver histories (Hypothesis) and report shrunk violations."""
    cfg, ts = _system(config_name, policy_name)
    try:
        results, visited = fuzz_check(ts, properties, without, examples, steps, seed_value)
    except UnknownName as e:
        _fail(str(e))
    click.echo(proof_text(ts.name, "random", results, partial(view, cfg)))
    click.echo(f"  {visited:,} distinct states visited")
    _dump([r.counterexample for r in results if r.counterexample], cfg, config_name, policy_name, dump)
    sys.exit(1 if any(r.counterexample for r in results) else 0)


def _recorded(file: str) -> tuple[Configuration, Trace]:
    """A counterexample file re-executed against the current model."""
    try:
        rec = read_counterexample(file)
        cfg, ts = _system(rec.config, rec.policy)
        return cfg, to_trace(rec, ts)
    except CounterexampleError as e:
        _fail(str(e))


@main.command("show")
@click.argument("file")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
def show_cmd(file: str, fmt: str) -> None:
    """Render a counterexample file as text, Markdown (with a Mermaid diagram) or JSON."""
    cfg, trace = _recorded(file)
    rec = read_counterexample(file)
    cells = partial(view, cfg)
    if fmt == "json":
        click.echo(json.dumps(document(trace, cells, rec.config, rec.policy), indent=2))
    elif fmt == "markdown":
        title = f"{trace.violates} in {rec.config} under {rec.policy}"
        click.echo(trace_markdown(trace, cells, lifelines(cfg), partial(arrow, cfg), title))
    else:
        click.echo(trace_text(trace, cells))


@main.command("replay")
@click.argument("file")
def replay_cmd(file: str) -> None:
    """Re-execute a counterexample against the current model: exit 1 if the violation
    still happens, 0 if it no longer does, 2 if the trace no longer applies."""
    _, trace = _recorded(file)
    if still_violates(trace):
        click.echo(f"{file}: {trace.violates} is still violated, at step {len(trace)}")
        sys.exit(1)
    click.echo(f"{file}: all {len(trace)} steps run and {trace.violates} holds: the violation no longer happens")


@main.command("certify")
@click.argument("file")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds for the re-check.")
def certify_cmd(file: str, timeout: float | None) -> None:
    """Re-check a proof certificate against the current model (exit 0 valid, 1 rejected)."""
    try:
        cert = load_certificate(file)
        _, ts = _system(cert.config, cert.policy)
        failures = recheck(cert, ts, timeout)
    except CertificateError as e:
        _fail(str(e))
    if failures:
        click.echo(f"REJECTED {file}: {cert.property} in {ts.name}")
        for f in failures:
            click.echo(f"  - {f}")
        sys.exit(1)
    click.echo(f"VALID {file}: {cert.property} holds in every reachable state of {ts.name} ({cert.engine})")
    click.echo("\n".join(f"  {line}" for line in cert.invariant_text.splitlines()))


@main.command("list")
@click.argument("what", required=False,
                type=click.Choice(["configs", "policies", "properties", "obligations", "exporters"]))
def list_cmd(what: str | None) -> None:
    """Show configurations, policies, properties, obligations and exporter kinds."""
    sections = {
        "configs": lambda: {n: load(n).description for n in builtin_names()},
        "policies": lambda: {p.name: p.doc for p in POLICIES.values()},
        "properties": lambda: DOCS,
        "obligations": lambda: OBLIGATIONS,
        "exporters": lambda: {k.name: k.doc for k in EXPORTER_KINDS.values()},
    }
    for name in [what] if what else list(sections):
        click.echo(f"{name}:")
        for key, doc in sections[name]().items():
            click.echo(f"  {key}")
            click.echo(f"      {' '.join(doc.split())}")
