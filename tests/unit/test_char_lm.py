"""char_lm: the one-cycle factor equals OneCycleLR, a wall-clock budget anneals fully, validation_nats is the mean loss."""

import math

import pytest
import torch

from genai_foundations.algorithms.char_lm import (GPT_RECIPE, CharGPT, nats_to_bits, one_cycle_factor,
                                                  train_char_model, validation_nats)
from genai_foundations.architectures.gpt import GPT


def test_one_cycle_factor_follows_torch_one_cycle():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2.0, total_steps=201, pct_start=0.2,
                                                cycle_momentum=False)
    for step in range(201):
        # OneCycleLR ends its warm-up one step earlier (at pct_start * total - 1): equal up to that shift
        assert abs(opt.param_groups[0]["lr"] - 2.0 * one_cycle_factor(step / 200, 0.2)) < 0.04
        opt.step()
        if step < 200:
            sched.step()
    assert math.isclose(one_cycle_factor(0.0, 0.2), 1 / 25) and one_cycle_factor(0.2, 0.2) == 1.0
    assert math.isclose(one_cycle_factor(1.0, 0.2), 1 / 25 * 1e-4)


def test_training_with_a_step_count_and_with_a_time_budget():
    torch.manual_seed(0)
    ids = torch.randint(0, 5, (400,))
    ids[1::2] = (ids[::2] + 1) % 5                                   # every second token is predictable
    model = CharGPT(vocab_size=5, n_positions=16, d_model=16, n_heads=2, n_layers=1, d_ff=32)
    assert isinstance(model, GPT)
    before = validation_nats(model, ids, 16)
    run = train_char_model(model, ids, steps=60, context=16, batch_size=8, lr=1e-2)
    assert run.steps == 60 and len(run.history.losses) == 60
    after = validation_nats(model, ids, 16)
    assert after < before - 0.3
    x, y = ids[:384].reshape(24, 16), ids[1:385].reshape(24, 16)           # (400 - 1) // 16 windows of 16
    with torch.no_grad():
        assert math.isclose(after, float(model.eval().loss(x, y)), rel_tol=1e-5)
    timed = train_char_model(model, ids, steps=10_000, context=16, batch_size=8, lr=1e-3, max_seconds=0.5)
    assert 0 < timed.steps < 10_000 and timed.seconds < 5
    assert math.isclose(nats_to_bits(math.log(2)), 1.0)
    with pytest.raises(ValueError, match="max_seconds"):
        train_char_model(model, ids, steps=5, context=16, batch_size=8, lr=1e-3, max_seconds=0)


def test_recipe_builds_the_chapter_16_gpt():
    config = GPT_RECIPE.config(vocab_size=104)
    assert config.n_positions == GPT_RECIPE.context and config.activation == "gelu_tanh" and config.tie_weights
