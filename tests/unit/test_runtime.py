import pytest
import torch

from genai_foundations.runtime import autocast, eval_mode, get_device, is_quick, seed_everything, setup


def test_quick_from_parameter_or_environment(monkeypatch):
    monkeypatch.delenv("GENAI_QUICK", raising=False)
    assert is_quick(False) is False
    assert is_quick(True) is True
    monkeypatch.setenv("GENAI_QUICK", "1")
    assert is_quick(False) is True
    monkeypatch.setenv("GENAI_QUICK", "no")
    assert is_quick(False) is False
    monkeypatch.setenv("GENAI_QUICK", "maybe")
    with pytest.raises(ValueError, match="GENAI_QUICK"):
        is_quick(False)


def test_device_selection(monkeypatch):
    monkeypatch.delenv("GENAI_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device("auto").type == expected
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("GENAI_DEVICE", "cpu")
    assert get_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        get_device("tpu-ish")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            get_device("cuda")


def test_seeding_repeats_numbers():
    seed_everything(3)
    a = torch.randn(5)
    seed_everything(3)
    b = torch.randn(5)
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        seed_everything(-1)


def test_setup_and_pick(monkeypatch, capsys):
    monkeypatch.delenv("GENAI_QUICK", raising=False)
    run = setup(True, "cpu", 7)
    assert run.quick and run.seed == 7 and run.device.type == "cpu"
    assert run.pick(full=1000, quick=10) == 10
    assert "mode=QUICK" in capsys.readouterr().out
    assert setup(False, "cpu", 0, verbose=False).pick(full=1000, quick=10) == 1000


def test_autocast_is_a_no_op_on_cpu():
    with autocast("cpu"):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32


def test_eval_mode_restores_training_flag():
    model = torch.nn.Dropout(0.5)
    model.train()
    with eval_mode(model):
        assert not model.training and not torch.is_grad_enabled()
    assert model.training


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path():
    run = setup(False, "cuda", 0, verbose=False)
    with autocast(run.device):
        y = torch.randn(4, 4, device=run.device) @ torch.randn(4, 4, device=run.device)
    assert y.dtype == torch.bfloat16
