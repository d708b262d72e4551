"""The fine-tuning chapter's diagrams draw what the package's objects say."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from torch import nn  # noqa: E402

from genai_foundations.algorithms.fine_tuning import prepare_method  # noqa: E402
from genai_foundations.algorithms.lora import LoRALinear  # noqa: E402
from genai_foundations.algorithms.quantization import nf4_code_book, uniform_code_book  # noqa: E402
from genai_foundations.architectures.gpt import GPT, GPTConfig  # noqa: E402
from genai_foundations.diagrams import fine_tuning as D  # noqa: E402


def test_lora_diagram_draws_the_layer_shapes_to_scale():
    layer = LoRALinear(nn.Linear(40, 24), r=3, alpha=6)
    ax = D.lora_diagram(layer, unit=0.1)
    patches = {p.get_gid(): p for p in ax.patches}
    assert patches["W"].get_width() == pytest.approx(4.0) and patches["W"].get_height() == pytest.approx(2.4)
    assert patches["B"].get_width() == pytest.approx(0.3) and patches["A"].get_height() == pytest.approx(0.3)
    assert "192 trainable" in ax.get_title()                       # r (d_in + d_out) = 3 * 64
    assert ax.figure.get_facecolor() == to_rgba("white")
    with pytest.raises(TypeError):
        D.lora_diagram(nn.Linear(3, 3))
    plt.close("all")


def test_code_book_figure_has_one_tick_per_level():
    ax = D.code_book_figure({"NF4": nf4_code_book(), "uniform": uniform_code_book()})
    ticks = {c.get_gid(): c for c in ax.collections if c.get_gid()}
    assert len(ticks["levels:NF4"].get_segments()) == 16
    assert len(ticks["levels:uniform"].get_segments()) == 15       # the repeated 1 drawn once
    plt.close("all")


def test_methods_diagram_follows_requires_grad_and_quantisation():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig.gpt2(vocab_size=12, n_positions=20, d_model=64, n_heads=2, n_layers=1, d_ff=64))
    models = {m: prepare_method(gpt, m, r=2, n_prompt=4) for m in ("full", "lora", "prompt", "qlora")}
    ax = D.methods_diagram(models)
    cells = {p.get_gid(): p.get_facecolor() for p in ax.patches if p.get_gid()}
    assert cells["full:q_proj"] == to_rgba(D.TRAINED) and cells["lora:q_proj"] == to_rgba(D.FROZEN)
    assert cells["lora:q_proj LoRA"] == to_rgba(D.TRAINED) and cells["qlora:q_proj"] == to_rgba(D.QUANTISED)
    assert cells["prompt:soft prompt"] == to_rgba(D.TRAINED) and cells["prompt:embeddings"] == to_rgba(D.FROZEN)
    assert "full:q_proj LoRA" not in cells
    plt.close("all")
