"""The ViT/DiT chapter's diagrams are drawn from the package objects: their labels carry the objects' shapes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from genai_foundations.architectures.attention_unet import AttentionUNet  # noqa: E402
from genai_foundations.architectures.dit import DiT  # noqa: E402
from genai_foundations.architectures.vit import ViT  # noqa: E402
from genai_foundations.diagrams.vit_dit import (attention_unet_stages, dit_stages, draw_adaln_block,  # noqa: E402
                                                draw_attention_unet, draw_flow, draw_patch_grid, vit_stages)


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title])


def test_patch_grid_numbers_every_patch_and_states_the_token_shape():
    fig = draw_patch_grid(torch.rand(1, 8, 8), 2)
    text = _texts(fig)
    assert "N = 8*8/2^2 = 16" in text and "[1, 16, 4]" in text
    assert all(str(i) in text.split() for i in range(16))
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="divide"):
        draw_patch_grid(torch.rand(1, 7, 8), 2)
    plt.close("all")


def test_vit_flow_has_the_traced_shapes():
    vit = ViT(224, 16, in_channels=3, dim=32, depth=2, num_heads=4, mlp_dim=64, num_classes=7)
    stages = vit_stages(vit, torch.zeros(1, 3, 224, 224))
    shapes = dict(stages)
    assert shapes["patchify"] == (1, 196, 768) and shapes["[cls] + positions"] == (1, 197, 32)
    assert shapes["encoder block 2"] == (1, 197, 32) and shapes["class token"] == (1, 32) and shapes["logits"] == (1, 7)
    fig = draw_flow(stages)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == len(stages) == 9
    assert "[1, 197, 32]" in _texts(fig)
    plt.close("all")


def test_dit_flow_and_adaln_block():
    dit = DiT(input_size=8, in_channels=4, patch_size=2, dim=32, depth=2, num_heads=4, num_classes=10)
    stages = dict(dit_stages(dit, torch.zeros(2, 4, 8, 8), 0.5, torch.tensor([1, 2])))
    assert stages["patchify"] == (2, 16, 16) and stages["condition c (t, y)"] == (2, 32)
    assert stages["final layer"] == (2, 16, 16) and stages["unpatchify: predicted noise"] == (2, 4, 8, 8)
    text = _texts(draw_adaln_block(dit.blocks[0], tokens=16))
    assert "Linear 32 → 192\nzero at init" in text and "[B, 16, 32]" in text and "32 → 128 → 32" in text
    with torch.no_grad():
        dit.blocks[0].adaLN.weight.add_(1.0)
    assert "zero at init" not in _texts(draw_adaln_block(dit.blocks[0]))
    plt.close("all")


def test_attention_unet_diagram_marks_the_attention_blocks():
    net = AttentionUNet(channels=(16, 32, 32), context_dim=8, num_heads=4, attention_resolutions=(1, 2))
    stages = attention_unet_stages(net, torch.zeros(1, 1, 28, 28), 0.5, torch.zeros(1, 3, 8))
    attention = [(name, shape) for name, shape, kind in stages if kind == "attention"]
    assert [name for name, _ in attention] == ["down1 attention", "down2 attention", "mid attention",
                                               "up2 attention", "up1 attention"]
    assert dict(attention)["down1 attention"] == (1, 32, 14, 14) and dict(attention)["mid attention"] == (1, 32, 7, 7)
    fig = draw_attention_unet(stages, (1, 3, 8))
    text = _texts(fig)
    assert "196 tokens x 32" in text and "49 tokens x 32" in text and "[1, 3, 8]" in text
    plt.close("all")
