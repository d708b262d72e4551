"""Tests of the deep-RL chapter's figures (genai_foundations.diagrams.deep_rl)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from genai_foundations.diagrams.deep_rl import (FAMILY, agent_environment_diagram, family_diagram,  # noqa: E402
                                                family_table, learning_curves)
from genai_foundations.rl.evaluation import EpisodeLog  # noqa: E402
from genai_foundations.rl.networks import CategoricalPolicy  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_agent_environment_diagram_reads_the_sizes_from_policy_and_env():
    fig = agent_environment_diagram(CategoricalPolicy(4, 2, (64, 64)), "CartPole-v1")
    text = _texts(fig)
    assert "4 → 64 → 64 → 2" in text and "CartPole-v1" in text and "2 actions" in text
    assert tuple(fig.patch.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="inputs"):
        agent_environment_diagram(CategoricalPolicy(3, 2), "CartPole-v1")


def test_family_diagram_and_table_name_every_trainer():
    fig = family_diagram()
    text = _texts(fig)
    for algo in FAMILY:
        assert algo.train.__name__ in text
        assert algo.parent is None or algo.parent in {a.name for a in FAMILY}
    rows = family_table()
    assert [r["algorithm"] for r in rows] == [a.name for a in FAMILY]
    assert "max_kl=0.01" in rows[2]["key settings"]


def test_learning_curves_shade_between_seeds():
    logs = []
    for shift in (0.0, 10.0):
        log = EpisodeLog()
        for step in range(10, 1001, 10):
            log.add(step, step / 10 + shift)
        logs.append(log)
    ax = learning_curves({"A": logs}, 1000, target=100.0, points=11, window=1)
    assert len(ax.collections) == 1  # the shaded band
    line = ax.lines[0]
    assert line.get_ydata()[-1] == pytest.approx(105.0)
    with pytest.raises(ValueError, match="no runs"):
        learning_curves({"B": []}, 100)
