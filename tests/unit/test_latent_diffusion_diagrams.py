"""The latent-diffusion figures draw from the package's objects: shapes traced through the autoencoder."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from genai_foundations.algorithms.vae import SpatialVAE
from genai_foundations.architectures.unet import UNet
from genai_foundations.diagrams.latent_diffusion import (image_rows_figure, latent_channels_figure,
                                                         latent_diffusion_diagram, locality_figure, stage_shapes)


def _vae():
    torch.manual_seed(0)
    return SpatialVAE(in_channels=1, channels=(8, 16), latent_channels=4)


def test_stage_shapes_follow_the_autoencoder():
    shapes = stage_shapes(_vae(), (1, 28, 28))
    assert shapes["encoder"] == [(1, 28, 28), (8, 28, 28), (8, 14, 14), (16, 14, 14), (16, 7, 7), (8, 7, 7)]
    assert shapes["latent"] == [(4, 7, 7)]
    assert shapes["decoder"][0] == (4, 7, 7) and shapes["decoder"][-1] == (1, 28, 28)
    assert (16, 14, 14) in shapes["decoder"]
    with pytest.raises(TypeError, match="Sequential"):
        stage_shapes(torch.nn.Linear(2, 2), (1, 28, 28))


def test_figures_draw_the_objects_they_are_given():
    vae = _vae()
    unet = UNet(in_channels=4, channels=(8, 16), emb_dim=16, groups=4)
    fig = latent_diffusion_diagram(vae, unet, 0.5)
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"{sum(p.numel() for p in unet.parameters()):,}" in text and "4x7x7" in text and "0.500" in text
    assert f"{sum(p.numel() for p in vae.encoder.parameters()):,}" in text
    images, latents = torch.rand(2, 1, 28, 28) * 2 - 1, torch.randn(2, 4, 7, 7)
    fig2 = latent_channels_figure(images, latents, images)
    assert len(fig2.axes) == 2 * 6
    fig3 = image_rows_figure({"a": images, "b": images}, ["t = 0", "t = 1"])
    assert len(fig3.axes) == 4 and fig3.axes[0].get_title() == "t = 0"
    fig4 = locality_figure(images[0], torch.randn(2, 1, 28, 28), [(1, 1), (5, 3)], 7)
    assert len(fig4.axes) == 3
    with pytest.raises(ValueError):
        image_rows_figure({"a": images, "b": images[:1]})
    with pytest.raises(ValueError):
        latent_channels_figure(images, latents[:1])
    plt.close("all")
