"""The explicit engine on small classic systems whose answers are known independently:
by formula, or by a brute-force search written directly in Python in this file."""

from __future__ import annotations

from collections import deque

import pytest

from dmabuf_mc.checker.check import check
from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.engines.explicit import Limits, explore
from dmabuf_mc.checker.ir import TRUE, Const, Expr, add, and_, eq, lt, ne, not_, or_
from dmabuf_mc.checker.run import exit_code
from dmabuf_mc.checker.trace import DEADLOCK, replay
from dmabuf_mc.checker.ts import BOOL, Effect, Property, TransitionSystem, Var, action, bounded, enum
from dmabuf_mc.checker.verdict import Verdict


def toggles(n: int) -> TransitionSystem:
    """n independent bits, each flipped by its own action."""
    bits = [Var(f"b{i}") for i in range(n)]
    acts = []
    for i, b in enumerate(bits):
        eff = Effect()
        eff.set(b, not_(eq(b.ref, TRUE)))
        acts.append(action("flip", (str(i),), "t", TRUE, eff))
    return TransitionSystem("toggles", tuple(bits), {b.name: 0 for b in bits}, tuple(acts), ())


def test_toggles_reach_every_valuation_once():
    n = 7
    seen = explore(compile_system(toggles(n)), [])
    assert seen.stats.states == 2**n
    assert seen.stats.transitions == n * 2**n
    assert seen.stats.depth == n
    assert seen.complete and seen.deadlocks == 0


def triangle(n: int) -> TransitionSystem:
    """x counts up to n; y counts up only while y < x: (n+1)(n+2)/2 states."""
    x, y = Var("x", bounded("0..n", n)), Var("y", bounded("0..n", n))
    inc_x, inc_y = Effect(), Effect()
    inc_x.set(x, _plus1(x))
    inc_y.set(y, _plus1(y))
    acts = (
        action("inc", ("x",), "t", lt(x.ref, _c(n)), inc_x),
        action("inc", ("y",), "t", lt(y.ref, x.ref), inc_y),
    )
    return TransitionSystem("triangle", (x, y), {"x": 0, "y": 0}, acts, (), final=and_(x.eq(n), y.eq(n)))


def _c(v: int) -> Const:
    return Const(v)


def _plus1(v: Var) -> Expr:
    return add(v.ref, Const(1))


@pytest.mark.parametrize("n", [1, 4, 9])
def test_triangle_state_count_matches_formula(n):
    seen = explore(compile_system(triangle(n)), [])
    assert seen.stats.states == (n + 1) * (n + 2) // 2
    assert seen.deadlocks == 0  # the only state with no successor is final


FORK = enum("fork", "free", "left", "right")


def philosophers(n: int) -> TransitionSystem:
    """Dining philosophers who take the left fork, then the right, then put both down."""
    hold = [Var(f"p{i}", enum("holds", "none", "left", "both")) for i in range(n)]
    fork = [Var(f"f{i}", FORK) for i in range(n)]
    acts = []
    for i in range(n):
        left, right = fork[i], fork[(i + 1) % n]
        e = Effect()
        e.set(hold[i], "left")
        e.set(left, "right")  # held by the philosopher on its right
        acts.append(action("take_left", (str(i),), f"p{i}", and_(hold[i].eq("none"), left.eq("free")), e))
        e = Effect()
        e.set(hold[i], "both")
        e.set(right, "left")
        acts.append(action("take_right", (str(i),), f"p{i}", and_(hold[i].eq("left"), right.eq("free")), e))
        e = Effect()
        e.set(hold[i], "none")
        e.set(left, "free")
        e.set(right, "free")
        acts.append(action("put_down", (str(i),), f"p{i}", hold[i].eq("both"), e))
    init = {v.name: 0 for v in hold + fork}
    return TransitionSystem("philosophers", tuple(hold + fork), init, tuple(acts), ())


def brute_force_philosophers(n: int) -> tuple[int, int]:
    """Reachable states and deadlocked states, by a direct search over tuples."""
    start = (("none",) * n, ("free",) * n)
    seen, queue, dead = {start}, deque([start]), 0
    while queue:
        hold, fork = queue.popleft()
        succ = []
        for i in range(n):
            lf, r = i, (i + 1) % n
            if hold[i] == "none" and fork[lf] == "free":
                succ.append((hold[:i] + ("left",) + hold[i + 1 :], fork[:lf] + ("right",) + fork[lf + 1 :]))
            if hold[i] == "left" and fork[r] == "free":
                succ.append((hold[:i] + ("both",) + hold[i + 1 :], fork[:r] + ("left",) + fork[r + 1 :]))
            if hold[i] == "both":
                f = list(fork)
                f[lf] = f[r] = "free"
                succ.append((hold[:i] + ("none",) + hold[i + 1 :], tuple(f)))
        dead += not succ
        for s in succ:
            if s not in seen:
                seen.add(s)
                queue.append(s)
    return len(seen), dead


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_philosophers_counts_and_deadlock_match_brute_force(n):
    ts = philosophers(n)
    report = check(ts)
    states, dead = brute_force_philosophers(n)
    assert report.stats.states == states
    assert report.deadlocks == dead == 1  # everyone holding the left fork
    assert report.deadlock is not None and len(report.deadlock) == n  # shortest: n take_left
    assert report.deadlock.violates == DEADLOCK
    assert replay(report.deadlock) == n


def peterson(broken: bool) -> TransitionSystem:
    """Peterson's mutual exclusion for two processes; the broken variant forgets to raise
    its flag, so both may enter."""
    pc = [Var(f"pc{i}", enum("pc", "idle", "flagged", "waiting", "critical")) for i in range(2)]
    flag = [Var(f"flag{i}", BOOL) for i in range(2)]
    turn = Var("turn", bounded("proc", 1))
    acts = []
    for i in range(2):
        j = 1 - i
        e = Effect()
        if not broken:
            e.set(flag[i], TRUE)
        e.set(pc[i], "flagged")
        acts.append(action("set_flag", (str(i),), f"p{i}", pc[i].eq("idle"), e))
        e = Effect()
        e.set(turn, j)
        e.set(pc[i], "waiting")
        acts.append(action("give_turn", (str(i),), f"p{i}", pc[i].eq("flagged"), e))
        e = Effect()
        e.set(pc[i], "critical")
        may_enter = or_(flag[j].eq(False), turn.eq(i))
        acts.append(action("enter", (str(i),), f"p{i}", and_(pc[i].eq("waiting"), may_enter), e))
        e = Effect()
        e.set(flag[i], 0)
        e.set(pc[i], "idle")
        acts.append(action("leave", (str(i),), f"p{i}", pc[i].eq("critical"), e))
    mutex = Property("mutex", "never both critical", not_(and_(pc[0].eq("critical"), pc[1].eq("critical"))))
    variables = (*pc, *flag, turn)
    return TransitionSystem("peterson", variables, {v.name: 0 for v in variables}, tuple(acts), (mutex,))


def test_peterson_holds_and_its_broken_variant_is_refuted():
    good = check(peterson(broken=False))
    assert good.results[0].verdict is Verdict.HOLDS
    assert good.stats.states == brute_force_peterson()
    bad = check(peterson(broken=True))
    assert bad.results[0].verdict is Verdict.REFUTED
    trace = bad.results[0].counterexample
    # With no flag raised, each process walks idle -> flagged -> waiting -> critical.
    assert len(trace) == 6
    assert replay(trace) == 6


def brute_force_peterson() -> int:
    """Reachable states of the correct algorithm by direct search."""
    start = (("idle", "idle"), (False, False), 0)
    seen, queue = {start}, deque([start])
    while queue:
        pc, flag, turn = queue.popleft()
        for i in range(2):
            j = 1 - i
            p, f, t = list(pc), list(flag), turn
            if pc[i] == "idle":
                p[i], f[i] = "flagged", True
            elif pc[i] == "flagged":
                p[i], t = "waiting", j
            elif pc[i] == "waiting" and (not flag[j] or turn == i):
                p[i] = "critical"
            elif pc[i] == "critical":
                p[i], f[i] = "idle", False
            else:
                continue
            nxt = (tuple(p), tuple(f), t)
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return len(seen)


def test_state_limit_gives_unknown_not_holds():
    report = check(peterson(broken=False), limits=Limits(max_states=5))
    assert report.results[0].verdict is Verdict.UNKNOWN
    assert report.stopped and "state limit" in report.stopped
    assert exit_code(report) == 3


def test_depth_limit_reports_the_depth():
    seen = explore(compile_system(toggles(6)), [], Limits(max_depth=2))
    assert seen.stopped == "depth limit 2 reached"
    assert seen.stats.states == 1 + 6 + 15  # paths of at most two steps


def test_unused_guard_conjunct_ne_compiles():
    x = Var("x", bounded("x", 3))
    e = Effect()
    e.set(x, _plus1(x))
    ts = TransitionSystem("count", (x,), {"x": 0}, (action("inc", (), "t", ne(x.ref, _c(3)), e),), ())
    assert explore(compile_system(ts), []).stats.states == 4
