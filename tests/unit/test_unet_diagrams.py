"""The U-Net diagram draws one box per stage of the package's shape plan, labelled with its shape."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from genai_foundations.architectures.unet import UNet, trace_stages, unet_shape_plan  # noqa: E402
from genai_foundations.diagrams.unet_diagrams import draw_feature_maps, draw_unet, hwc  # noqa: E402


def test_hwc():
    assert hwc((1, 32, 64, 48)) == "64x48x32" and hwc((5, 128)) == "128"
    with pytest.raises(ValueError, match="shape"):
        hwc((1, 2, 3))


@pytest.mark.parametrize("kwargs, shape", [
    ({"in_channels": 3, "channels": (32, 64, 96), "blocks_per_level": 2, "mid_channels": 128, "downsample_last": True},
     (1, 3, 64, 64)),
    ({"in_channels": 1, "channels": (32, 64, 64), "num_classes": 10}, (1, 1, 8, 8)),
    ({"in_channels": 1, "channels": (16,)}, (1, 1, 7, 7)),
])
def test_diagram_has_a_box_per_stage_with_its_shape(kwargs, shape):
    net = UNet(**kwargs)
    plan = unet_shape_plan(net, shape)
    ax = draw_unet(plan)
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    levels = len(net.down)
    assert len(boxes) == 2 * levels + 5                    # input, conv_in, downs, two mids, ups, conv_out
    texts = [t.get_text() for t in ax.texts]
    shapes = dict(plan)
    for name in ["input", "conv_in", "mid0", "mid1", "conv_out"] + [f"up{i}" for i in range(levels)]:
        assert hwc(shapes[name]) in texts, name
    for i in range(levels):
        assert hwc(shapes[f"down{i} skip"]) in texts
        assert f"skip: concat to {hwc(shapes[f'up{i} concat'])}" in texts
    assert ax.figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    plt.close("all")


def test_diagram_rejects_a_list_that_is_not_a_plan():
    with pytest.raises(ValueError, match="down<i> skip"):
        draw_unet([("input", (1, 1, 8, 8))])


def test_feature_map_grid():
    torch.manual_seed(0)
    net = UNet(channels=(8, 16), emb_dim=16).eval()
    trace = trace_stages(net, torch.randn(1, 1, 8, 8), 0.5)
    fig = draw_feature_maps(trace, ["input", "down0 skip", "conv_out"], n_channels=3,
                            extra={"noise": torch.zeros(8, 8)})
    assert len(fig.axes) == 3 * 4
    with pytest.raises(ValueError, match="not in the trace"):
        draw_feature_maps(trace, ["nowhere"])
    plt.close("all")
