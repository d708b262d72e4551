"""Tests of the VAE chapter's diagrams and figures (genai_foundations.diagrams.vae)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from genai_foundations.algorithms.vae import SpatialVAE  # noqa: E402
from genai_foundations.architectures.autoencoders import MLPVAE  # noqa: E402
from genai_foundations.diagrams import vae as diagrams  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_vae_stages_are_measured_from_the_model():
    model = MLPVAE(64, (32,), 2)
    stages = diagrams.vae_stages(model, torch.zeros(5, 1, 8, 8))
    assert stages["x"] == "[5, 1, 8, 8]" and stages["mu"] == stages["z"] == "[5, 2]" and stages["output"] == "[5, 64]"
    n_dec = sum(p.numel() for p in model.decoder.parameters())
    assert stages["decoder_parameters"] == f"{n_dec:,}"
    assert stages["encoder_parameters"] == f"{sum(p.numel() for p in model.parameters()) - n_dec:,}"
    spatial = diagrams.vae_stages(SpatialVAE(), torch.zeros(2, 1, 28, 28))
    assert spatial["z"] == "[2, 4, 7, 7]" and spatial["output"] == "[2, 1, 28, 28]"


def test_vae_diagram_draws_the_measured_shapes_on_white():
    model = MLPVAE(64, (32,), 2)
    fig, stages = diagrams.vae_diagram(model, torch.zeros(3, 64))
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert stages["mu"] in texts and "KL" in texts and "decoder" in texts
    assert tuple(fig.patch.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)


def test_latent_scatter_and_decoded_grid():
    ax = diagrams.latent_scatter(torch.randn(30, 2), torch.arange(30) % 3, title="codes")
    assert len(ax.get_legend().get_texts()) == 3
    with pytest.raises(ValueError, match="codes"):
        diagrams.latent_scatter(torch.randn(30, 3), torch.zeros(30))
    seen = []

    def decode(z):
        seen.append(z.clone())
        return torch.sigmoid(z[:, :1, None].expand(-1, 4, 4))        # the image's brightness follows z_1

    images = diagrams.decoded_grid(decode, 2.0, 3, (4, 4))
    assert images.shape == (9, 4, 4)
    z = seen[0]
    assert torch.equal(z[0], torch.tensor([-2.0, 2.0])) and torch.equal(z[-1], torch.tensor([2.0, -2.0]))
    assert images[2, 0, 0] > images[0, 0, 0]                             # z_1 grows along a row


def test_code_pairs_draws_three_projections():
    fig, axes = plt.subplots(1, 3)
    diagrams.code_pairs(torch.randn(20, 3), torch.rand(20), axes, color_label="radius")
    assert [ax.get_xlabel() for ax in axes] == ["$z_1$", "$z_1$", "$z_2$"]
    with pytest.raises(ValueError):
        diagrams.code_pairs(torch.randn(20, 2), torch.rand(20), axes)
