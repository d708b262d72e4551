"""The computational-graph diagram of chapter 11 shows exactly the engine's nodes, edges, values and adjoints."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from genai_foundations.architectures import backprop  # noqa: E402
from genai_foundations.architectures.scalar_autograd import Value, graph_table, topological_order  # noqa: E402
from genai_foundations.diagrams.backprop_graph import draw_computational_graph, graph_layout  # noqa: E402


def worked_example_graph() -> Value:
    p = {k: Value(backprop.WORKED_EXAMPLE[k], label=k) for k in backprop.PARAMETERS}
    x, y = Value(2.0, label="x"), Value(0.8, label="y")
    z1 = p["w1"] * x + p["b1"]
    a1 = z1.sigmoid()
    loss = 0.5 * (p["w2"] * a1 + p["b2"] - y) ** 2
    loss.backward()
    return loss


def test_layout_has_the_engines_nodes_and_edges():
    loss = worked_example_graph()
    layout = graph_layout(loss)
    order = topological_order(loss)
    assert len(layout.nodes) == len(order)
    assert len(layout.edges) == sum(len(node.parents) for node in order)
    table = graph_table(loss)
    assert [n.name for n in layout.nodes] == [row["node"] for row in table]
    assert [(n.data, n.grad) for n in layout.nodes] == [(row["data"], row["grad"]) for row in table]
    for src, dst in layout.edges:  # every edge runs from left to right
        assert layout.nodes[src].column < layout.nodes[dst].column
    by_column: dict[int, list[float]] = {}
    for node in layout.nodes:
        by_column.setdefault(node.column, []).append(node.row)
    for rows in by_column.values():  # no two boxes on top of each other
        rows.sort()
        assert all(b - a >= 1.0 for a, b in zip(rows, rows[1:]))
    assert layout.nodes[-1].column == max(n.column for n in layout.nodes)  # the loss on the right


def test_drawing_prints_every_value_and_adjoint_of_the_engine():
    loss = worked_example_graph()
    ax = draw_computational_graph(loss, title="worked example")
    texts = {t.get_text() for t in ax.texts}
    for node in topological_order(loss):
        assert f"value {node.data:.4g}" in texts and f"grad {node.grad:.4g}" in texts
    assert "grad 0.602" in texts and "value 1.172" in texts  # dL/dw1 and the loss of the worked example
    assert ax.figure.patch.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    plt.close(ax.figure)


def test_layout_rejects_what_it_cannot_draw():
    with pytest.raises(TypeError, match="Value"):
        graph_layout(1.0)
    big = Value(0.0)
    for k in range(150):
        big = big + Value(float(k))
    with pytest.raises(ValueError, match="smaller expression"):
        graph_layout(big)
