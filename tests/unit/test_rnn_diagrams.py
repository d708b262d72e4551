"""The RNN chapter's diagrams are drawn from the package's cells: labels, sizes and blocks come from the objects."""

from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from genai_foundations.architectures import recurrent  # noqa: E402
from genai_foundations.architectures.recurrent import (  # noqa: E402
    GRUCell, LSTMCell, Recurrent, RecurrentLanguageModel, RNNCell)
from genai_foundations.diagrams.rnn_diagrams import draw_cell, draw_unrolled, weight_summary  # noqa: E402


def _texts(ax):
    return [t.get_text() for t in ax.texts]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("cell", [RNNCell(3, 5), LSTMCell(7, 16), GRUCell(4, 9)], ids=["rnn", "lstm", "gru"])
def test_cell_diagram_shows_every_block_with_its_rows_and_the_weight_shapes(cell):
    ax = draw_cell(cell)
    text = "\n".join(_texts(ax))
    assert ax.figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    for block in cell.blocks:
        rows = cell.block_rows(block.name)
        assert f"${block.symbol}$" in text and f"rows {rows.start}-{rows.stop - 1}" in text and block.role in text
    assert weight_summary(cell) in text
    gates = len(cell.blocks)
    assert f"weight_ih {gates * cell.hidden_size}x{cell.input_size}" in text
    assert f"({cell.hidden_size})" in text and f"({cell.input_size})" in text


def test_a_cell_the_layout_does_not_know_is_not_drawn(monkeypatch):
    renamed = tuple(dataclasses.replace(b, name=b.name.upper()) for b in recurrent.CELL_BLOCKS["gru"])
    monkeypatch.setitem(recurrent.CELL_BLOCKS, "gru", renamed)
    with pytest.raises(ValueError, match="blocks"):
        draw_cell(GRUCell(2, 3))
    with pytest.raises(TypeError):
        draw_cell(nn.Linear(2, 3))


def test_unrolled_diagram_has_one_box_per_layer_and_step_and_reads_the_sizes():
    net = Recurrent("lstm", 5, 8, num_layers=2)
    ax = draw_unrolled(net, steps=3, backward=True)
    texts = _texts(ax)
    assert texts.count("LSTM") == 2 * (3 + 1)                       # folded (one per layer) + unrolled
    joined = "\n".join(texts)
    assert "layer 1: LSTM, I = 5, H = 8: weight_ih 32x5, weight_hh 32x8" in joined
    assert "layer 2: LSTM, I = 8, H = 8: weight_ih 32x8, weight_hh 32x8" in joined
    assert "$h^{(2)}_{2}, c^{(2)}_{2}$" in texts and "$L_{3}$" in texts
    assert sum(1 for t in texts if t.startswith("$L_")) == 3


def test_unrolled_language_model_with_labels_and_a_torch_backend():
    torch.manual_seed(0)
    model = RecurrentLanguageModel(13, 8, 32, mode="gru", backend="torch")
    ax = draw_unrolled(model, steps=2, input_labels=["i", "love"], output_labels=["love", "deep"])
    texts = _texts(ax)
    assert texts.count("GRU") == 3 and "\u201clove\u201d" in texts and "\u201cdeep\u201d" in texts
    assert any("13 tokens" in t and "8 numbers" in t for t in texts)
    with pytest.raises(ValueError, match="one label per step"):
        draw_unrolled(model, steps=3, input_labels=["i"])
    with pytest.raises(TypeError):
        draw_unrolled(nn.Linear(2, 2))
