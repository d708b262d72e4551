"""Chapter 27 (libraries): every family of library_equivalence.FAMILIES agrees with its library, the comparisons
can fail, and the test each row names exists."""

from __future__ import annotations

import os
import re
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are built from configs; nothing may reach a model hub

import pytest
import torch
from torch import nn

from genai_foundations import library_equivalence as L
from genai_foundations.architectures.attention import MultiHeadAttention

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("family", L.FAMILIES, ids=lambda f: f.ours.split(" ")[0])
def test_each_family_agrees_with_its_library(family):
    diff = family.compare(seed=1)
    assert 0.0 <= diff <= family.tolerance, f"{family.ours} vs {family.library}: {diff}"


def test_the_named_tests_exist():
    for family in L.FAMILIES:
        path, name = family.test.split("::")
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), family.test


def test_ppo_loss_equals_stable_baselines3():
    ours, theirs = L.sb3_ppo_batch_loss(seed=2, clip=0.2)
    assert abs(ours - theirs) < 1e-6
    # the staged batch leaves the clip interval: a wider clip changes the loss, and both still agree
    wide_ours, wide_theirs = L.sb3_ppo_batch_loss(seed=2, clip=10.0)
    assert abs(wide_ours - wide_theirs) < 1e-6 and abs(wide_ours - ours) > 1e-3


def test_a_wrong_port_is_caught():
    """Swapping W_Q and W_K in the copy (a plausible porting slip) gives a large difference."""
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    ours = MultiHeadAttention(8, 2, dtype=torch.float64).load_from_torch(theirs)
    with torch.no_grad():
        wq = ours.q_proj.weight.clone()
        ours.q_proj.weight.copy_(ours.k_proj.weight)
        ours.k_proj.weight.copy_(wq)
        x = torch.randn(2, 5, 8, dtype=torch.float64)
        assert (ours(x) - theirs(x, x, x)[0]).abs().max() > 1e-3


def test_the_table_covers_every_library_of_the_issue_and_checks_shapes():
    assert {f.family for f in L.FAMILIES} == {"torch.nn", "diffusers", "transformers", "peft", "torchvision",
                                               "sacrebleu", "rouge-score", "stable-baselines3"}
    assert len({f.compare for f in L.FAMILIES}) == len(L.FAMILIES)
    with pytest.raises(ValueError, match="differ in shape"):
        L._max_diff(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="expected x of shape"):
        L.mha_from_torch_weights(torch.zeros(4, 8), torch.zeros(24, 8), torch.zeros(24), torch.zeros(8, 8),
                                 torch.zeros(8), 2)


def test_porting_functions_on_raw_tensors_equal_the_libraries():
    torch.manual_seed(3)
    mha = nn.MultiheadAttention(12, 3, batch_first=True, dtype=torch.float64)
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    mask = ~torch.ones(5, 5, dtype=torch.bool).tril()
    for causal in (False, True):
        ours = L.mha_from_torch_weights(x, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight,
                                        mha.out_proj.bias, 3, causal=causal)
        theirs = mha(x, x, x, attn_mask=mask if causal else None)[0]
        torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)
    lstm = nn.LSTM(4, 6, batch_first=True).double()
    xs = torch.randn(3, 7, 4, dtype=torch.float64)
    out, h, c = L.lstm_from_torch_weights(xs, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
    out_t, (h_t, c_t) = lstm(xs)
    for a, b in ((out, out_t), (h, h_t[0]), (c, c_t[0])):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    from genai_foundations.architectures.gpt import GPT, GPTConfig, gpt2_state_dict
    gpt = GPT(GPTConfig.gpt2(vocab_size=11, n_positions=8, d_model=8, n_heads=2, n_layers=1, d_ff=16)).double()
    sd = gpt2_state_dict(gpt)
    got = L.gpt2_attention_to_linear(*(sd[f"transformer.h.0.attn.{k}"] for k in
                                       ("c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias")))
    for name, tensor in gpt.blocks[0].attn.state_dict().items():
        assert torch.equal(got[name], tensor), name
    with pytest.raises(ValueError, match="c_attn_weight"):
        L.gpt2_attention_to_linear(torch.zeros(4, 8), torch.zeros(8), torch.zeros(4, 4), torch.zeros(4))


def test_ddim_step_in_diffusers_indexing_equals_diffusers_and_the_book():
    from diffusers import DDIMScheduler

    from genai_foundations.algorithms import ddpm
    from genai_foundations.algorithms.ddpm import NoiseSchedule

    theirs = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=False,
                           set_alpha_to_one=True)
    theirs.set_timesteps(20)
    x, eps = torch.randn(3, 4), torch.randn(3, 4)
    for k in (950, 500, 0):
        expected = theirs.step(eps, k, x, eta=0.0).prev_sample
        got = L.ddim_step_diffusers_index(x, eps, k, max(k - 50, -1), theirs.alphas_cumprod)
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)
    schedule = NoiseSchedule.cosine(1000)
    xd, ed = x.double(), eps.double()
    book = ddpm.reverse_step(xd, 701, 651, ed, schedule, eta=0.0)
    torch.testing.assert_close(L.ddim_step_diffusers_index(xd, ed, 700, 650, schedule.alphas_bar[1:]), book)
    with pytest.raises(ValueError, match="k_prev"):
        L.ddim_step_diffusers_index(x, eps, 5, 5, theirs.alphas_cumprod)
