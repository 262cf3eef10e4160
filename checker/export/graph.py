"""The explicit state graph of a small system, for graph viewers (DOT, GraphML).

A breadth-first search over the compiled successor function (`checker.compile`), the
same states and transitions the explicit engines count. Nodes are states in BFS order
(`s0` initial), labelled with their valuation and the checked properties they violate;
edges are labelled with the action. Drawing a graph only makes sense for small state
spaces, so the search stops with `TooManyStates` past a limit.
"""

from __future__ import annotations

from collections.abc import Collection

import networkx as nx

from dmabuf_mc.checker.compile import compile_system
from dmabuf_mc.checker.export.step import checked
from dmabuf_mc.checker.ts import TransitionSystem

MAX_STATES = 10_000


class TooManyStates(Exception):
    """The state graph has more states than the limit allows drawing."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the state graph has more than {limit:,} states; "
                         "export it as promela or tla, or raise --max-states")


def state_graph(ts: TransitionSystem, properties: Collection[str] | None = None,
                dropped: frozenset[str] = frozenset(), max_states: int = MAX_STATES) -> nx.MultiDiGraph:
    """Every reachable state and transition; raises TooManyStates past `max_states`."""
    model = compile_system(ts, dropped)
    wanted = {p.name for p in checked(ts, properties)}
    index = {model.initial: 0}
    order = [model.initial]
    g = nx.MultiDiGraph(name=ts.name)
    for i, s in enumerate(order):
        acts, outs = model.successors(s)
        for a, t in zip(acts, outs, strict=True):
            if t not in index:
                if len(order) == max_states:
                    raise TooManyStates(max_states)
                index[t] = len(order)
                order.append(t)
            g.add_edge(f"s{i}", f"s{index[t]}", action=ts.actions[a].label)
    for i, s in enumerate(order):
        bad = model.observe(s)
        values = model.unpack(s)
        g.add_node(f"s{i}", initial=i == 0, final=bool(model.is_final(s)),
                   label="\n".join(f"{v.name}={v.domain.labels[values[v.name]]}" for v in ts.variables),
                   violates=", ".join(p.name for k, p in enumerate(ts.properties) if bad >> k & 1 and p.name in wanted))
    return g


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(g: nx.MultiDiGraph) -> str:
    """The graph in Graphviz DOT: violating states red, the initial state bold."""
    lines = [f"digraph {_quote(g.graph['name'])} {{", "    node [shape=box, fontname=monospace];"]
    for node, d in g.nodes(data=True):
        label = str(d["label"]) + (f"\nviolates: {d['violates']}" if d["violates"] else "")
        style = (", color=red" if d["violates"] else "") + (", style=bold" if d["initial"] else "")
        lines.append(f"    {node} [label={_quote(label)}{style}];")
    lines += [f"    {u} -> {v} [label={_quote(d['action'])}];" for u, v, d in g.edges(data=True)]
    return "\n".join([*lines, "}"]) + "\n"


def graphml(g: nx.MultiDiGraph) -> str:
    """The graph in GraphML, every attribute kept."""
    return "\n".join(nx.generate_graphml(g)) + "\n"
