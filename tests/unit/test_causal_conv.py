"""The causal convolutional model: output t ignores inputs after t; receptive field; equals nn.Conv1d on a padded input."""

import pytest
import torch
from torch.nn import functional as F

from genai_foundations.architectures.causal_conv import CausalConv1d, CausalConvLM


def test_causal_conv_equals_conv1d_on_a_left_padded_input():
    torch.manual_seed(0)
    conv = CausalConv1d(3, 5, kernel_size=3, dilation=2)
    x = torch.randn(2, 3, 11)
    expected = F.conv1d(F.pad(x, (4, 0)), conv.weight, conv.bias, dilation=2)
    assert torch.allclose(conv(x), expected, atol=1e-6) and conv(x).shape == (2, 5, 11)


def test_output_t_ignores_inputs_after_t_and_sees_its_receptive_field():
    torch.manual_seed(0)
    model = CausalConvLM(vocab_size=12, channels=16, kernel_size=2, dilations=(1, 2, 4)).double()
    r = model.receptive_field
    assert r == 1 + 1 * (1 + 2 + 4)
    ids = torch.randint(0, 12, (2, 20))
    base = model(ids)
    for t in range(ids.shape[1]):
        changed = ids.clone()
        changed[:, t] = (changed[:, t] + 1) % 12
        diff = (model(changed) - base).abs().amax(dim=(0, 2))
        assert (diff[:t] == 0).all()                                     # earlier outputs untouched
        assert (diff[t:min(t + r, 20)] > 0).all()                       # inside the receptive field: seen
        assert (diff[t + r:] == 0).all()                                # beyond it: forgotten


def test_loss_is_the_mean_cross_entropy():
    torch.manual_seed(0)
    model = CausalConvLM(vocab_size=7, channels=8, dilations=(1, 2))
    ids, targets = torch.randint(0, 7, (3, 9)), torch.randint(0, 7, (3, 9))
    logits = model(ids)
    assert logits.shape == (3, 9, 7)
    assert torch.allclose(model.loss(ids, targets), F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1)))
    with pytest.raises(ValueError, match="torch.long"):
        model(ids.float())
