"""The multimodal chapter's diagrams draw the boxes they describe, labelled from the package's objects."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from genai_foundations.algorithms.text_to_image import DiffusionPrior, TextConditionedDenoiser  # noqa: E402
from genai_foundations.architectures.attention_unet import AttentionUNet  # noqa: E402
from genai_foundations.architectures.clip import SmallCLIP  # noqa: E402
from genai_foundations.architectures.perceiver import GatedCrossAttentionBlock, PerceiverResampler  # noqa: E402
from genai_foundations.diagrams import multimodal as D  # noqa: E402


def _texts(ax):
    return " ".join(t.get_text() for t in ax.texts)


def _gids(ax, kind):
    return {p.get_gid() for p in ax.patches if isinstance(p, kind)}


def test_draw_pipeline_boxes_arrows_and_errors():
    ax = D.draw_pipeline([D.Box("a", 0, 0, "A"), D.Box("b", 3, 0, "B"), D.Box("c", 3, 2, "C")],
                         [("a", "b", "x"), ("b", "c")])
    assert _gids(ax, FancyBboxPatch) == {"a", "b", "c"} and _gids(ax, FancyArrowPatch) == {"a->b", "b->c"}
    with pytest.raises(ValueError, match="unknown"):
        D.draw_pipeline([D.Box("a", 0, 0, "A")], [("a", "z")])
    plt.close("all")


def test_system_diagrams_are_labelled_from_the_objects():
    clip = SmallCLIP(vocab_size=10, embed_dim=24, width=32, text_depth=1, heads=2)
    ax = D.multimodal_transformer_diagram(clip, GatedCrossAttentionBlock(32, heads=4))
    assert "(B, 32)" in _texts(ax) and "shared space (24)" in _texts(ax) and "4 heads" in _texts(ax)
    prior = DiffusionPrior(24, hidden=16, depth=1)
    ax = D.dalle2_diagram(clip, prior)
    assert "DiffusionPrior (24)" in _texts(ax) and {"prior", "dec", "up1", "up2"} <= _gids(ax, FancyBboxPatch)
    denoiser = TextConditionedDenoiser(AttentionUNet(1, (16, 32), context_dim=32, num_heads=2), clip.text_encoder)
    assert "(16, 32)" in _texts(D.glide_diagram(denoiser))
    ax = D.imagen_diagram(denoiser)
    assert {"t5->sr1", "t5->sr2"} <= _gids(ax, FancyArrowPatch)
    assert "AttentionUNet" in _texts(D.stable_diffusion_diagram(denoiser))
    assert "-> 6 latents" in _texts(D.flamingo_diagram(PerceiverResampler(16, num_latents=6)))
    plt.close("all")


def test_similarity_matrix_figure():
    logits = torch.randn(4, 4)
    fig = D.similarity_matrix_figure(logits, torch.randn(4, 1, 8, 8), ["a", "b", "c", "d"], title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c", "d"] and len(ax.texts) == 16
    assert len(ax.images) == 5                                                     # the matrix and 4 digits
    with pytest.raises(ValueError):
        D.similarity_matrix_figure(torch.randn(3, 4), torch.randn(3, 1, 8, 8), ["a"] * 3)
    plt.close("all")
