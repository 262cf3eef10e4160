"""The `dmabuf-mc` command: a thin dispatcher over the library.

Exit codes (`checker.verdict.Exit`): 0 every property holds (or is proved; certify: the
certificate is valid), 1 a property is violated or a deadlock found (certify: rejected),
2 bad input, 3 a limit, a solver giving up or Ctrl-C ended the run before an answer, 4 an
internal error (a bug: one line on stderr, never a traceback).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial, wraps
from pathlib import Path
from typing import Any, NoReturn

import click

from dmabuf_mc.app import documents, html, judge, tables
from dmabuf_mc.app.batch import MAX_STATES, Checking
from dmabuf_mc.app.cluster import ClusterError, Where, WorkerDied
from dmabuf_mc.app.progress import Reporter, batch_progress, every_from_environment
from dmabuf_mc.checker.artefact import DISTRIBUTION, model_changed, tool_version
from dmabuf_mc.checker.certificate import MAX_K, CertificateError, claim, recheck
from dmabuf_mc.checker.certificate import load as load_certificate
from dmabuf_mc.checker.cexfile import CounterexampleError, Recorded, document, dump, file_stem, still_violates, to_trace
from dmabuf_mc.checker.cexfile import read as read_counterexample
from dmabuf_mc.checker.check import ENGINES as CHECK_ENGINES
from dmabuf_mc.checker.check import Saving, UnknownName, check, fuzz_check, validate_names
from dmabuf_mc.checker.checkpoint import CheckpointError
from dmabuf_mc.checker.crosscheck import cross_check
from dmabuf_mc.checker.engines.bmc import SolverGaveUp
from dmabuf_mc.checker.engines.explicit import Limits, Stats
from dmabuf_mc.checker.engines.random import Walked
from dmabuf_mc.checker.export.graph import MAX_STATES as MAX_GRAPH_STATES
from dmabuf_mc.checker.export.graph import TooManyStates, dot, graphml, state_graph
from dmabuf_mc.checker.export.promela import promela
from dmabuf_mc.checker.export.tla import MODULE_NAME, tla
from dmabuf_mc.checker.itf import trace_itf
from dmabuf_mc.checker.native.toolchain import NativeUnavailable
from dmabuf_mc.checker.prover import ENGINES, CannotWrite, coverage, prove
from dmabuf_mc.checker.render import run_json, run_markdown, run_text, trace_markdown, trace_text
from dmabuf_mc.checker.run import Run, exit_code
from dmabuf_mc.checker.trace import Trace
from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.checker.verdict import Exit
from dmabuf_mc.model import catalog
from dmabuf_mc.model.config import (
    ARCHES,
    DYNAMIC,
    IOMMU,
    KERNEL_FILE,
    KERNEL_RULES,
    MAPPING,
    MAX_IMPORTERS,
    PREP,
    SOURCES,
    ConfigError,
    Configuration,
    builtin_names,
    load,
)
from dmabuf_mc.model.exporters import ALIASES, FAMILIES, STATES
from dmabuf_mc.model.policy import OBLIGATIONS, POLICIES, RULES, Policy
from dmabuf_mc.model.provenance import Provenance, from_record, resolve
from dmabuf_mc.model.sequence import arrow, lifelines
from dmabuf_mc.model.sweep import DEVICES, Sweep, device, generate
from dmabuf_mc.model.sweep import EXPORTERS as SWEEP_EXPORTERS
from dmabuf_mc.model.sweep import KINDS as SWEEP_KINDS
from dmabuf_mc.model.versions import kernel_line, listed_versions, version_rules
from dmabuf_mc.model.view import view
from dmabuf_mc.properties import DEFAULT, DOCS, GROUPS

DEFAULT_CONFIG = "seed"


def _fail(message: str) -> NoReturn:
    click.echo(f"dmabuf-mc: error: {message}", err=True)
    sys.exit(Exit.BAD_INPUT)


def _policy(name: str) -> Policy:
    try:
        return catalog.policy(name)
    except ConfigError as e:
        _fail(str(e))


def _with_rules(policy: Policy, rules: tuple[str, ...]) -> Policy:
    """The policy with `--rule NAME=VALUE` overrides."""
    for text in rules:
        name, _, value = text.partition("=")
        if name not in RULES:
            _fail(f"--rule {text}: unknown rule {name!r}; known: {', '.join(RULES)}")
        if value not in RULES[name].values:
            _fail(f"--rule {text}: {name} is one of {', '.join(RULES[name].values)}")
        policy = policy.with_rule(name, value)
    return policy


def _provenance(config_name: str, policy_name: str, rules: tuple[str, ...]) -> Provenance:
    """The configuration and policy the options name, resolved in full."""
    policy = _with_rules(_policy(policy_name), rules)
    try:
        return resolve(config_name, policy)
    except ConfigError as e:
        _fail(str(e))


def system_options(command: Callable[..., None]) -> Callable[..., None]:
    """--config, --policy, --property and --without, shared by check, prove and fuzz."""
    for option in reversed([
        click.option("--config", "config_name", default=DEFAULT_CONFIG, show_default=True,
                     help="A built-in configuration name or a TOML file."),
        click.option("--policy", "policy_name", default="baseline", show_default=True,
                     help="A built-in policy (dmabuf-mc list policies) or a policy file."),
        click.option("--property", "properties", multiple=True, metavar="NAME",
                     help="Only these, or a group (repeatable; default: the default ones, dmabuf-mc list properties)."),
        click.option("--without", multiple=True, metavar="OBLIGATION", help="Drop a client obligation (repeatable)."),
        click.option("--rule", "rules", multiple=True, metavar="NAME=VALUE",
                     help="Set an implementation rule (repeatable; dmabuf-mc list rules)."),
    ]):
        command = option(command)
    return command


strict_option = click.option(
    "--strict", is_flag=True, help="A VACUOUS property or a never-enabled action fails the run (exit 1).",
)

FORMATS = ("text", "json", "markdown", "itf")
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="json: the report (schemas/report.schema.json); itf: each counterexample as an ITF trace, one a line.",
)

dump_option = click.option(
    "--dump", type=click.Path(file_okay=False), is_flag=False, flag_value="counterexamples", default=None,
    help="Write each counterexample as JSON and Markdown under DIR (default: counterexamples/).",
)


def _markdown(trace: Trace, cfg: Configuration, prov: Provenance) -> str:
    return trace_markdown(trace, partial(view, cfg), lifelines(cfg), partial(arrow, cfg),
                          f"{trace.violates} in {prov.title}")


def _directory(option: str, directory: str | None) -> None:
    """Refuse (exit 2) before any work a DIR option that cannot become a directory: the
    path or one of its parents is something else (a file, a device)."""
    if directory is None:
        return
    for path in (Path(directory), *Path(directory).absolute().parents):
        if path.exists():
            if not path.is_dir():
                _fail(f"{option} {directory}: {path} is not a directory")
            return


def _dump(traces: list[Trace], cfg: Configuration, prov: Provenance, directory: str | None, fmt: str) -> None:
    """Write the counterexamples, named so that the same trace gets the same file, each
    with what it takes to replay it anywhere (`model.provenance`); exit 2 naming --dump
    and the directory if they cannot be written (the verdicts are printed by then). Says
    what it wrote on stderr unless the output is text, so JSON and ITF stay parseable."""
    if directory is None:
        return
    for trace in traces:
        doc = document(trace, partial(view, cfg), prov.record())
        try:
            path = dump(doc, _markdown(trace, cfg, prov), file_stem(trace), Path(directory))
        except OSError as e:
            _fail(f"--dump {directory}: cannot write a counterexample there: {e.strerror or e}")
        click.echo(f"wrote {path} (and .md)", err=fmt != "text")


EXIT_KEY = "dmabuf-mc.exit"
"""Where a command notes its exit code before printing, for when the reader of stdout is gone."""


def _exiting(code: Exit) -> Exit:
    """Note the exit code the command will use, so that a closed stdout does not change it."""
    click.get_current_context().meta[EXIT_KEY] = code
    return code


def _silence_stdout() -> None:
    """Send what is left in stdout's buffer, and all later output, nowhere: without this
    Python's last flush at exit fails again on the closed pipe and prints a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file (e.g. captured output): nothing to flush at exit
        pass


class _Commands(click.Group):
    """The command group with the last-resort handlers: Ctrl-C where no command caught it
    running out of memory and a killed worker process are UNKNOWN (exit 3), a reader of stdout that went away
    ends the command quietly with its usual code, and an exception nobody expected is an
    internal error in one line (exit 4): a traceback would read like an answer, and exit
    1 like a violation."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("dmabuf-mc: interrupted before an answer", err=True)
            sys.exit(Exit.UNKNOWN)
        except BrokenPipeError:  # the reader went away (`dmabuf-mc list | head -1`): not an error
            _silence_stdout()
            sys.exit(ctx.meta.get(EXIT_KEY, Exit.HOLDS))
        except MemoryError:
            click.echo("dmabuf-mc: out of memory before an answer", err=True)
            sys.exit(Exit.UNKNOWN)
        except WorkerDied:
            click.echo("dmabuf-mc: a worker process died (killed, perhaps out of memory) before an answer; "
                       "try fewer --workers or a lower --max-states", err=True)
            sys.exit(Exit.UNKNOWN)
        except Exception as e:
            click.echo(f"dmabuf-mc: internal error: {type(e).__name__}: {e} (please report it with the command line)",
                       err=True)
            sys.exit(Exit.INTERNAL_ERROR)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(tool_version(), "-V", "--version", prog_name="dmabuf-mc", message="%(prog)s %(version)s")
def main() -> None:
    """A model checker for the Linux DMA-buf sharing protocol."""


@main.command("check")
@system_options
@click.option("--max-states", type=click.IntRange(min=1), help="Stop after this many states.")
@click.option("--max-depth", type=click.IntRange(min=0), help="Do not expand states deeper than this.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Stop after this many seconds.")
@click.option("--engine", type=click.Choice(CHECK_ENGINES), default="auto", show_default=True,
              help="native: C compiled by gcc; explicit: Python; auto: Python, then C for large models.")
@format_option
@strict_option
@click.option("--cross-check", "cross", is_flag=True,
              help="Re-derive every verdict with BMC to the BFS depth; a disagreement fails the run (exit 1).")
@dump_option
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="Save the search here when a limit or Ctrl-C stops it, and every --checkpoint-every seconds.")
@click.option("--checkpoint-every", type=click.FloatRange(min=0, min_open=True), default=600.0, show_default=True,
              help="Seconds between periodic checkpoints.")
@click.option("--resume", type=click.Path(dir_okay=False),
              help="Go on from a checkpoint of the same model, properties and --without.")
@click.option("--symmetry", is_flag=True,
              help="Count states up to swapping importers configured alike (traces name your devices).")
def check_cmd(
    config_name: str,
    policy_name: str,
    properties: tuple[str, ...],
    without: tuple[str, ...],
    rules: tuple[str, ...],
    max_states: int | None,
    max_depth: int | None,
    timeout: float | None,
    engine: str,
    fmt: str,
    strict: bool,
    cross: bool,
    dump: str | None,
    checkpoint: str | None,
    checkpoint_every: float,
    resume: str | None,
    symmetry: bool,
) -> None:
    """Explore every reachable state of a configuration and check the properties.
    --checkpoint and --resume stop a long search and go on with it later (either engine)."""
    prov = _provenance(config_name, policy_name, rules)
    _directory("--dump", dump)
    if checkpoint is not None and not Path(checkpoint).absolute().parent.is_dir():
        _fail(f"--checkpoint {checkpoint}: {Path(checkpoint).absolute().parent} is not a directory")
    saving = Saving(None if checkpoint is None else Path(checkpoint), checkpoint_every, resume)
    cfg, ts = prov.system()
    reporter = Reporter("check", "states", every=_every())

    def progress(stats: Stats) -> None:
        reporter.update(stats.states, f"depth {stats.depth}, queue {stats.queue:,}", stats.states_per_second)

    try:
        with reporter:
            run = check(ts, properties, without, Limits(max_states, max_depth, timeout), progress, engine,
                        saving, symmetry)
    except UnknownName as e:
        _fail(str(e))
    except CheckpointError as e:
        _fail(str(e))
    except NativeUnavailable as e:
        _fail(f"--engine native: {e}")
    run = run.resolved(prov.record(), strict)
    if cross:
        run = replace(run, cross_check=cross_check(ts, run))
    _finish(run, fmt, cfg, prov, dump)


@main.command("prove")
@system_options
@click.option("--engine", type=click.Choice(ENGINES), default="pdr", show_default=True,
              help="pdr: Spacer, with an invariant; kind: k-induction; bmc: bounded only.")
@click.option("--depth", type=click.IntRange(min=0), default=30, show_default=True,
              help="BMC depth; for kind, the largest k.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds per property.")
@click.option("--certificates", type=click.Path(file_okay=False), default="certificates", show_default=True,
              help="Where proof certificates are written.")
@format_option
@strict_option
@dump_option
def prove_cmd(
    config_name: str,
    policy_name: str,
    properties: tuple[str, ...],
    without: tuple[str, ...],
    rules: tuple[str, ...],
    engine: str,
    depth: int,
    timeout: float | None,
    certificates: str,
    fmt: str,
    strict: bool,
    dump: str | None,
) -> None:
    """Prove the properties for every reachable state, or refute them with a trace.
    --strict: the engine also shows every premise occurs and every action is enabled."""
    if engine == "kind" and depth > MAX_K:
        _fail(f"--depth {depth}: k-induction certificates hold k up to {MAX_K}")
    prov = _provenance(config_name, policy_name, rules)
    _directory("--certificates", certificates)
    _directory("--dump", dump)
    cfg, ts = prov.system()
    reporter = Reporter("prove", "properties", len(properties) or sum(p.default for p in ts.properties), _every())
    try:
        with reporter:
            run = prove(ts, engine, properties, without, depth, timeout, Path(certificates), prov.record(),
                        lambda done, _, name: reporter.update(done, f"proving {name}"))
    except UnknownName as e:
        _fail(str(e))
    except CannotWrite as e:
        _fail(f"--certificates {certificates}: {e}")
    run = run.resolved(prov.record(), strict)
    if strict and not run.interrupted:
        run = replace(run, observed=coverage(ts, engine, properties, without, depth, timeout))
    _finish(run, fmt, cfg, prov, dump)


@main.command("fuzz")
@system_options
@click.option("--examples", type=click.IntRange(min=1), default=100, show_default=True,
              help="Random histories to run.")
@click.option("--steps", type=click.IntRange(min=1), default=200, show_default=True, help="Longest history.")
@click.option("--seed", "seed_value", type=click.IntRange(min=0), default=0, show_default=True)
@format_option
@strict_option
@dump_option
def fuzz_cmd(
    config_name: str,
    policy_name: str,
    properties: tuple[str, ...],
    without: tuple[str, ...],
    rules: tuple[str, ...],
    examples: int,
    steps: int,
    seed_value: int,
    fmt: str,
    strict: bool,
    dump: str | None,
) -> None:
    """Run random driver histories (Hypothesis) and report violations, each by the shortest
    path through the states the histories visited; the same --seed gives the same run.
    --strict: a premise that never held or an action never enabled in the histories fails
    the run."""
    prov = _provenance(config_name, policy_name, rules)
    _directory("--dump", dump)
    cfg, ts = prov.system()
    reporter = Reporter("fuzz", "histories", every=_every())

    def progress(walked: Walked) -> None:
        reporter.update(walked.histories, f"{walked.steps:,} steps, {walked.visited:,} distinct states, "
                        f"{walked.refuted} properties violated")

    try:
        with reporter:
            run = fuzz_check(ts, properties, without, examples, steps, seed_value, progress)
    except UnknownName as e:
        _fail(str(e))
    _finish(run.resolved(prov.record(), strict), fmt, cfg, prov, dump)


def _finish(run: Run, fmt: str, cfg: Configuration, prov: Provenance, dump: str | None) -> NoReturn:
    """Print the run in `fmt`, write its counterexamples under `dump`, and exit with its
    exit code (`checker.run.exit_code`, noted first so a closed stdout cannot change it)."""
    code = _exiting(exit_code(run))
    cells = partial(view, cfg)
    if fmt == "json":
        click.echo(json.dumps(run_json(run, cells), indent=2))
    elif fmt == "itf":
        for trace in run.counterexamples:
            click.echo(json.dumps(trace_itf(trace, prov.record(), f"{DISTRIBUTION} {tool_version()}")))
    elif fmt == "markdown":
        click.echo(run_markdown(run, cells, lambda trace: _markdown(trace, cfg, prov)))
    else:
        click.echo(kernel_line(cfg))
        click.echo(run_text(run, cells))
    _dump([r.counterexample for r in run.results if r.counterexample is not None], cfg, prov, dump, fmt)
    sys.exit(code)


EXPORT_FORMATS = ("promela", "tla", "dot", "graphml")


@main.command("export")
@system_options
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True,
              help="promela: for SPIN (spin -o2 -a); tla: a module and its .cfg for TLC; dot, graphml: the "
                   "state graph.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here (tla: FILE.tla and FILE.cfg).")
@click.option("--max-states", type=click.IntRange(min=1), default=MAX_GRAPH_STATES, show_default=True,
              help="dot, graphml: refuse a state graph larger than this.")
def export_cmd(
    config_name: str,
    policy_name: str,
    properties: tuple[str, ...],
    without: tuple[str, ...],
    rules: tuple[str, ...],
    fmt: str,
    output: str | None,
    max_states: int,
) -> None:
    """Write the model of a configuration for another tool: Promela (SPIN), TLA+ (TLC), or
    its explicit state graph (DOT, GraphML). The checked properties become assertions or
    invariants; SPIN and TLC find the same reachable states as `check`."""
    prov = _provenance(config_name, policy_name, rules)
    _, ts = prov.system()
    try:
        wanted = validate_names(ts, properties, without)
    except UnknownName as e:
        _fail(str(e))
    dropped = frozenset(without)
    files: dict[str, str] = {}
    if fmt == "promela":
        files[output or "-"] = promela(ts, wanted, dropped)
    elif fmt == "tla":
        if output is None:
            _fail("--format tla writes a module and its TLC configuration: give -o FILE.tla")
        path = Path(output)
        if path.suffix != ".tla" or not MODULE_NAME.match(path.stem):
            _fail(f"-o {output}: a TLA+ module file is NAME.tla, NAME letters, digits and _ (it names the module)")
        spec = tla(ts, path.stem, wanted, dropped)
        files[output], files[str(path.with_suffix(".cfg"))] = spec.module, spec.cfg
    else:
        try:
            graph = state_graph(ts, wanted, dropped, max_states)
        except TooManyStates as e:
            _fail(f"--format {fmt}: {e}")
        files[output or "-"] = dot(graph) if fmt == "dot" else graphml(graph)
    for name, text in files.items():
        if name == "-":
            click.echo(text, nl=False)
            continue
        try:
            Path(name).write_text(text)
        except OSError as e:
            _fail(f"-o {output}: cannot write {name}: {e.strerror or e}")
        click.echo(f"wrote {name}", err=True)



Rebuilt = tuple[Provenance, Configuration, TransitionSystem]


def _rebuilt(origin: Mapping[str, object], fingerprint: str | None, file: str) -> Rebuilt:
    """The system an artefact records, rebuilt from its own data; says first when the
    model is no longer the one the artefact was written against."""
    try:
        prov = from_record(origin, file)
    except ConfigError as e:
        _fail(str(e))
    cfg, ts = prov.system()
    warning = model_changed(fingerprint, ts)
    if warning is not None:
        click.echo(f"{file}: {warning}", err=True)  # stderr: `show --format json` stays JSON
    return prov, cfg, ts


def _recorded(file: str) -> tuple[Provenance, Configuration, Trace, Recorded]:
    """A counterexample file re-executed against the current model, and what it says."""
    try:
        rec = read_counterexample(file)
        prov, cfg, ts = _rebuilt(rec.origin, rec.fingerprint, file)
        return prov, cfg, to_trace(rec, ts), rec
    except CounterexampleError as e:
        _fail(str(e))


def _no_longer(trace: Trace) -> str:
    """What `show` says in place of "-> violates" when the current model runs the trace
    and the property holds at its end."""
    return (f"-> {trace.violates} holds after step {len(trace)}: the violation no longer happens in the current "
            "model")


@main.command("show")
@click.argument("file")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "itf"]), default="text",
              show_default=True)
def show_cmd(file: str, fmt: str) -> None:
    """Render a counterexample file as text, Markdown (with a Mermaid diagram), JSON or an
    ITF trace, as the current model runs it: says so when the violation no longer happens."""
    prov, cfg, trace, rec = _recorded(file)
    cells = partial(view, cfg)
    violates = f"-> violates {trace.violates}"
    fixed = not still_violates(trace)
    if fmt in ("json", "itf"):
        doc = (document(trace, cells, prov.record(), rec) if fmt == "json"
               else trace_itf(trace, prov.record(), rec.tool or f"{DISTRIBUTION} {tool_version()}"))
        click.echo(json.dumps(doc, indent=2))
        if fixed:
            click.echo(f"{file}: {_no_longer(trace)}", err=True)  # stderr: the output stays parseable
    elif fmt == "markdown":
        text = _markdown(trace, cfg, prov)
        if fixed:
            text = text.replace(f"; violates **{trace.violates}**", f"; no longer violates **{trace.violates}**")
            text = text.replace(violates, _no_longer(trace))
        click.echo(text)
    else:
        text = trace_text(trace, cells)
        click.echo(text.replace(violates, _no_longer(trace)) if fixed else text)


def answer_format_option(kind: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """--format text|json for a command that answers in a line or a list."""
    return click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
                        help=f"json: the answer and the exit code as data (schemas/{kind}.schema.json).")


@main.command("replay")
@click.argument("file")
@answer_format_option("replay")
def replay_cmd(file: str, fmt: str) -> None:
    """Re-execute a counterexample against the model it records, rebuilt from the file:
    exit 1 if the violation still happens, 0 if it no longer does (only possible when the
    model has changed), 2 if the trace no longer applies or the file contradicts itself."""
    _, _, trace, _ = _recorded(file)
    still = still_violates(trace)
    code = _exiting(Exit.VIOLATED if still else Exit.HOLDS)
    if fmt == "json":
        doc = documents.replay_json(file, trace.ts.name, trace.violates, len(trace), still, code)
        click.echo(json.dumps(doc, indent=2))
    elif still:
        click.echo(f"{file}: {trace.violates} is still violated, at step {len(trace)}")
    else:
        click.echo(f"{file}: all {len(trace)} steps run and {trace.violates} holds: the violation no longer happens")
    sys.exit(code)


@main.command("certify")
@click.argument("file")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds for the re-check.")
@answer_format_option("certify")
def certify_cmd(file: str, timeout: float | None, fmt: str) -> None:
    """Re-check a proof certificate against the model it records, rebuilt from the file
    (exit 0 valid, 1 rejected, 3 the solver gave up)."""
    try:
        cert = load_certificate(file)
    except CertificateError as e:
        _fail(str(e))
    _, _, ts = _rebuilt(cert.origin, cert.fingerprint, file)
    failures: list[str] = []
    proved = reason = None
    try:
        failures = recheck(cert, ts, timeout)
        proved = claim(cert, ts)
    except CertificateError as e:
        _fail(f"{file}: {e}")
    except SolverGaveUp as e:
        reason = str(e)
    verdict = "UNKNOWN" if reason is not None else "REJECTED" if failures else "VALID"
    code = _exiting(documents.CERTIFY_EXIT[verdict])
    if fmt == "json":
        doc = documents.certify_json(file, ts.name, cert.property, cert.engine, verdict, failures, reason, proved,
                                     code)
        click.echo(json.dumps(doc, indent=2))
    elif reason is not None:
        click.echo(f"UNKNOWN {file}: {cert.property} in {ts.name}: {reason}; the certificate was not re-checked")
    elif failures:
        click.echo(f"REJECTED {file}: {cert.property} in {ts.name}")
        for f in failures:
            click.echo(f"  - {f}")
    else:
        click.echo(f"VALID {file}: {cert.property} holds in every reachable state of {ts.name} ({cert.engine})")
        click.echo("\n".join(f"  {line}" for line in (proved or "").splitlines()))
    sys.exit(code)


LISTS = ["configs", "policies", "rules", "properties", "obligations", "exporters", "sources", "kernel", "devices"]


@main.command("list")
@click.argument("what", required=False,
                type=click.Choice(LISTS))
@answer_format_option("list")
def list_cmd(what: str | None, fmt: str) -> None:
    """Show configurations, policies, rules, properties, obligations, exporter kinds,
    allocation sources, kernel knobs and sweep devices."""
    sections = {
        "configs": lambda: {n: load(n).description for n in builtin_names()},
        "policies": lambda: {p.name: p.doc for p in POLICIES.values()},
        "rules": lambda: {f"{r.name} = {v}": d + (" (base)" if v == r.base else "")
                          for r in RULES.values() for v, d in r.values.items()},
        "properties": lambda: {**{f"{p} ({'default' if p in DEFAULT else 'only when named'})": d
                                  for p, d in DOCS.items()},
                               **{f"{g} (group)": f"stands for {', '.join(ps)}" for g, ps in GROUPS.items()}},
        "obligations": lambda: OBLIGATIONS,
        "exporters": lambda: {**{f.name: "the kernel version picks one of: " + ", ".join(n for _, n in f.states)
                                 for f in FAMILIES.values()},
                              **{k.name: k.doc for k in STATES.values()},
                              **{k: f"an older name of {v}" for k, v in ALIASES.items()}},
        "sources": lambda: {s.name: s.doc for s in SOURCES.values()},
        "kernel": lambda: {**{f"version = {v}": "; ".join(f"{k}: {r}" for k, r in version_rules(v).items())
                              for v in listed_versions()},
                           "version = FILE.toml": KERNEL_FILE,
                           **{f"arch = {k}": v for k, v in ARCHES.items()},
                           **{f"{rule} = {k}": v for rule, values in KERNEL_RULES.items() for k, v in values.items()},
                           **{f"iommu = {k}": v for k, v in IOMMU.items()},
                           **{f"[buffer] prep = {k}": v for k, v in PREP.items()},
                           **{f"[[importer]] mapping = {k}": v for k, v in MAPPING.items()},
                           **{f"[[importer]] dynamic = {k}": v for k, v in DYNAMIC.items()}},
        "devices": lambda: {n: doc for n, (_, doc) in DEVICES.items()},
    }
    shown = {name: {key: " ".join(doc.split()) for key, doc in sections[name]().items()}
             for name in ([what] if what else list(sections))}
    if fmt == "json":
        click.echo(json.dumps(documents.list_json(shown), indent=2))
        return
    for name, entries in shown.items():
        click.echo(f"{name}:")
        for key, doc in entries.items():
            click.echo(f"  {key}")
            click.echo(f"      {doc}")


@dataclass(frozen=True)
class Batch:
    """Which configurations and properties a batch command was asked to check."""

    configs: tuple[str, ...]
    builtins: bool
    importers: int
    devices: str
    exporters: str
    properties: tuple[str, ...]

    @property
    def swept(self) -> bool:
        """Whether a sweep option was given."""
        return (self.importers, self.devices, self.exporters) != (2, ",".join(DEVICES), ",".join(SWEEP_EXPORTERS))


BATCH_FORMATS = ("text", "markdown", "json", "html")
batch_format_option = click.option(
    "--format", "fmt", type=click.Choice(BATCH_FORMATS), default="text", show_default=True,
    help="text: 80 columns, for a mailing list; markdown: with sequence diagrams, for a forge; json: the answer "
         "as data (schemas/batch.schema.json); html: one self-contained page, a heat map with filters and "
         "diagrams, for a browser.")


scheduler_option = click.option(
    "--scheduler", metavar="ADDRESS",
    help="Run the checks on the Dask scheduler at ADDRESS (tcp://host:8786); needs pip install 'dmabuf-mc[dask]'.")
dask_option = click.option(
    "--dask", is_flag=True, help="Run the checks on a Dask cluster of --workers processes started here.")


def _where(workers: int, scheduler: str | None, dask: bool) -> Where:
    """Where --workers, --scheduler and --dask say the checks run; exit 2 if they name two places."""
    if scheduler is not None and dask:
        _fail("--scheduler and --dask: one place to run, a running scheduler or a cluster started here")
    if scheduler is not None and workers:
        _fail("--workers with --scheduler: the scheduler's own workers run the checks")
    return Where(workers, scheduler, dask)


@contextmanager
def _cluster() -> Iterator[None]:
    """A missing Dask or an unreachable scheduler is bad input (exit 2), found before any check runs."""
    try:
        yield
    except ClusterError as e:
        _fail(str(e))


@dataclass(frozen=True)
class Running:
    """How a batch command runs its checks and prints what they found."""

    where: Where
    """Where the checks run: --workers, --scheduler, --dask."""
    checking: Checking
    """How each check runs: --max-states, --strict, --cross-check."""
    fmt: str
    """The report format: one of BATCH_FORMATS."""


def running_options(command: Callable[..., None]) -> Callable[..., None]:
    """How a batch command runs its checks and prints; the command receives them as one
    `running` value."""

    @wraps(command)
    def wrapper(**kw: Any) -> None:
        where = _where(kw.pop("workers"), kw.pop("scheduler"), kw.pop("dask"))
        checking = Checking(kw.pop("max_states"), kw.pop("strict"), kw.pop("cross"))
        with _cluster():
            command(running=Running(where, checking, kw.pop("fmt")), **kw)

    for option in reversed([
        click.option("--workers", type=click.IntRange(min=0), default=0,
                     help="Processes to run checks in; 0: one per core."),
        scheduler_option,
        dask_option,
        batch_format_option,
        click.option("--max-states", type=click.IntRange(min=1), default=MAX_STATES, show_default=True,
                     help="Stop each check here (its cells UNKNOWN): a cap for sweeps of large configurations."),
        click.option("--strict", is_flag=True,
                     help="A vacuous property or a never-enabled action in any check fails the command (exit 1)."),
        click.option("--cross-check", "cross", is_flag=True,
                     help="Re-derive every check's verdicts with BMC; a disagreement fails the command (exit 1)."),
    ]):
        wrapper = option(wrapper)
    return wrapper


def batch_options(command: Callable[..., None]) -> Callable[..., None]:
    """Which configurations and properties a batch command covers, and how it runs and
    prints; the command receives them as a `batch` and a `running` value."""

    @wraps(command)
    def wrapper(**kw: Any) -> None:
        fields = ("configs", "builtins", "importers", "devices", "exporters", "properties")
        command(batch=Batch(**{f: kw.pop(f) for f in fields}), **kw)

    for option in reversed([
        click.option("--config", "configs", multiple=True, metavar="NAME",
                     help="Check these configurations (repeatable) instead of a generated sweep."),
        click.option("--builtins", is_flag=True, help="Check every built-in configuration."),
        click.option("--importers", type=click.IntRange(1, MAX_IMPORTERS), default=2, show_default=True,
                     help="Sweep: device mixes of up to this many importers."),
        click.option("--devices", default=",".join(DEVICES), show_default=True,
                     help="Sweep: the device profiles to mix (dmabuf-mc list devices, or profile .toml files)."),
        click.option("--exporters", default=",".join(SWEEP_EXPORTERS), show_default=True,
                     help="Sweep: the exporter kinds (dmabuf-mc list exporters)."),
        click.option("--property", "properties", multiple=True, metavar="NAME",
                     help="Only these, or a group (repeatable; default: the default ones)."),
    ]):
        wrapper = option(wrapper)
    return running_options(wrapper)


def _names(value: str, known: Mapping[str, object] | tuple[str, ...], option: str) -> tuple[str, ...]:
    names = tuple(n for n in value.split(",") if n)
    for n in names:
        if n not in known:
            _fail(f"{option}: unknown name {n!r}; known: {', '.join(known)}")
    if not names:
        _fail(f"{option}: expected at least one name")
    return names


def _scope(batch: Batch, default_builtins: bool = False) -> list[Configuration]:
    try:
        if batch.configs:
            return [catalog.configuration(c) for c in batch.configs]
        if batch.builtins or default_builtins:
            return [load(n) for n in builtin_names()]
    except ConfigError as e:
        _fail(str(e))
    sweep = Sweep(_devices(batch.devices.split(","), "--devices"), batch.importers,
                  _names(batch.exporters, SWEEP_KINDS, "--exporters"))
    try:
        return list(generate(sweep))
    except ConfigError as e:
        _fail(str(e))


def _devices(names: list[str], option: str) -> tuple[str, ...]:
    """Device profiles: built-in names or profile files (exit 2 naming the file and field)."""
    names = [n for n in names if n]
    if not names:
        _fail(f"{option}: expected at least one device")
    for n in names:
        try:
            device(n)
        except ConfigError as e:
            _fail(f"{option}: {e}")
    return tuple(names)


def _check_properties(properties: tuple[str, ...]) -> tuple[str, ...]:
    """The properties or groups a batch command names, refused (exit 2) on a typo before any
    work; each check expands the groups (none named: the default ones)."""
    for p in properties:
        if p not in DOCS and p not in GROUPS:
            _fail(f"--property: unknown property {p!r}; known: {', '.join([*DOCS, *GROUPS])}")
    return properties


def _every() -> int | None:
    """The interval of work between progress lines, if $DMABUF_MC_PROGRESS_EVERY sets one."""
    try:
        return every_from_environment()
    except ValueError as e:
        _fail(str(e))


def _emit(command: str, answer: judge.Answer, fmt: str, table: Callable[..., str], page: Callable[..., str],
          **given: str) -> NoReturn:
    """Print a batch command's answer in `fmt` (`table` renders text and Markdown from it and
    the policies as `given`, `page` HTML) and exit with its code (`judge.batch_exit`, noted first)."""
    code = _exiting(judge.batch_exit(answer))
    if fmt == "json":
        click.echo(json.dumps(documents.batch_json(command, answer, given), indent=2))
    elif fmt == "html":
        click.echo(page(answer, *given.values()))
    else:
        click.echo(table(answer, *given.values(), fmt == "markdown"))
    if not answer.complete:
        click.echo("dmabuf-mc: interrupted; the report covers what was checked", err=True)
    sys.exit(code)


@main.command("sweep")
@click.option("--policy", "policy_name", default="baseline", show_default=True, help="A policy name or file.")
@batch_options
def sweep_cmd(policy_name: str, batch: Batch, running: Running) -> None:
    """Check one policy on many configurations: configurations x properties, with counts.
    Exit 1 if any is violated, else 3 if a check stopped at --max-states."""
    policy = _policy(policy_name)
    with batch_progress("sweep", _every()) as progress:
        m = judge.sweep(policy, _scope(batch), _check_properties(batch.properties), running.where, progress,
                        running.checking)
    _emit("sweep", m, running.fmt, tables.matrix, html.matrix, policy=policy_name)


@main.command("compare")
@click.argument("base")
@click.argument("proposal")
@batch_options
def compare_cmd(base: str, proposal: str, batch: Batch, running: Running) -> None:
    """What PROPOSAL fixes, breaks and refuses compared with BASE (policy names or files).
    Exit 1 if it breaks or refuses anything the base served safely, else 3 if a check
    stopped at --max-states."""
    with batch_progress("compare", _every()) as progress:
        cmp = judge.compare(_policy(base), _policy(proposal), _scope(batch), _check_properties(batch.properties),
                            running.where, progress, running.checking)
    _emit("compare", cmp, running.fmt, tables.comparison, html.comparison, base=base, proposal=proposal)


@main.command("explain")
@click.option("--policy", "policy_name", default="baseline", show_default=True, help="A policy name or file.")
@batch_options
def explain_cmd(policy_name: str, batch: Batch, running: Running) -> None:
    """Drop each client obligation and each implementation rule of a policy in turn and
    report which are necessary (with the trace that appears) and which redundant. Runs on
    the built-in configurations unless --config or sweep options say otherwise. Exit 0,
    or 3 if a check stopped at --max-states (a finding of redundant is then not established)."""
    policy = _policy(policy_name)
    scope = _scope(batch, default_builtins=not batch.swept)
    with batch_progress("explain", _every()) as progress:
        e = judge.explain(policy, scope, _check_properties(batch.properties), running.where, progress,
                          running.checking)
    _emit("explain", e, running.fmt, tables.explanation, html.explanation, policy=policy_name)


@main.command("allocate")
@click.argument("devices", nargs=-1, required=True)
@click.option("--policy", "policy_name", default="baseline", show_default=True, help="A policy name or file.")
@click.option("--property", "properties", multiple=True, metavar="NAME",
              help=f"Only these, or a group (repeatable); default: the default ones but "
                   f"{', '.join(judge.ALLOCATE_SKIPS)}.")
@running_options
def allocate_cmd(devices: tuple[str, ...], policy_name: str, properties: tuple[str, ...], running: Running) -> None:
    """Which allocation sources keep every property for DEVICES (e.g. camera encoder
    display) without a copy fallback; exit 1 if none does, 3 if none is known to but a
    check stopped at --max-states."""
    _devices(list(devices), "DEVICES")
    if len(devices) > MAX_IMPORTERS:
        _fail(f"DEVICES: at most {MAX_IMPORTERS} devices")
    with batch_progress("allocate", _every()) as progress:
        a = judge.allocate(devices, _policy(policy_name), _check_properties(properties), running.where, progress,
                           running.checking)
    _emit("allocate", a, running.fmt, tables.allocation, html.allocation, policy=policy_name)
