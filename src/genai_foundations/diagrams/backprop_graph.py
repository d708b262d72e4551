"""The computational graph of a scalar expression, drawn from the engine's own nodes (chapter 11).

:func:`graph_layout` walks the graph below a :class:`~genai_foundations.architectures.scalar_autograd.Value`
in the engine's topological order and places every node: a node that was
computed sits one column to the right of its deepest input, a leaf (an input,
a parameter or a constant) sits just left of the first node that uses it.
:func:`draw_computational_graph` draws that layout with matplotlib: one box
per node with its name, its value and its adjoint :math:`\\bar u = \\partial L/\\partial u`,
and a circle for the operation that produced it. Every number in the picture
is read from the ``Value`` objects, so the drawing cannot disagree with the
engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from genai_foundations.architectures.scalar_autograd import Value, topological_order

BOX_W, BOX_H = 1.35, 0.62
OP_R = 0.17
COL_DX, ROW_DY = 2.3, 0.95
MAX_NODES = 200

_OP_SYMBOLS = {"+": "+", "*": "×", "exp": "exp", "log": "log", "tanh": "tanh", "sigmoid": "σ", "relu": "relu"}


@dataclass(frozen=True)
class NodeBox:
    """One drawn node: its name, operation, value, adjoint and position (column, row)."""

    name: str
    op: str
    data: float
    grad: float
    column: int
    row: float
    is_leaf: bool


@dataclass(frozen=True)
class GraphLayout:
    """The nodes of a graph in topological order and its edges as (input index, output index)."""

    nodes: list[NodeBox]
    edges: list[tuple[int, int]]


def _op_symbol(op: str) -> str:
    if op.startswith("**"):
        exponent = float(op[2:])
        if exponent.is_integer():
            return "x" + str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
        return f"x^{exponent:g}"
    return _OP_SYMBOLS.get(op, op)


def graph_layout(root: Value) -> GraphLayout:
    """Columns and rows for every node below ``root`` (names as in :func:`~genai_foundations.architectures.scalar_autograd.graph_table`)."""
    if not isinstance(root, Value):
        raise TypeError(f"expected a scalar_autograd.Value, got {type(root).__name__}")
    order = topological_order(root)
    if len(order) > MAX_NODES:  # the recursive walk below and the drawing are meant for small graphs
        raise ValueError(f"the graph has {len(order)} nodes; draw a smaller expression (at most {MAX_NODES})")
    index = {id(node): i for i, node in enumerate(order)}
    children: dict[int, list[int]] = {i: [] for i in range(len(order))}
    edges = []
    for i, node in enumerate(order):
        for parent in node.parents:
            edges.append((index[id(parent)], i))
            children[index[id(parent)]].append(i)

    # columns: computed nodes one right of their deepest input; leaves just left of their first user
    column = [0] * len(order)
    for i, node in enumerate(order):
        if not node.is_leaf:
            column[i] = 1 + max(column[index[id(p)]] for p in node.parents)
    for i, node in enumerate(order):
        if node.is_leaf and children[i]:
            column[i] = min(column[c] for c in children[i]) - 1

    # rows: leaves in the order a depth-first walk from the output meets them, computed nodes
    # at the mean row of their inputs; then nodes sharing a column are pushed apart
    row = [0.0] * len(order)
    seen: set[int] = set()
    leaf_rank = 0

    def visit(i: int) -> None:
        nonlocal leaf_rank
        if i in seen:
            return
        seen.add(i)
        node = order[i]
        if node.is_leaf:
            row[i] = float(leaf_rank)
            leaf_rank += 1
            return
        for parent in node.parents:
            visit(index[id(parent)])
        row[i] = sum(row[index[id(p)]] for p in node.parents) / len(node.parents)

    visit(len(order) - 1)
    for col in sorted(set(column)):
        members = sorted((i for i in range(len(order)) if column[i] == col), key=lambda i: row[i])
        for a, b in zip(members, members[1:]):
            if row[b] < row[a] + 1.0:
                row[b] = row[a] + 1.0

    names = {}
    for i, node in enumerate(order):
        names[i] = node.label or f"n{i}"
    nodes = [NodeBox(names[i], node.op or "leaf", node.data, node.grad, column[i], row[i], node.is_leaf)
             for i, node in enumerate(order)]
    return GraphLayout(nodes, edges)


def draw_computational_graph(root: Value, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw the graph below ``root``: boxes (name, value, adjoint) and operation circles, inputs on the left.

    Call it after ``root.backward()`` to show the adjoints; before, they are 0.
    Parameters and inputs (labelled leaves) are shaded blue, unlabelled
    constants grey, computed nodes white, and the output orange.
    """
    layout = graph_layout(root)
    n_cols = max(n.column for n in layout.nodes) + 1
    n_rows = max(n.row for n in layout.nodes) + 1
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.55 * n_cols + 0.6, 0.85 * n_rows + 0.9))
    ax.figure.patch.set_facecolor("white")
    ax.set_facecolor("white")

    def centre(node: NodeBox) -> tuple[float, float]:
        return node.column * COL_DX, -node.row * ROW_DY

    for i, node in enumerate(layout.nodes):
        x, y = centre(node)
        if node.is_leaf:
            face = "#dbe9f6" if node.name and not node.name.startswith("n") else "#eeeeee"
        else:
            face = "#fde3c8" if i == len(layout.nodes) - 1 else "white"
        ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                    boxstyle="round,pad=0.02,rounding_size=0.08", fc=face, ec="0.25", lw=0.9))
        ax.text(x, y + 0.17, node.name, ha="center", va="center", fontsize=8.5, fontweight="bold")
        ax.text(x, y - 0.02, f"value {node.data:.4g}", ha="center", va="center", fontsize=7.2)
        ax.text(x, y - 0.19, f"grad {node.grad:.4g}", ha="center", va="center", fontsize=7.2, color="C3")
        if not node.is_leaf:  # the operation that produced it, just to its left
            ox, oy = x - BOX_W / 2 - 0.33, y
            ax.add_patch(Circle((ox, oy), OP_R, fc="#f3f3f3", ec="0.3", lw=0.8))
            ax.text(ox, oy, _op_symbol(node.op), ha="center", va="center", fontsize=7.5)
            ax.add_patch(FancyArrowPatch((ox + OP_R, oy), (x - BOX_W / 2, y), arrowstyle="-|>",
                                         mutation_scale=8, lw=0.8, color="0.3"))
    for src, dst in layout.edges:
        (x0, y0), (x1, y1) = centre(layout.nodes[src]), centre(layout.nodes[dst])
        ox = x1 - BOX_W / 2 - 0.33
        ax.add_patch(FancyArrowPatch((x0 + BOX_W / 2, y0), (ox - OP_R, y1), arrowstyle="-|>", mutation_scale=8,
                                     lw=0.8, color="0.45", connectionstyle="arc3,rad=0.0", shrinkA=0, shrinkB=1))
    ax.set_xlim(-BOX_W, (n_cols - 1) * COL_DX + BOX_W)
    ax.set_ylim(-(n_rows - 1) * ROW_DY - BOX_H, BOX_H)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
