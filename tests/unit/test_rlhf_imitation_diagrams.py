"""Tests of chapter 25's figures (genai_foundations.diagrams.rlhf_imitation)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from genai_foundations.alignment.reward_model import CharacterRewardModel  # noqa: E402
from genai_foundations.diagrams.rlhf_imitation import imitation_figure, pipeline_diagram, tradeoff_figure  # noqa: E402
from genai_foundations.rl.networks import CategoricalPolicy  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_pipeline_diagram_names_the_real_sizes():
    policy, rm = CategoricalPolicy(4, 2, (8,)), CharacterRewardModel(10, hidden=4)
    fig = pipeline_diagram(policy, rm)
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"{sum(p.numel() for p in policy.parameters()):,} params" in text
    assert "10-char histogram" in text and "DPO" in text
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)


def test_tradeoff_and_imitation_figures():
    fig = tradeoff_figure({"PPO": [{"kl": 0, "score": 0.2}, {"kl": 3, "score": 0.3}], "DPO": [{"kl": 1, "score": 0.25}]},
                          baseline=0.2)
    assert len(fig.axes[0].lines) == 3
    fig = imitation_figure([10, 20], {"BC": np.ones((3, 2)), "DAgger": np.ones((3, 2)) * 2}, expert=500)
    assert len(fig.axes[0].lines) == 3
    with pytest.raises(ValueError):
        imitation_figure([10, 20], {"BC": np.ones(2)})
    with pytest.raises(ValueError):
        tradeoff_figure({})
