"""One exit code for every run, whatever the engine: verdicts first, then what --strict
judges of the coverage, then the cross-check."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dmabuf_mc.checker.run import Run, exit_code
from dmabuf_mc.checker.verdict import Coverage, Exit, PropertyResult, Verdict


def run(*verdicts: Verdict, **fields: object) -> Run:
    results = tuple(PropertyResult(f"p{i}", "", v) for i, v in enumerate(verdicts))
    return replace(Run("check", "toy", "explicit", results), **fields)


@pytest.mark.parametrize(("verdicts", "code"), [
    ((Verdict.HOLDS, Verdict.PROVED), Exit.HOLDS),
    ((Verdict.HOLDS, Verdict.UNKNOWN), Exit.UNKNOWN),
    ((Verdict.UNKNOWN, Verdict.REFUTED), Exit.VIOLATED),
    ((Verdict.REFUSED,), Exit.VIOLATED),
    ((), Exit.HOLDS),
])
def test_verdicts_decide_the_code(verdicts, code):
    assert exit_code(run(*verdicts)) is code


def test_strict_fails_a_vacuous_pass_only_when_asked():
    vacuous = run(Verdict.HOLDS, observed=Coverage(("p0",), ()))
    assert exit_code(vacuous) is Exit.HOLDS
    assert exit_code(replace(vacuous, strict=True)) is Exit.VIOLATED


def test_strict_on_an_interrupted_run_that_looked_at_nothing_is_undecided():
    interrupted = run(Verdict.HOLDS, strict=True, interrupted=True)
    assert interrupted.coverage == Coverage.not_judged("the run was interrupted")
    assert exit_code(interrupted) is Exit.UNKNOWN
    assert exit_code(replace(interrupted, results=(PropertyResult("p", "", Verdict.REFUTED),))) is Exit.VIOLATED
