import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from genai_foundations.plotting import density_2d, plot_curves, plot_history, scatter_2d, show_images  # noqa: E402
from genai_foundations.training import History  # noqa: E402


def test_image_grid_and_errors():
    ax = show_images(torch.rand(10, 1, 8, 8) * 2 - 1, nrow=5, title="digits")
    image = ax.get_images()[0].get_array()
    assert image.shape[0] == 2 * 8 + 3 and image.shape[1] == 5 * 8 + 6  # make_grid's padding of 1
    with pytest.raises(ValueError, match="expected images"):
        show_images(torch.rand(10, 8, 8))


def test_scatter_density_and_curves():
    assert len(scatter_2d(torch.randn(50, 2)).collections) == 1
    with pytest.raises(ValueError):
        scatter_2d(torch.randn(50, 3))
    ax = density_2d(lambda x: -0.5 * (x ** 2).sum(1), resolution=20)
    assert ax.get_images()[0].get_array().shape == (20, 20)
    assert len(plot_curves({"a": [1, 2], "b": [2, 1]}).lines) == 2
    assert len(plot_history(History(losses=[3.0, 2.0, 1.0])).lines) == 2
