"""Diagrams of chapter 7 read the models: MADE's drawn connections are its masks, the conv stack's are its dilations."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from genai_foundations.architectures.causal_conv import CausalConvLM  # noqa: E402
from genai_foundations.architectures.made import MADE  # noqa: E402
from genai_foundations.diagrams.autoregressive import (causal_conv_edges, draw_causal_conv, draw_made,  # noqa: E402
                                                       draw_sampling_loop, made_connections)


def test_made_diagram_draws_exactly_the_masks():
    model = MADE(4, (5, 5), seed=0)
    degrees, edges = made_connections(model)
    assert degrees[0] == degrees[-1] == [1, 2, 3, 4]
    assert [len(e) for e in edges] == [int(layer.mask.sum()) for layer in model.layers]
    ax = draw_made(model, names=["x1", "x2", "x3", "x4"])
    assert len(ax.lines) == sum(len(e) for e in edges)
    assert ax.figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    plt.close("all")


def test_causal_conv_diagram_reaches_the_receptive_field():
    model = CausalConvLM(10, channels=4, kernel_size=2, dilations=(1, 2, 4))
    layers = causal_conv_edges(model, 16)
    assert all(frm <= to for pairs in layers for to, frm in pairs)
    assert (15, 11) in layers[2] and (15, 13) in layers[1]
    ax = draw_causal_conv(model, 16)
    red = [c for c in ax.collections if c.get_offsets().shape[0] and tuple(c.get_facecolor()[0][:3]) != (1.0, 1.0, 1.0)]
    assert len(red[-1].get_offsets()) == model.receptive_field              # the last output's inputs, in colour
    plt.close("all")


def test_sampling_loop_diagram():
    records = [{"context": "def", "candidates": [(" ", 0.6), ("a", 0.2)], "chosen": " "},
               {"context": "def ", "candidates": [("f", 0.3), ("g", 0.1)], "chosen": "g"}]
    ax = draw_sampling_loop(records)
    texts = [t.get_text() for t in ax.texts]
    assert "append 'g'" in texts and any("0.60" in t for t in texts)
    plt.close("all")
