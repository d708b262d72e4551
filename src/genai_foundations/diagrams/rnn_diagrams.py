"""Diagrams of the RNN chapter, drawn from the package's own recurrent cells and networks.

* :func:`draw_unrolled`: a recurrent network folded (one box per layer, with its
  loop) and unrolled over T steps (one box per layer and step, the states passed
  from step to step, the inputs from below and the outputs above), optionally
  with the backward paths of backpropagation through time;
* :func:`draw_cell`: the inside of one RNN, LSTM or GRU cell, its blocks (gates
  and candidate) with their activation, symbol and rows of the stacked weights,
  the element-wise products and sums, and the states flowing through it.

Nothing here is typed by hand that the network knows: the kind of cell, the
number of layers, the input and hidden sizes, the shapes of ``weight_ih`` and
``weight_hh``, the names, symbols, activations and order of the blocks
(:data:`~genai_foundations.architectures.recurrent.CELL_BLOCKS`) and the states a
cell carries are read from the objects passed in. What the diagrams fix is only
the layout of each kind of cell; a cell whose blocks the layout does not know
raises an error instead of being drawn wrong.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
from matplotlib import patheffects
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from torch import nn

from genai_foundations.architectures.recurrent import (
    CELL_BLOCKS, GateBlock, Recurrent, RecurrentLanguageModel, _Cell)

COLORS = {"sigmoid": "#f9cb9c", "tanh": "#b6d7a8", "relu": "#b6d7a8", "cell": "#cfe2f3", "state": "#fff2cc",
          "io": "#eeeeee", "loss": "#f4cccc"}
GRAD_COLOR = "#cc0000"
GATE_W = 1.4
_ACTIVATION_TEXT = {"sigmoid": r"$\sigma$", "tanh": "tanh", "relu": "ReLU"}


# ----------------------------------------------------------------------------- reading the objects

def _layers(network: nn.Module) -> tuple[list[_Cell], RecurrentLanguageModel | None]:
    """The cells of ``network`` (a cell, a :class:`Recurrent` or a language model), bottom layer first."""
    model = network if isinstance(network, RecurrentLanguageModel) else None
    rnn = network.rnn if model is not None else network
    if isinstance(rnn, _Cell):
        return [rnn], model
    if isinstance(rnn, Recurrent):
        return list(rnn.layers), model
    if isinstance(rnn, nn.RNNBase):  # a language model with backend="torch": draw the equivalent written-out cells
        return list(Recurrent.from_torch(rnn).layers), model
    raise TypeError(f"expected a recurrent cell, a Recurrent or a RecurrentLanguageModel, got {type(network).__name__}")


def _state_text(cell: _Cell, t: str, layer: int | None = None) -> str:
    """``h_{t}`` or ``h_{t}, c_{t}``; with ``layer``, ``h^{(l)}_{t}``..."""
    upper = "" if layer is None else f"^{{({layer})}}"
    return ", ".join(f"{name}{upper}_{{{t}}}" for name in cell.state_names)


def weight_summary(cell: _Cell) -> str:
    """``"LSTM, I = 32, H = 128: weight_ih 512x32, weight_hh 512x128"`` read from the cell's parameters."""
    return (f"{cell.mode.upper()}, I = {cell.input_size}, H = {cell.hidden_size}: "
            f"weight_ih {'x'.join(map(str, cell.weight_ih.shape))}, "
            f"weight_hh {'x'.join(map(str, cell.weight_hh.shape))}")


# ----------------------------------------------------------------------------- drawing primitives

def _new_axes(ax: plt.Axes | None, figsize: tuple[float, float]) -> plt.Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.figure.patch.set_facecolor("white")
    ax.set_facecolor("white")
    ax.set_axis_off()
    ax.set_aspect("equal")
    return ax


def _box(ax, x, y, w, h, text, color, fontsize=10, zorder=3, **kw):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03", facecolor=color,
                                edgecolor=kw.pop("edgecolor", "0.25"), linewidth=kw.pop("linewidth", 1.0),
                                zorder=zorder))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4, **kw)


def _frame(ax):
    """The outline of one step of the cell, behind everything else."""
    _box(ax, 4.6, 2.75, 9.6, 4.7, "", "#f7f9fc", edgecolor="0.6", zorder=0)


def _op(ax, x, y, symbol, r=0.22):
    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor="0.2", linewidth=1.1, zorder=3))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=11, zorder=4)


def _arrow(ax, start, end, color="0.2", lw=1.3, style="-|>", ls="-", shrink=0.0, zorder=2, mutation=11):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, color=color, linewidth=lw, linestyle=ls,
                                 shrinkA=shrink, shrinkB=shrink, mutation_scale=mutation, zorder=zorder))


def _line(ax, points, color="0.2", lw=1.3, ls="-", zorder=2, bridge=False):
    """A polyline; ``bridge=True`` draws it with a white margin, over the lines it crosses (not joined to them)."""
    xs, ys = zip(*points)
    effects = [patheffects.Stroke(linewidth=lw + 5, foreground="white"), patheffects.Normal()] if bridge else None
    ax.plot(xs, ys, color=color, linewidth=lw, linestyle=ls, zorder=zorder + (0.5 if bridge else 0),
            solid_capstyle="butt" if bridge else "round", path_effects=effects)


def _path(ax, points, color="0.2", lw=1.3, ls="-"):
    """A polyline whose last segment ends in an arrow head."""
    if len(points) > 2:
        _line(ax, points[:-1], color, lw, ls)
    _arrow(ax, points[-2], points[-1], color, lw, ls=ls)


# ----------------------------------------------------------------------------- the unrolled network

def draw_unrolled(network: nn.Module, steps: int = 4, *, input_labels: Sequence[str] | None = None,
                  output_labels: Sequence[str] | None = None, backward: bool = False, ax: plt.Axes | None = None,
                  title: str | None = None) -> plt.Axes:
    """Draw ``network`` folded (left) and unrolled over ``steps`` time steps (right).

    ``network`` is a cell (:class:`~genai_foundations.architectures.recurrent.RNNCell`,
    ``LSTMCell``, ``GRUCell``), a stacked :class:`Recurrent` or a
    :class:`RecurrentLanguageModel` (then the inputs are embedded tokens and the
    outputs the softmax over the vocabulary). One row per layer, one column per
    step; the arrows between columns carry the layer's states (:math:`h`, or
    :math:`h, c` for an LSTM) and are the same weights ``weight_hh`` at every
    step. ``input_labels`` / ``output_labels`` (one per step) annotate the
    inputs and outputs, e.g. the words read and the words predicted.
    ``backward=True`` adds the paths along which backpropagation through time
    sends the gradient of each step's loss back to earlier steps.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    for name, labels in (("input_labels", input_labels), ("output_labels", output_labels)):
        if labels is not None and len(labels) != steps:
            raise ValueError(f"{name} needs one label per step ({steps}), got {len(labels)}")
    cells, model = _layers(network)
    n_layers = len(cells)
    dx, dy, bw, bh = 2.3, 1.55, 1.25, 0.72
    fold_x, x0 = 0.0, 3.6                       # the folded network, then the first unrolled column
    y_in, y_out = -0.15, 0.95 + n_layers * dy   # rows of the inputs and of the outputs
    row_y = [0.95 + (layer + 0.5) * dy - dy / 2 + 0.3 for layer in range(n_layers)]
    width = x0 + (steps - 1) * dx + 2.6
    ax = _new_axes(ax, (min(2.0 + 1.9 * (steps + 1.4), 15.0), 1.4 + 1.25 * (n_layers + 1.6)))

    layer_tag = [k + 1 if n_layers > 1 else None for k in range(n_layers)]
    in_name = "x"
    out_name = "y" if model is not None else "h^{(%d)}" % n_layers if n_layers > 1 else "h"

    # --- folded: one box per layer with a loop back into itself
    for layer, cell in enumerate(cells):
        y = row_y[layer]
        _box(ax, fold_x, y, bw, bh, cell.mode.upper(), COLORS["cell"], fontsize=10, fontweight="bold")
        ax.add_patch(FancyArrowPatch((fold_x + bw / 2, y + 0.12), (fold_x + bw / 2, y - 0.12),
                                     connectionstyle="arc3,rad=-2.6", arrowstyle="-|>", color="0.2",
                                     linewidth=1.2, mutation_scale=10, zorder=2))
        ax.text(fold_x + bw / 2 + 0.55, y, "$" + _state_text(cell, "t-1", layer_tag[layer]) + "$", fontsize=8,
                va="center", ha="left")
        below = y_in if layer == 0 else row_y[layer - 1]
        _arrow(ax, (fold_x, below + (0.25 if layer == 0 else bh / 2)), (fold_x, y - bh / 2))
    ax.text(fold_x, y_in, f"${in_name}_t$", ha="center", va="center", fontsize=10)
    _arrow(ax, (fold_x, row_y[-1] + bh / 2), (fold_x, y_out - 0.25))
    ax.text(fold_x, y_out, f"${out_name}_t$", ha="center", va="center", fontsize=10)
    ax.text((fold_x + x0) / 2 + 0.35, (row_y[0] + row_y[-1]) / 2, "=", fontsize=22, ha="center", va="center")

    # --- unrolled
    for t in range(steps):
        x = x0 + t * dx
        tt = str(t + 1)
        ax.text(x, y_in, f"${in_name}_{{{tt}}}$", ha="center", va="center", fontsize=10)
        if input_labels is not None:
            ax.text(x, y_in - 0.42, f"\u201c{input_labels[t]}\u201d", ha="center", va="center", fontsize=9,
                    color="0.25")
        for layer, cell in enumerate(cells):
            y = row_y[layer]
            _box(ax, x, y, bw, bh, cell.mode.upper(), COLORS["cell"], fontsize=10, fontweight="bold")
            below = y_in + 0.25 if layer == 0 else row_y[layer - 1] + bh / 2
            _arrow(ax, (x, below), (x, y - bh / 2))
            start = (x - dx + bw / 2, y) if t > 0 else (x - bw / 2 - 0.75, y)
            _arrow(ax, start, (x - bw / 2, y))
            label = "$" + _state_text(cell, str(t) if t > 0 else "0", layer_tag[layer]) + "$"
            ax.text((start[0] + x - bw / 2) / 2, y + 0.13, label, ha="center", va="bottom", fontsize=8)
            if backward and t > 0:
                _arrow(ax, (x - bw / 2, y - 0.2), (x - dx + bw / 2, y - 0.2), color=GRAD_COLOR, lw=1.1, ls="--")
        _arrow(ax, (x, row_y[-1] + bh / 2), (x, y_out - 0.25))
        ax.text(x, y_out, f"${out_name}_{{{tt}}}$", ha="center", va="center", fontsize=10)
        if output_labels is not None:
            ax.text(x, y_out + 0.42, f"\u201c{output_labels[t]}\u201d", ha="center", va="center", fontsize=9,
                    color="0.25")
        if backward:
            top = y_out + (0.85 if output_labels is not None else 0.5)
            ax.text(x + 0.55, top, f"$L_{{{tt}}}$", ha="center", va="center", fontsize=9, color=GRAD_COLOR)
            _arrow(ax, (x + 0.55, top - 0.2), (x + 0.55, row_y[-1] + bh / 2 + 0.05), color=GRAD_COLOR, lw=1.1,
                   ls="--")
    last = x0 + (steps - 1) * dx
    for layer, cell in enumerate(cells):
        _arrow(ax, (last + bw / 2, row_y[layer]), (last + bw / 2 + 0.75, row_y[layer]))

    # --- what each layer is, read from its weights
    notes = [f"layer {k + 1}: {weight_summary(cell)}" for k, cell in enumerate(cells)]
    if model is not None:
        notes.insert(0, f"$x_t$ = embedding of token $t$ ({model.vocab_size} tokens \u2192 {model.embed.embedding_dim} "
                        f"numbers); $y_t$ = softmax($W_y h_t + b_y$) over {model.head.out_features} tokens")
    notes.append("the same weights at every step" + ("; dashed red: gradients of the losses $L_t$, "
                                                      "sent back through the states (BPTT)" if backward else ""))
    bottom = y_in - (0.85 if input_labels is not None else 0.55)
    for k, note in enumerate(notes):
        ax.text(-bw / 2, bottom - 0.36 * k, note, fontsize=8, ha="left", va="top", color="0.2")
    ax.set_xlim(-bw / 2 - 0.3, width)
    top = y_out + (1.15 if backward and output_labels is not None else 0.8)
    ax.set_ylim(bottom - 0.36 * len(notes) - 0.1, top)
    if title:
        ax.set_title(title)
    return ax


# ----------------------------------------------------------------------------- the inside of a cell

def _block_text(cell: _Cell, block: GateBlock) -> str:
    rows = cell.block_rows(block.name)
    return f"{_ACTIVATION_TEXT[block.activation]}\n${block.symbol}$\nrows {rows.start}-{rows.stop - 1}"


def _blocks_by_name(cell: _Cell, expected: Sequence[str]) -> dict[str, GateBlock]:
    blocks = {block.name: block for block in cell.blocks}
    if sorted(blocks) != sorted(expected):
        raise ValueError(f"the {cell.mode.upper()} layout draws the blocks {sorted(expected)}, "
                         f"but the cell has {sorted(blocks)}")
    return blocks


def _legend(ax, cell: _Cell, x, y):
    lines = [weight_summary(cell), "rows of the stacked weights, in order:"]
    for block in cell.blocks:
        rows = cell.block_rows(block.name)
        lines.append(f"  {rows.start:>4}-{rows.stop - 1:<4} ${block.symbol}$  {block.activation}: {block.role}")
    for k, text in enumerate(lines):
        ax.text(x, y - 0.34 * k, text, fontsize=8.5, ha="left", va="top", color="0.15", family="DejaVu Sans")
    return y - 0.34 * len(lines)


def _inputs(ax, cell: _Cell, bus_y: float, h_in: tuple[float, float], x_in_x: float, bus_end: float):
    """h_{t-1} enters at the left, x_t from below; both join the bus that feeds every block."""
    _line(ax, [h_in, (h_in[0] + 0.6, h_in[1]), (h_in[0] + 0.6, bus_y), (bus_end, bus_y)])
    _line(ax, [(x_in_x, -0.55), (x_in_x, bus_y)])
    ax.plot([x_in_x], [bus_y], "o", color="0.2", markersize=4, zorder=3)
    ax.text(h_in[0] - 0.1, h_in[1], "$h_{t-1}$", ha="right", va="center", fontsize=11)
    ax.text(x_in_x, -0.8, f"$x_t$ ({cell.input_size})", ha="center", va="center", fontsize=10)


def _draw_lstm(ax, cell: _Cell):
    blocks = _blocks_by_name(cell, ["i", "f", "g", "o"])
    c_y, gate_y, bus_y = 4.6, 2.2, 0.9
    gate_x = {"f": 1.6, "i": 3.3, "g": 5.0, "o": 6.9}
    add_x = (gate_x["i"] + gate_x["g"]) / 2
    _frame(ax)
    # the cell state line: c_{t-1} -> (x) f -> (+) i*g -> c_t
    _line(ax, [(-0.6, c_y), (gate_x["f"] - 0.22, c_y)])
    _op(ax, gate_x["f"], c_y, "\u00d7")
    _line(ax, [(gate_x["f"] + 0.22, c_y), (add_x - 0.22, c_y)])
    _op(ax, add_x, c_y, "+")
    _arrow(ax, (add_x + 0.22, c_y), (9.9, c_y))
    ax.text(-0.7, c_y, "$c_{t-1}$", ha="right", va="center", fontsize=11)
    ax.text(10.0, c_y, f"$c_t$ ({cell.hidden_size})", ha="left", va="center", fontsize=11)
    _inputs(ax, cell, bus_y, (-0.6, bus_y), 0.6, gate_x["o"])
    # the four blocks, fed by the bus [h_{t-1}, x_t]
    for name, x in gate_x.items():
        _line(ax, [(x, bus_y), (x, gate_y - 0.45)])
        _box(ax, x, gate_y, GATE_W, 0.9, _block_text(cell, blocks[name]), COLORS[blocks[name].activation], fontsize=7.5)
    # f -> (x) on the c line; i, g -> (x) -> (+)
    _arrow(ax, (gate_x["f"], gate_y + 0.45), (gate_x["f"], c_y - 0.22))
    _op(ax, add_x, 3.45, "\u00d7")
    _path(ax, [(gate_x["i"], gate_y + 0.45), (gate_x["i"], 3.45), (add_x - 0.22, 3.45)])
    _path(ax, [(gate_x["g"], gate_y + 0.45), (gate_x["g"], 3.45), (add_x + 0.22, 3.45)])
    _arrow(ax, (add_x, 3.45 + 0.22), (add_x, c_y - 0.22))
    # h_t = o * tanh(c_t); the copy of h_t that leaves upwards passes over the c line
    _box(ax, 8.3, 3.6, 0.75, 0.42, "tanh", COLORS["tanh"], fontsize=8)
    _arrow(ax, (8.3, c_y), (8.3, 3.6 + 0.21))
    _op(ax, 8.3, 2.2, "\u00d7")
    _arrow(ax, (8.3, 3.6 - 0.21), (8.3, 2.2 + 0.22))
    _arrow(ax, (gate_x["o"] + GATE_W / 2, gate_y), (8.3 - 0.22, 2.2))
    _line(ax, [(8.3 + 0.22, 2.2), (9.1, 2.2)])
    _path(ax, [(9.1, 2.2), (9.1, 0.35), (9.9, 0.35)])
    _line(ax, [(9.1, 2.2), (9.1, 3.0)])
    _line(ax, [(9.1, 2.9), (9.1, 5.55)], bridge=True)
    _arrow(ax, (9.1, 5.5), (9.1, 5.75))
    ax.text(10.0, 0.35, f"$h_t$ ({cell.hidden_size})", ha="left", va="center", fontsize=11)
    ax.text(9.1, 5.95, "$h_t$ (to the output and the next layer)", ha="center", va="bottom", fontsize=9)
    return -1.25


def _draw_gru(ax, cell: _Cell):
    blocks = _blocks_by_name(cell, ["r", "z", "n"])
    h_y, gate_y, bus_y = 4.6, 2.2, 0.9
    r_x, reset_x, z_x, n_x, keep_x, add_x = 1.4, 2.55, 3.75, 5.85, 5.2, 8.0
    _frame(ax)
    # the state line: h_{t-1} -> (x) z -> (+) (1 - z) * n -> h_t
    _line(ax, [(-0.6, h_y), (keep_x - 0.22, h_y)])
    _op(ax, keep_x, h_y, "\u00d7")
    _line(ax, [(keep_x + 0.22, h_y), (add_x - 0.22, h_y)])
    _op(ax, add_x, h_y, "+")
    _arrow(ax, (add_x + 0.22, h_y), (9.9, h_y))
    ax.text(-0.7, h_y, "$h_{t-1}$", ha="right", va="center", fontsize=11)
    ax.text(10.0, h_y, f"$h_t$ ({cell.hidden_size})", ha="left", va="center", fontsize=11)
    # h_{t-1} and x_t feed the two gates
    _line(ax, [(0.2, h_y), (0.2, bus_y), (z_x, bus_y)])
    ax.plot([0.2], [h_y], "o", color="0.2", markersize=4, zorder=3)
    _line(ax, [(0.9, -0.55), (0.9, bus_y)])
    ax.plot([0.9], [bus_y], "o", color="0.2", markersize=4, zorder=3)
    ax.text(0.9, -0.8, f"$x_t$ ({cell.input_size})", ha="center", va="center", fontsize=10)
    for name, x in (("r", r_x), ("z", z_x)):
        _line(ax, [(x, bus_y), (x, gate_y - 0.45)])
        _box(ax, x, gate_y, GATE_W, 0.9, _block_text(cell, blocks[name]), COLORS[blocks[name].activation], fontsize=7.5)
    # z -> (x) h_{t-1} on the state line, and 1 - z -> (x) n
    _path(ax, [(z_x, gate_y + 0.45), (z_x, 3.9), (keep_x, 3.9), (keep_x, h_y - 0.22)])
    _box(ax, 6.55, 3.9, 0.55, 0.36, "1\u2212", COLORS["io"], fontsize=8)
    _arrow(ax, (keep_x, 3.9), (6.55 - 0.28, 3.9))
    _op(ax, add_x, 3.3, "\u00d7")
    _path(ax, [(6.55 + 0.28, 3.9), (7.4, 3.9), (7.4, 3.3), (add_x - 0.22, 3.3)])
    _arrow(ax, (add_x, 3.3 + 0.22), (add_x, h_y - 0.22))
    # the candidate: n = tanh(W_xn x + b_xn + r * (W_hn h + b_hn)); its line passes over the z line
    _box(ax, reset_x, 3.65, 1.35, 0.42, "$W_{hn} h_{t-1} + b_{hn}$", COLORS["io"], fontsize=7)
    _arrow(ax, (reset_x, h_y), (reset_x, 3.65 + 0.21))
    _op(ax, reset_x, 2.95, "\u00d7")
    _arrow(ax, (reset_x, 3.65 - 0.21), (reset_x, 2.95 + 0.22))
    _path(ax, [(r_x, gate_y + 0.45), (r_x, 2.95), (reset_x - 0.22, 2.95)])
    _line(ax, [(reset_x + 0.22, 2.95), (4.4, 2.95)], bridge=True)
    _line(ax, [(4.3, 2.95), (4.75, 2.95)])
    _path(ax, [(4.75, 2.95), (4.75, gate_y + 0.15), (n_x - GATE_W / 2, gate_y + 0.15)])
    _box(ax, n_x, gate_y, GATE_W, 0.9, _block_text(cell, blocks["n"]), COLORS[blocks["n"].activation], fontsize=7.5)
    _path(ax, [(0.9, -0.3), (0.9, -0.15), (n_x, -0.15), (n_x, gate_y - 0.45)])
    ax.text(n_x + 0.08, 0.1, "$W_{xn} x_t + b_{xn}$", ha="left", va="center", fontsize=7)
    _path(ax, [(n_x + GATE_W / 2, gate_y), (add_x, gate_y), (add_x, 3.3 - 0.22)])
    return -1.25


def _draw_rnn(ax, cell: _Cell):
    (block,) = _blocks_by_name(cell, ["h"]).values()
    _frame(ax)
    _inputs(ax, cell, 0.9, (-0.6, 0.9), 1.2, 4.6)
    _line(ax, [(4.6, 0.9), (4.6, 2.2 - 0.45)])
    _box(ax, 4.6, 2.2, GATE_W, 0.9, _block_text(cell, block), COLORS[block.activation], fontsize=8)
    _path(ax, [(4.6, 2.65), (4.6, 3.6), (9.9, 3.6)])
    ax.text(10.0, 3.6, f"$h_t$ ({cell.hidden_size})", ha="left", va="center", fontsize=11)
    return -1.25


_LAYOUTS = {"rnn": _draw_rnn, "lstm": _draw_lstm, "gru": _draw_gru}


def draw_cell(cell: _Cell, ax: plt.Axes | None = None, title: str | None = None, legend: bool = True) -> plt.Axes:
    """Draw the inside of ``cell`` (an ``RNNCell``, ``LSTMCell`` or ``GRUCell`` of the package).

    Each block of the cell's stacked weights is a box showing its activation
    (orange: sigmoid, a gate in [0, 1]; green: tanh), its symbol and the rows of
    ``weight_ih`` / ``weight_hh`` that compute it; circles are element-wise
    products and sums. The legend (``legend=True``) lists the blocks in the
    order the cell function splits them, with their roles, and the weights'
    shapes, all read from the cell.
    """
    if not isinstance(cell, _Cell):
        raise TypeError(f"expected RNNCell, LSTMCell or GRUCell, got {type(cell).__name__}")
    if cell.mode not in _LAYOUTS or set(CELL_BLOCKS) != set(_LAYOUTS):
        raise ValueError(f"no layout for a {cell.mode!r} cell")
    ax = _new_axes(ax, (9.5, 6.6 if legend else 4.6))
    bottom = _LAYOUTS[cell.mode](ax, cell)
    if legend:
        bottom = _legend(ax, cell, -0.6, bottom)
    ax.set_xlim(-1.6, 11.9)
    ax.set_ylim(bottom - 0.1, 6.4)
    ax.set_title(title if title is not None else f"inside one {cell.mode.upper()} step")
    return ax
