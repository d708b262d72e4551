import math

import pytest
import torch

from genai_foundations.training import History, Progress, batches, fit, load_checkpoint, save_checkpoint


def test_fit_reduces_a_quadratic(capsys):
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    history = fit(lambda step: (w ** 2).sum(), torch.optim.SGD([w], lr=0.1), 100, desc="quadratic")
    assert len(history.losses) == 100
    assert history.losses[-1] < 1e-6 < history.losses[0]
    out = capsys.readouterr().out
    assert "quadratic" in out and "100/100" in out and out.count("\n") == 1


def test_fit_rejects_non_finite_and_non_scalar_losses():
    w = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(FloatingPointError, match="step 0"):
        fit(lambda s: w.sum() * math.inf, torch.optim.SGD([w], lr=0.1), 5)
    with pytest.raises(ValueError, match="scalar"):
        fit(lambda s: w * 2, torch.optim.SGD([w], lr=0.1), 5)


def test_history_smoothing():
    h = History(losses=[4.0, 2.0, 0.0, 2.0])
    assert h.smoothed(2) == [4.0, 3.0, 1.0, 1.0]
    assert h.final(2) == 1.0
    with pytest.raises(ValueError):
        History().final()


def test_batches_cover_an_epoch():
    x = torch.arange(10)
    stream = batches(x, x * 2, batch_size=5, generator=torch.Generator().manual_seed(0))
    first, second = next(stream), next(stream)
    assert torch.equal(torch.sort(torch.cat([first[0], second[0]])).values, x)
    assert torch.equal(first[1], first[0] * 2)
    with pytest.raises(ValueError):
        next(batches(x, x[:3], batch_size=2))


def test_checkpoint_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    optim = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optim.step()
    path = save_checkpoint(tmp_path / "m.pt", model, optim, epoch=3)
    clone = torch.nn.Linear(3, 2)
    clone_optim = torch.optim.Adam(clone.parameters())
    extra = load_checkpoint(path, clone, clone_optim)
    assert extra == {"epoch": 3}
    assert torch.equal(clone.weight, model.weight)
    assert clone_optim.state_dict()["state"][0]["step"] == 1
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt", clone)


def test_progress_prints_one_summary_line(capsys):
    with Progress(3, "demo") as bar:
        for _ in range(3):
            bar.update(loss=0.5)
    out = capsys.readouterr().out
    assert out.startswith("demo") and "3/3" in out and "loss=0.5" in out
