"""Checkpoint and resume: a search stopped and resumed ends exactly as one never stopped."""

from __future__ import annotations

import hashlib
import json
import signal
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from dmabuf_mc.app.cli import main
from dmabuf_mc.checker.check import Saving, check, validate_names
from dmabuf_mc.checker.checkpoint import Checked, CheckpointError, Frontier, load
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import INTERRUPTED, Exploration, Limits, depth_limit, explore, state_limit
from dmabuf_mc.checker.engines.native import explore_native
from dmabuf_mc.checker.native.toolchain import compiler
from dmabuf_mc.checker.run import Run
from dmabuf_mc.checker.verdict import Exit
from dmabuf_mc.model import catalog
from dmabuf_mc.model.policy import BASELINE
from tests.checker.test_symmetry import ALIKE
from tests.conftest import system

NAME = "bounce-32bit"  # 645 states, four properties refuted, six holding


def summary(report: Run) -> tuple[object, ...]:
    """Everything a resumed run must reproduce: counts, verdicts and the shortest traces."""
    return (report.stats.states, report.stats.transitions, report.stats.depth, report.stopped, report.deadlocks,
            report.never_enabled, tuple(
                (r.name, r.verdict, r.vacuous, r.counterexample and r.counterexample.actions) for r in report.results))


def seen(run: Exploration) -> tuple[object, ...]:
    return (run.stats.states, run.stats.transitions, run.stats.depth, run.stopped, run.deadlocks,
            run.premises_seen, run.actions_fired,
            {k: (t.actions, t.states) for k, t in run.counterexamples.items()})


@pytest.mark.parametrize("limits", [(100,), (200, 400), (1, 2, 3, 600)])
def test_a_run_stopped_at_state_limits_and_resumed_counts_as_one_never_stopped(tmp_path, limits):
    _, ts = system(NAME)
    whole = check(ts, engine="explicit")
    path = tmp_path / "run.ckpt"
    for k, limit in enumerate(limits):
        resume = str(path) if k else None
        part = check(ts, limits=Limits(max_states=limit), saving=Saving(path, None, resume))
        assert part.stopped == state_limit(Limits(max_states=limit))
    resumed = check(ts, saving=Saving(None, None, str(path)))
    assert summary(resumed) == summary(whole)
    assert any(r.counterexample for r in resumed.results) and any(r.verdict == "HOLDS" for r in resumed.results)


def test_ctrl_c_is_held_until_between_states_and_the_checkpoint_resumes(monkeypatch):
    _, ts = system("largest")
    model = compile_system(ts)
    names = ["no-lost-writes", "no-use-after-free"]  # one refuted early, one that holds
    calls = 0

    def successors(s: int) -> tuple[list[int], list[int]]:
        nonlocal calls
        calls += 1
        if calls == 3000:  # in the middle of a level, between two CHECK_EVERY points
            signal.raise_signal(signal.SIGINT)
        return model.successors(s)

    taken: list[Frontier] = []
    stopped = explore(replace(model, successors=successors), names, checkpoint=taken.append)
    assert stopped.stopped == INTERRUPTED and len(taken) == 1
    limit = Limits(max_states=60_000)
    assert seen(explore(model, names, limit, resume=taken[0])) == seen(explore(model, names, limit))


def test_a_checkpoint_of_another_model_or_check_is_refused(tmp_path):
    path = tmp_path / "seed.ckpt"
    _, seed = system("seed")
    check(seed, limits=Limits(max_states=5), saving=Saving(path))
    _, other = system(NAME)
    names = tuple(validate_names(seed, (), ()))  # what the check above checked: the default properties
    with pytest.raises(CheckpointError, match="a checkpoint of another model"):
        load(str(path), Checked(other, names, ()))
    with pytest.raises(CheckpointError, match="checked properties"):
        load(str(path), Checked(seed, ("no-lost-writes",), ()))
    with pytest.raises(CheckpointError, match="checked dropped"):
        load(str(path), Checked(seed, names, ("cpu-access-bracketed",)))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        load(str(path), Checked(seed, names, ()))


def test_check_command_checkpoints_resumes_and_refuses_with_exit_2(tmp_path):
    ckpt = str(tmp_path / "b.ckpt")
    runner = CliRunner()
    stopped = runner.invoke(main, ["check", "--config", NAME, "--max-states", "20", "--checkpoint", ckpt])
    assert stopped.exit_code == Exit.UNKNOWN, stopped.output
    assert "stopped: state limit 20 reached" in stopped.output
    resumed = runner.invoke(main, ["check", "--config", NAME, "--resume", ckpt])
    whole = runner.invoke(main, ["check", "--config", NAME, "--engine", "explicit"])
    assert resumed.exit_code == whole.exit_code == Exit.VIOLATED
    assert resumed.output.splitlines()[2].split(",")[:3] == whole.output.splitlines()[2].split(",")[:3]
    other = runner.invoke(main, ["check", "--config", "seed", "--resume", ckpt])
    assert other.exit_code == Exit.BAD_INPUT and "a checkpoint of another model" in other.output
    assert "Traceback" not in other.output
    if compiler() is not None:  # the native engine resumes the Python engine's checkpoint
        native = runner.invoke(main, ["check", "--config", NAME, "--engine", "native", "--resume", ckpt])
        assert native.exit_code == Exit.VIOLATED and "--engine native" in native.output
        assert native.output.splitlines()[2].split(",")[:3] == whole.output.splitlines()[2].split(",")[:3]
    missing = runner.invoke(main, ["check", "--config", NAME, "--checkpoint", str(Path(ckpt) / "x")])
    assert missing.exit_code == Exit.BAD_INPUT and "is not a directory" in missing.output


def _damaged(path: Path, edit_head=None, edit_body=None, *, keep_digest: bool = False) -> None:
    """Rewrite a checkpoint with its header or body edited, the digest recomputed unless kept."""
    line, _, body = path.read_bytes().partition(b"\n")
    head = json.loads(line)
    head = edit_head(head) if edit_head else head
    body = edit_body(head, body) if edit_body else body
    if not keep_digest:
        head["body_sha256"] = hashlib.sha256(body).hexdigest()
    path.write_bytes(json.dumps(head).encode() + b"\n" + body)


def _last_parent_far(head: dict, body: bytes) -> bytes:
    return body[:-8] + (10**9).to_bytes(8, "little")


DAMAGE = {
    "a parent past its child": dict(edit_body=_last_parent_far),
    "next past the states": dict(edit_head=lambda h: h | {"next": h["count"] + 100, "level_end": h["count"] + 500}),
    "a violation at no state": dict(edit_head=lambda h: h | {"found": [[0, 10**7]]}),
    "an action that is not one": dict(edit_head=lambda h: h | {"unfired": [10**6]}),
    "a flipped byte": dict(edit_body=lambda h, b: b[:-1] + bytes([b[-1] ^ 1]), keep_digest=True),
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("engine", ["explicit", pytest.param("native", marks=pytest.mark.skipif(
    compiler() is None, reason="no C compiler found"))])
def test_a_damaged_checkpoint_is_bad_input_for_either_engine(tmp_path, damage, engine):
    # An engine trusts a checkpoint's indices (the native one in C): a damaged file must be
    # refused before either sees it, never crash it nor give an answer.
    ckpt = tmp_path / "b.ckpt"
    runner = CliRunner()
    stopped = runner.invoke(main, ["check", "--config", NAME, "--max-states", "200", "--checkpoint", str(ckpt)])
    assert "stopped: state limit 200 reached" in stopped.output and ckpt.exists(), stopped.output
    _damaged(ckpt, **DAMAGE[damage])
    r = runner.invoke(main, ["check", "--config", NAME, "--engine", engine, "--resume", str(ckpt)])
    assert r.exit_code == Exit.BAD_INPUT and "damaged checkpoint" in r.output, r.output


# --- the native engine: the same checkpoints, written and resumed -----------------------------

needs_cc = pytest.mark.skipif(compiler() is None, reason="no C compiler found (gcc, cc or $CC)")


@needs_cc
@pytest.mark.parametrize("engines", [("native", "native"), ("native", "explicit"), ("explicit", "native")])
@pytest.mark.parametrize("limits", [(100,), (200, 400), (1, 2, 3, 600)])
def test_native_runs_stopped_and_resumed_count_as_one_never_stopped(tmp_path, limits, engines):
    # a state budget stops each part; a checkpoint written by one engine resumes in the other
    _, ts = system(NAME)
    whole = check(ts, engine="native")
    path = tmp_path / "run.ckpt"
    for k, limit in enumerate(limits):
        resume = str(path) if k else None
        part = check(ts, limits=Limits(max_states=limit), engine=engines[k % 2], saving=Saving(path, None, resume))
        assert part.stopped == state_limit(Limits(max_states=limit))
    resumed = check(ts, engine=engines[len(limits) % 2], saving=Saving(None, None, str(path)))
    assert summary(resumed) == summary(whole)
    assert any(r.counterexample for r in resumed.results) and any(r.verdict == "HOLDS" for r in resumed.results)


@pytest.mark.parametrize("search", [explore, pytest.param(explore_native, marks=needs_cc)], ids=["explicit", "native"])
def test_every_periodic_checkpoint_resumes_to_the_same_end(search):
    _, ts = system("largest")
    model = compile_system(ts)
    names = ["no-lost-writes", "no-use-after-free"]  # one refuted early, one that holds
    limit = Limits(max_states=30_000)
    taken: list[Frontier] = []
    whole = search(model, names, limit, checkpoint=taken.append, checkpoint_every=0.0)
    assert len({f.next for f in taken}) >= 4 and whole.counterexamples
    assert seen(whole) == seen(explore(model, names, limit))
    for frontier in taken:
        assert seen(search(model, names, limit, resume=frontier)) == seen(whole)


@needs_cc
def test_a_reduced_native_search_resumes_reduced_and_is_refused_unreduced(tmp_path):
    _, ts = system(catalog.configuration(ALIKE[1]), BASELINE)  # three cameras configured alike
    whole = check(ts, engine="native", symmetric=True)
    path = tmp_path / "sym.ckpt"
    check(ts, limits=Limits(max_states=50), engine="native", saving=Saving(path), symmetric=True)
    resumed = check(ts, engine="native", saving=Saving(None, None, str(path)), symmetric=True)
    assert summary(resumed) == summary(whole) and whole.stats.states < check(ts, engine="native").stats.states
    with pytest.raises(CheckpointError, match="ran with --symmetry's reduction; this one runs without it"):
        check(ts, engine="native", saving=Saving(None, None, str(path)))


def test_auto_saves_the_python_probe_when_its_answer_is_the_runs(tmp_path):
    # a depth limit stops `auto`'s probe within its 20,000 states: that is the run, saved
    _, ts = system(NAME)
    path = tmp_path / "depth.ckpt"
    part = check(ts, limits=Limits(max_depth=3), saving=Saving(path))
    assert part.engine == "explicit" and part.stopped == depth_limit(Limits(max_depth=3)) and path.exists()
    assert summary(check(ts, saving=Saving(None, None, str(path)))) == summary(check(ts, engine="explicit"))


@needs_cc
def test_ctrl_c_stops_the_native_search_between_chunks_and_its_checkpoint_resumes():
    _, ts = system("largest")
    model = compile_system(ts)
    names = ["no-lost-writes", "no-use-after-free"]
    shown = 0

    def progress(_stats: object) -> None:  # Python's turn between two chunks of the C search
        nonlocal shown
        shown += 1
        if shown == 3:
            signal.raise_signal(signal.SIGINT)

    taken: list[Frontier] = []
    stopped = explore_native(model, names, progress=progress, checkpoint=taken.append)
    assert stopped.stopped == INTERRUPTED and len(taken) == 1 and taken[0].next > 0
    limit = Limits(max_states=60_000)
    assert seen(explore_native(model, names, limit, resume=taken[0])) == seen(explore(model, names, limit))
