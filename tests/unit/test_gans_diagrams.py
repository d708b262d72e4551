"""The GAN chapter's figures draw from the package's networks and records."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from genai_foundations.algorithms import gans  # noqa: E402
from genai_foundations.architectures.gan_networks import (DCGANDiscriminator, DCGANGenerator,  # noqa: E402
                                                          MLPDiscriminator, MLPGenerator)
from genai_foundations.diagrams.gans import (dcgan_shapes_figure, decision_surface_panels,  # noqa: E402
                                             gan_game_diagram, ring_samples_panels)


def _texts(fig):
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title])


def test_game_diagram_labels_come_from_the_networks():
    g, d = MLPGenerator(3, 2, 16, 2), MLPDiscriminator(2, 16, 2)
    fig = gan_game_diagram(g, d, torch.randn(5, 3), torch.randn(5, 2))
    text = _texts(fig)
    assert f"{sum(p.numel() for p in g.parameters()):,} parameters" in text
    assert f"{sum(p.numel() for p in d.parameters()):,} parameters" in text
    assert "(3)" in text and "(2)" in text and fig.get_facecolor()[:3] == (1, 1, 1)
    plt.close(fig)


def test_dcgan_shapes_figure_lists_every_convolution():
    g, d = DCGANGenerator(100), DCGANDiscriminator(1)
    fig = dcgan_shapes_figure(g, d, torch.randn(2, 100), torch.randn(2, 1, 64, 64))
    text = _texts(fig)
    for label in ("512x4x4", "1x64x64", "64x32x32", "1x1x1", "819,200", "2,097,152", "8,192"):
        assert label in text
    plt.close(fig)


def test_surface_and_ring_panels():
    d = MLPDiscriminator(2, 8, 1)
    snaps = {s: (gans.decision_grid(d, resolution=21), torch.randn(30, 2)) for s in (0, 10)}
    fig = decision_surface_panels(snaps, torch.randn(50, 2))
    assert [ax.get_title() for ax in fig.axes[:2]] == ["step 0", "step 10"]
    plt.close(fig)
    centres = gans.ring_centres()
    fig = ring_samples_panels({"a": centres.repeat(10, 1), "b": torch.zeros(10, 2)}, centres, 0.05)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["a", "b"]
    plt.close(fig)
    with pytest.raises(ValueError):
        decision_surface_panels({}, torch.randn(5, 2))
