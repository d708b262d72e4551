"""The convolution diagrams draw what the package's conv2d computes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from genai_foundations.diagrams.cnn_diagrams import draw_number_grid, draw_sliding_filter, window_positions  # noqa: E402


def minus_seven_example():
    x = torch.arange(1, 28, dtype=torch.float64).reshape(3, 3, 3).permute(2, 0, 1)[None]
    w = torch.tensor([[(1, 0, -1), (1, 0, -1)], [(0, 1, 0), (-1, 1, -1)]], dtype=torch.float64).permute(2, 0, 1)[None]
    return x, w


@pytest.mark.parametrize("H, W, k, s, p", [(3, 3, (2, 2), 1, 0), (3, 3, (2, 2), 2, 1), (7, 5, (3, 2), 2, 1),
                                           (6, 6, (3, 3), 3, 0)])
def test_window_positions_are_the_windows_unfold_cuts(H, W, k, s, p):
    x = torch.arange(H * W, dtype=torch.float64).reshape(1, 1, H, W) + 1
    columns = F.unfold(x, k, padding=p, stride=s)[0].T                       # one row per output position
    padded = F.pad(x, (p, p, p, p))[0, 0]
    positions = window_positions(H, W, k, s, p)
    assert len(positions) == columns.shape[0]
    for (i, j, top, left), column in zip(positions, columns):
        assert torch.equal(padded[top:top + k[0], left:left + k[1]].reshape(-1), column)


def test_sliding_filter_shows_the_packages_output():
    x, w = minus_seven_example()
    fig, axes = plt.subplots(2, 6)
    plain = draw_sliding_filter(x, w, stride=1, padding=0, axes=axes[0])
    strided = draw_sliding_filter(x, w, stride=2, padding=1, axes=axes[1])
    assert torch.equal(plain, torch.full((1, 1, 2, 2), -7.0, dtype=torch.float64))
    assert torch.equal(strided, F.conv2d(x, w, stride=2, padding=1))
    titles = [ax.get_title() for ax in axes[1, 1:-1]]
    assert titles == [f"y[{i},{j}]: window at ({2 * i},{2 * j}) -> {strided[0, 0, i, j].item():g}"
                      for i in range(2) for j in range(2)]
    shown = sorted(float(t.get_text()) for t in axes[1, -1].texts)              # the output panel's numbers
    assert shown == sorted(strided.flatten().tolist())
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    plt.close("all")


def test_sliding_filter_checks_its_inputs():
    x, w = minus_seven_example()
    with pytest.raises(ValueError, match="needs 6 axes"):
        draw_sliding_filter(x, w, axes=plt.subplots(1, 3)[1])
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)"):
        draw_sliding_filter(x[0], w)
    fig = plt.figure()
    draw_number_grid(fig.add_subplot(), torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "t")
    with pytest.raises(ValueError, match="2-D"):
        draw_number_grid(fig.add_subplot(), torch.zeros(1, 2, 2))
    plt.close("all")
