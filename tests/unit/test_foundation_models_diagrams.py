"""The foundation-models chapter's diagrams draw what the package's objects say."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from genai_foundations.architectures.classifiers import DigitsClassifier  # noqa: E402
from genai_foundations.diagrams import foundation_models as D  # noqa: E402
from genai_foundations.diagrams.multimodal import FROZEN, TRAINED  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402


def test_pipeline_has_the_three_stages_in_order():
    ax = D.pipeline_diagram()
    gids = {p.get_gid() for p in ax.patches}
    assert {"pretrain", "sft", "rlhf", "pretrain->sft", "sft->rlhf"} <= gids
    plt.close("all")


def test_transfer_modes_colours_follow_requires_grad():
    ax = D.transfer_modes_diagram(DigitsClassifier(num_classes=5), 5)
    cells = {p.get_gid(): p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid()}
    assert cells["linear probe:head (Linear)"].get_facecolor() == to_rgba(TRAINED)
    assert cells["linear probe:conv.0 (Conv2d)"].get_facecolor() == to_rgba(FROZEN)
    assert cells["partial fine-tuning:conv.5 (Conv2d)"].get_facecolor() == to_rgba(TRAINED)
    assert cells["partial fine-tuning:conv.2 (Conv2d)"].get_facecolor() == to_rgba(FROZEN)
    assert cells["full fine-tuning:conv.0 (Conv2d)"].get_facecolor() == to_rgba(TRAINED)
    assert len(cells) == 4 * 5
    plt.close("all")


def test_sweep_and_chunk_figures():
    res = {"a": torch.tensor([[0.5, 0.6], [0.8, 0.9]]), "b": torch.tensor([[0.4, 0.4], [0.7, 0.9]])}
    ax = D.sweep_figure([10, 100], res)
    assert len(ax.lines) == 2 and ax.lines[0].get_ydata()[1] == pytest.approx(0.85)
    with pytest.raises(ValueError):
        D.sweep_figure([10], res)
    axes = D.chunk_figure({"x": torch.zeros(3, 5, 2)}, torch.ones(3, 2), axes=[plt.subplots()[1]])
    assert len(axes[0].lines) == 9
    plt.close("all")
