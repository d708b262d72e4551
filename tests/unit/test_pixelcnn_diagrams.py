"""The PixelCNN diagrams draw the package's masks and dependency maps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from genai_foundations.architectures import pixelcnn as P  # noqa: E402
from genai_foundations.diagrams.pixelcnn_diagrams import draw_dependency_maps, draw_masks  # noqa: E402


@pytest.mark.parametrize("k", [3, 5, 7])
def test_mask_panels_show_the_package_masks(k):
    fig, axes = plt.subplots(1, 3)
    masks = draw_masks(k, axes=axes)
    for kind, ax in zip("AB", axes[1:]):
        assert torch.equal(masks[kind], P.pixelcnn_mask(k, kind))
        cells = ax.patches[:k * k]                                   # one rectangle per cell, in raster order
        shaded = torch.tensor([c.get_facecolor()[:3] != mcolors.to_rgb("white") for c in cells]).reshape(k, k)
        assert torch.equal(shaded, masks[kind] > 0)
        assert [t.get_text() for t in ax.texts] == [str(int(v)) for v in masks[kind].flatten().tolist()]
    # the raster-order panel shades exactly the pixels before the centre, which is where both masks agree
    shaded = torch.tensor([c.get_facecolor()[:3] != mcolors.to_rgb("white") for c in axes[0].patches[:k * k]])
    assert torch.equal(shaded.reshape(k, k), P.pixelcnn_mask(k, "A") > 0)
    plt.close("all")


def test_dependency_panels():
    torch.manual_seed(0)
    layer = P.MaskedConv2d(1, 1, 3, "B")
    with torch.no_grad():
        layer.weight.fill_(1.0)
    maps = draw_dependency_maps([("B", layer, 5, (2, 2))])
    expected = torch.zeros(5, 5)
    expected[1:3, 1:4] = 1.0
    expected[2, 3] = 0.0
    assert torch.equal((maps["B"] > 0).float(), expected)
    with pytest.raises(ValueError, match="3 axes"):
        draw_masks(3, axes=plt.subplots(1, 2)[1])
    plt.close("all")
