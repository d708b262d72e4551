"""Tests of chapter 25's alignment code: Bradley-Terry loss, DPO loss, the KL-penalised optimum, PPO-KL pieces."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from genai_foundations.alignment.dpo import dpo_loss, train_dpo
from genai_foundations.alignment.ppo_kl import (completion_log_probs, kl_objective, kl_penalised_reward,
                                                optimal_kl_policy, train_ppo_kl)
from genai_foundations.alignment.preferences import PreferencePairs, make_preference_pairs, vowel_score
from genai_foundations.alignment.reward_model import (CharacterRewardModel, bradley_terry_loss, preference_accuracy,
                                                      train_reward_model)
from genai_foundations.architectures.gpt import GPT, GPTConfig


def _tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig.gpt2(vocab_size=7, n_positions=16, d_model=16, n_heads=2, n_layers=1, d_ff=32)).eval()


def test_bradley_terry_loss_equals_bce_with_logits_on_reward_differences():
    g = torch.Generator().manual_seed(0)
    rw, rl = torch.randn(50, generator=g) * 5, torch.randn(50, generator=g) * 5
    expected = F.binary_cross_entropy_with_logits(rw - rl, torch.ones(50))
    torch.testing.assert_close(bradley_terry_loss(rw, rl), expected)
    big = bradley_terry_loss(torch.tensor([0.0]), torch.tensor([1000.0]))
    assert torch.isfinite(big) and abs(big.item() - 1000.0) < 1e-3
    with pytest.raises(ValueError):
        bradley_terry_loss(rw, rl[:3])


def test_reward_model_learns_the_rule_from_pairs():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randint(0, 6, (400, 12), generator=g), torch.randint(0, 6, (400, 12), generator=g)
    sa, sb = (a == 0).float().mean(1), (b == 0).float().mean(1)   # hidden rule: the share of token 0
    keep = sa != sb
    w = torch.where((sa > sb)[:, None], a, b)[keep]
    l = torch.where((sa > sb)[:, None], b, a)[keep]
    rm = CharacterRewardModel(6, hidden=8)
    losses = train_reward_model(rm, w[:250], l[:250], steps=60, lr=3e-2, generator=g)
    assert losses[-1] < losses[0]
    with torch.no_grad():
        assert preference_accuracy(rm(w[250:]), rm(l[250:])) > 0.9


def test_dpo_loss_equals_its_definition_and_pushes_the_chosen_completion_up():
    model, ref = _tiny_gpt(0), _tiny_gpt(1)
    g = torch.Generator().manual_seed(0)
    x, yw, yl = (torch.randint(0, 7, (4, n), generator=g) for n in (3, 5, 5))
    beta = 0.3

    def seq_logp(m, y):  # independent: full-sequence log-softmax, a Python loop over positions
        ids = torch.cat([x, y], 1)
        lp = torch.log_softmax(m(ids), -1)
        return torch.stack([sum(lp[b, 2 + t, y[b, t]] for t in range(5)) for b in range(4)])

    with torch.no_grad():
        rw, rl = seq_logp(ref, yw), seq_logp(ref, yl)
    pw, pl = seq_logp(model, yw), seq_logp(model, yl)
    expected = -torch.log(torch.sigmoid(beta * ((pw - rw) - (pl - rl)))).mean()
    got = dpo_loss(completion_log_probs(model, x, yw).sum(-1), completion_log_probs(model, x, yl).sum(-1), rw, rl, beta)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    # one gradient step on the DPO loss raises log pi(y_w | x) and lowers log pi(y_l | x)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    opt.zero_grad()
    got.backward()
    opt.step()
    with torch.no_grad():
        assert (seq_logp(model, yw) - pw.detach()).mean() > 0
        assert (seq_logp(model, yl) - pl.detach()).mean() < 0
    # the gradient with respect to the chosen log-probability is negative (the loss falls as it rises)
    lw = torch.zeros(3, requires_grad=True)
    dpo_loss(lw, torch.zeros(3), torch.zeros(3), torch.zeros(3), beta).backward()
    assert (lw.grad < 0).all()
    with pytest.raises(ValueError):
        dpo_loss(lw, lw, lw, lw, beta=0.0)


def test_kl_penalised_optimum_is_the_closed_form_and_stays_at_the_reference_for_large_beta():
    ref = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
    r = torch.tensor([0.0, 1.0, 3.0, -1.0], dtype=torch.float64)
    beta = 0.7
    star = optimal_kl_policy(ref, r, beta)
    # gradient ascent over the logits of a categorical policy reaches the closed form
    logits = torch.log(ref).clone().requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=0.1)
    for _ in range(800):
        opt.zero_grad()
        (-kl_objective(torch.softmax(logits, -1), ref, r, beta)).backward()
        opt.step()
    torch.testing.assert_close(torch.softmax(logits, -1).detach(), star, atol=1e-5, rtol=0)
    assert kl_objective(star, ref, r, beta) >= kl_objective(ref, ref, r, beta)
    for big in (1e3, 1e6):
        torch.testing.assert_close(optimal_kl_policy(ref, r, big), ref, atol=5e-3 * 1e3 / big, rtol=0)
    assert optimal_kl_policy(ref, r, 1e-3).argmax() == r.argmax()


def test_kl_penalised_reward_and_completion_log_probs():
    model = _tiny_gpt()
    x, y = torch.randint(0, 7, (2, 3)), torch.randint(0, 7, (2, 4))
    lp = completion_log_probs(model, x, y)
    full = torch.log_softmax(model(torch.cat([x, y], 1)), -1)
    torch.testing.assert_close(lp[:, 0], full[torch.arange(2), 2, y[:, 0]])
    r = kl_penalised_reward(torch.tensor([1.0, 2.0]), lp, lp - 1.0, beta=0.5)
    torch.testing.assert_close(r, torch.tensor([1.0, 2.0]) - 0.5 * 4)


def test_ppo_kl_and_dpo_training_raise_the_score_on_a_tiny_model():
    ref = _tiny_gpt()
    ref.requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    reward = lambda c: (c == 0).float().mean(1)  # noqa: E731
    prompts = lambda b: torch.randint(0, 7, (b, 2), generator=g)  # noqa: E731
    evp = torch.randint(0, 7, (64, 2), generator=torch.Generator().manual_seed(1))

    def score(m):
        from genai_foundations.alignment.ppo_kl import score_and_kl
        return score_and_kl(m, ref, evp, 4, reward, generator=torch.Generator().manual_seed(2))

    s0, kl0 = score(ref)
    assert abs(kl0) < 1e-6
    pol = copy.deepcopy(ref).requires_grad_(True)
    train_ppo_kl(pol, ref, reward, prompts, steps=25, batch_size=32, completion_length=4, beta=0.01, lr=3e-3,
                 generator=g)
    assert score(pol)[0] > s0 + 0.1
    pairs = make_preference_pairs(ref, prompts(200), 4, lambda row: "".join("a" if t == 0 else "x" for t in row),
                                  generator=g)
    assert isinstance(pairs, PreferencePairs) and (pairs.chosen_score > pairs.rejected_score).all()
    pol = copy.deepcopy(ref).requires_grad_(True)
    hist = train_dpo(pol, ref, pairs, steps=25, beta=0.5, lr=3e-3, generator=g,
                     evaluate=lambda: {"score": score(pol)[0]}, eval_every=25)
    assert hist[-1]["score"] > s0 + 0.1


def test_vowel_score():
    assert vowel_score("aeiou") == 1.0 and vowel_score("") == 0.0 and vowel_score("xa") == 0.5
    with pytest.raises(TypeError):
        vowel_score(3)
