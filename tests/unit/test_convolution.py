"""The written-out convolution layers (chapter 13) against torch.nn.functional and torch.nn."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.architectures import convolution as C


def rand(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ----------------------------------------------------------------------------------------------------------------
# Convolution and its output size
# ----------------------------------------------------------------------------------------------------------------
CONV_CASES = [
    # (C_in, C_out, H, W, kernel, stride, padding, dilation, bias)
    (1, 1, 5, 5, (3, 3), 1, 0, 1, False),
    (3, 4, 9, 7, (3, 2), 1, 1, 1, True),
    (2, 5, 10, 11, (3, 3), 2, 1, 1, True),
    (3, 2, 8, 8, (5, 5), 3, 2, 1, True),
    (4, 3, 12, 9, (3, 3), (2, 1), (0, 2), 1, True),
    (2, 3, 11, 11, (3, 3), 1, 2, 2, True),
    (3, 6, 7, 13, (1, 1), 2, 0, 1, True),
    (2, 2, 6, 6, (2, 4), (1, 3), (1, 0), (2, 1), False),
]


@pytest.mark.parametrize("c_in, c_out, H, W, kernel, stride, padding, dilation, bias", CONV_CASES)
def test_conv2d_equals_torch(c_in, c_out, H, W, kernel, stride, padding, dilation, bias):
    x = rand(2, c_in, H, W, seed=1).requires_grad_(True)
    w = rand(c_out, c_in, *kernel, seed=2).requires_grad_(True)
    b = rand(c_out, seed=3).requires_grad_(True) if bias else None
    ours = C.conv2d(x, w, b, stride, padding, dilation)
    theirs = F.conv2d(x, w, b, stride, padding, dilation)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)
    # the gradients flow through unfold and the matrix product like through F.conv2d
    upstream = rand(*ours.shape, seed=4)
    grads_ours = torch.autograd.grad((ours * upstream).sum(), [x, w] + ([b] if bias else []))
    grads_theirs = torch.autograd.grad((theirs * upstream).sum(), [x, w] + ([b] if bias else []))
    for g_ours, g_theirs in zip(grads_ours, grads_theirs):
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-10, atol=1e-10)


def test_output_size_formula_equals_actual_shapes():
    for n, k, s, p, d in itertools.product([1, 4, 5, 8, 13], [1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2]):
        if n + 2 * p < d * (k - 1) + 1:
            with pytest.raises(ValueError, match="does not fit"):
                C.conv_output_size(n, k, s, p, d)
            continue
        x = torch.zeros(1, 1, n, n + 1)
        out = F.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
        assert out.shape[2] == C.conv_output_size(n, k, s, p, d), (n, k, s, p, d)
        assert out.shape[3] == C.conv_output_size(n + 1, k, s, p, d), (n + 1, k, s, p, d)


def test_output_size_examples_and_floor():
    assert C.conv_output_size(3, 2) == 2                      # the worked example: 3x3 input, 2x2 filter
    assert C.conv_output_size(32, 3, stride=2, padding=1) == 16  # "same" padding with stride 2 halves 32
    assert C.conv_output_size(8, 3, stride=2) == 3            # (8 - 3) / 2 + 1 = 3.5: the floor drops a window
    assert C.conv_output_size(28, 5, padding=2) == 28
    with pytest.raises(ValueError, match="stride"):
        C.conv_output_size(8, 3, stride=0)
    with pytest.raises(ValueError, match="padding"):
        C.conv_output_size(8, 3, padding=-1)


def test_the_minus_seven_example():
    """3x3x3 input holding 1..27 pixel by pixel, the 2x2x3 filter of the chapter: -7 at every position."""
    x = torch.arange(1, 28, dtype=torch.float64).reshape(3, 3, 3).permute(2, 0, 1)[None]  # (1, 3 channels, 3, 3)
    assert x[0, :, 0, 0].tolist() == [1, 2, 3] and x[0, :, 1, 2].tolist() == [16, 17, 18]
    w = torch.tensor([[(1, 0, -1), (1, 0, -1)], [(0, 1, 0), (-1, 1, -1)]], dtype=torch.float64).permute(2, 0, 1)[None]
    out = C.conv2d(x, w)
    assert out.shape == (1, 1, 2, 2)
    assert torch.equal(out, torch.full((1, 1, 2, 2), -7.0, dtype=torch.float64))
    assert torch.equal(out, F.conv2d(x, w))


def test_conv2d_rejects_bad_shapes():
    with pytest.raises(ValueError, match="channels"):
        C.conv2d(torch.zeros(1, 3, 5, 5), torch.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError, match="B, C, H, W"):
        C.conv2d(torch.zeros(3, 5, 5), torch.zeros(2, 3, 3, 3))
    with pytest.raises(ValueError, match="bias"):
        C.conv2d(torch.zeros(1, 3, 5, 5), torch.zeros(2, 3, 3, 3), torch.zeros(3))


# ----------------------------------------------------------------------------------------------------------------
# Transposed convolution
# ----------------------------------------------------------------------------------------------------------------
TRANSPOSED_CASES = [
    # (C_in, C_out, H, W, kernel, stride, padding, output_padding, dilation, bias)
    (1, 1, 3, 3, (2, 2), 2, 0, 0, 1, False),   # the chapter's example: 3x3 -> 6x6
    (3, 2, 4, 5, (3, 3), 1, 0, 0, 1, True),
    (2, 4, 4, 4, (3, 3), 2, 1, 1, 1, True),    # the usual "double the resolution" layer: 4 -> 8
    (2, 3, 5, 3, (4, 4), 2, 1, 0, 1, True),
    (3, 3, 3, 4, (3, 2), 3, 1, 2, 1, True),
    (2, 2, 4, 3, (3, 3), (2, 3), (1, 0), (1, 2), 1, True),
    (2, 3, 4, 4, (3, 3), 2, 1, 1, 2, True),
]


@pytest.mark.parametrize("c_in, c_out, H, W, kernel, stride, padding, output_padding, dilation, bias",
                         TRANSPOSED_CASES)
def test_conv_transpose2d_equals_torch(c_in, c_out, H, W, kernel, stride, padding, output_padding, dilation, bias):
    x = rand(2, c_in, H, W, seed=5).requires_grad_(True)
    w = rand(c_in, c_out, *kernel, seed=6).requires_grad_(True)
    b = rand(c_out, seed=7) if bias else None
    ours = C.conv_transpose2d(x, w, b, stride, padding, output_padding, dilation)
    theirs = F.conv_transpose2d(x, w, b, stride, padding, output_padding, 1, dilation)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)
    upstream = rand(*ours.shape, seed=8)
    for g_ours, g_theirs in zip(torch.autograd.grad((ours * upstream).sum(), [x, w]),
                                torch.autograd.grad((theirs * upstream).sum(), [x, w])):
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-10, atol=1e-10)


def test_transposed_output_size_formula_equals_actual_shapes():
    for n, k, s, p, op in itertools.product([1, 3, 4, 7], [1, 2, 3, 4], [1, 2, 3], [0, 1], [0, 1, 2]):
        if op >= s or (n - 1) * s - 2 * p + k + op < 1:
            continue
        out = F.conv_transpose2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p,
                                 output_padding=op)
        assert out.shape[2] == C.conv_transpose_output_size(n, k, s, p, op), (n, k, s, p, op)
    assert C.conv_transpose_output_size(3, 2, stride=2) == 6
    with pytest.raises(ValueError, match="output_padding"):
        C.conv_transpose_output_size(4, 3, stride=2, output_padding=2)


def test_transposed_convolution_is_the_adjoint_of_convolution():
    """<conv(x), y> = <x, conv_transpose(y)> for the same weight: the transposed convolution multiplies by C^T."""
    x, y = rand(2, 3, 9, 8, seed=9), rand(2, 4, 5, 4, seed=10)
    w = rand(4, 3, 3, 3, seed=11)  # conv: 3 -> 4 channels; the same tensor read as (C_in=4, C_out=3) for the transpose
    lhs = (C.conv2d(x, w, stride=2, padding=1) * y).sum()
    rhs = (x * C.conv_transpose2d(y, w, stride=2, padding=1, output_padding=(0, 1))).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)
    k = rand(3, 3, seed=12)
    matrix = C.conv2d_matrix((5, 5), k, stride=2, padding=1)
    assert matrix.shape == (9, 25)
    image = rand(5, 5, seed=13)
    torch.testing.assert_close(matrix @ image.reshape(-1), C.conv2d(image[None, None], k[None, None], stride=2,
                                                                    padding=1).reshape(-1))
    small = rand(3, 3, seed=14)
    torch.testing.assert_close(matrix.T @ small.reshape(-1),
                               F.conv_transpose2d(small[None, None], k[None, None], stride=2, padding=1).reshape(-1))


# ----------------------------------------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 1, 1), (3, 2, 0), ((2, 3), (1, 2), (1, 1)),
                                                     (2, 1, 0)])
def test_pooling_equals_torch(kernel, stride, padding):
    x = rand(2, 3, 7, 8, seed=15).requires_grad_(True)
    for ours_fn, theirs_fn in ((C.max_pool2d, F.max_pool2d), (C.avg_pool2d, F.avg_pool2d)):
        ours = ours_fn(x, kernel, stride, padding)
        theirs = theirs_fn(x, kernel, stride, padding)
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
        upstream = rand(*ours.shape, seed=16)
        torch.testing.assert_close(torch.autograd.grad((ours * upstream).sum(), x)[0],
                                   torch.autograd.grad((theirs * upstream).sum(), x)[0])


def test_max_pool_padding_never_wins():
    x = -torch.ones(1, 1, 4, 4)  # all negative: a zero from padding would win if padding were zeros
    assert torch.equal(C.max_pool2d(x, 3, 1, 1), -torch.ones(1, 1, 4, 4))


# ----------------------------------------------------------------------------------------------------------------
# Batch normalisation
# ----------------------------------------------------------------------------------------------------------------
def test_batch_norm_module_equals_torch_over_several_steps_and_in_eval():
    torch.manual_seed(0)
    ours, theirs = C.BatchNorm2d(5), nn.BatchNorm2d(5)
    with torch.no_grad():  # non-trivial gamma and beta
        for module in (ours, theirs):
            module.weight.copy_(torch.linspace(0.5, 1.5, 5))
            module.bias.copy_(torch.linspace(-1.0, 1.0, 5))
    for step in range(6):
        x = (rand(4, 5, 3, 6, seed=20 + step, dtype=torch.float32) * (1 + step) + step).requires_grad_(True)
        y_ours, y_theirs = ours(x), theirs(x)
        torch.testing.assert_close(y_ours, y_theirs, rtol=1e-5, atol=1e-5)
        upstream = rand(*x.shape, seed=40 + step, dtype=torch.float32)
        g_ours = torch.autograd.grad((y_ours * upstream).sum(), [x, ours.weight, ours.bias])
        g_theirs = torch.autograd.grad((y_theirs * upstream).sum(), [x, theirs.weight, theirs.bias])
        for a, b in zip(g_ours, g_theirs):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(ours.running_mean, theirs.running_mean)
        torch.testing.assert_close(ours.running_var, theirs.running_var)  # unbiased variance, momentum 0.1
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 6
    ours.eval()
    theirs.eval()
    x = rand(3, 5, 4, 4, seed=60, dtype=torch.float32)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    running = ours.running_mean.clone()
    ours(x)
    assert torch.equal(ours.running_mean, running), "eval mode must not update the running statistics"
    theirs.load_state_dict(ours.state_dict())  # same names and shapes as torch's


def test_batch_norm_running_statistics_by_hand():
    x = rand(8, 2, 3, 3, seed=61)
    mean, var = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    y = C.batch_norm(x, mean, var, training=True, momentum=0.1)
    m = 8 * 3 * 3
    batch_mean = x.mean(dim=(0, 2, 3))
    batch_var = x.var(dim=(0, 2, 3), unbiased=False)
    torch.testing.assert_close(mean, 0.1 * batch_mean)
    torch.testing.assert_close(var, 0.9 + 0.1 * batch_var * m / (m - 1))
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(y.var(dim=(0, 2, 3), unbiased=False), batch_var / (batch_var + 1e-5))


def test_batch_norm_on_vectors_equals_batchnorm1d():
    ours, theirs = C.BatchNorm2d(6, momentum=0.3), nn.BatchNorm1d(6, momentum=0.3)
    for step in range(3):
        x = rand(10, 6, seed=70 + step, dtype=torch.float32) * 2 + 1
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    ours.eval()
    theirs.eval()
    x = rand(4, 6, seed=80, dtype=torch.float32)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_batch_norm_rejects_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        C.batch_norm(torch.zeros(2, 3, 4), torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="running_mean"):
        C.batch_norm(torch.zeros(2, 3, 4, 4), torch.zeros(4), torch.ones(3))
    with pytest.raises(ValueError, match="more than one value"):
        C.batch_norm(torch.zeros(1, 3), torch.zeros(3), torch.ones(3), training=True)


# ----------------------------------------------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------------------------------------------
def test_dropout_train_and_eval():
    x = torch.ones(200, 500)
    layer = C.Dropout(0.3)
    torch.manual_seed(0)
    y = layer(x)
    zero_fraction = (y == 0).float().mean().item()
    assert abs(zero_fraction - 0.3) < 0.005                               # 100,000 draws: sd 0.0014
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))  # survivors scaled by 1/(1-p)
    assert abs(y.mean().item() - 1.0) < 0.01                              # expectation preserved
    torch.manual_seed(0)  # torch's dropout zeroes the same fraction and scales the same way
    z = F.dropout(x, 0.3, training=True)
    assert abs((z == 0).float().mean().item() - zero_fraction) < 0.01
    assert torch.allclose(z[z != 0], torch.full_like(z[z != 0], 1 / 0.7))
    layer.eval()
    assert torch.equal(layer(x), x)
    g = torch.Generator().manual_seed(3)
    a = C.dropout(x, 0.5, generator=g)
    b = C.dropout(x, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="dropout probability"):
        C.Dropout(1.0)


# ----------------------------------------------------------------------------------------------------------------
# The networks
# ----------------------------------------------------------------------------------------------------------------
def test_cifar_table_parameter_counts():
    model = C.cifar_table_cnn()
    rows = C.layer_table(model, (3, 32, 32))
    convs = [r for r in rows if r["layer"] in ("Conv2d", "Linear")]
    assert [r["parameters"] for r in convs] == [896, 9_248, 18_496, 36_928, 524_416, 1_290]
    assert [r["output"] for r in convs] == [(32, 32, 32), (32, 16, 16), (64, 16, 16), (64, 8, 8), (128,), (10,)]
    norms = [r for r in rows if r["layer"].startswith("BatchNorm")]
    # the table's counts (128, 128, 256, 256, 512) include the running mean and variance
    assert [r["parameters"] + r["buffers"] for r in norms] == [128, 128, 256, 256, 512]
    assert [r["parameters"] for r in norms] == [64, 64, 128, 128, 256]
    assert sum(p.numel() for p in model.parameters()) == sum(r["parameters"] for r in rows)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_residual_block_and_pipeline_shapes():
    block = C.BasicResidualBlock(8, 8)
    assert isinstance(block.skip, nn.Identity)
    assert block(torch.randn(2, 8, 6, 6)).shape == (2, 8, 6, 6)
    down = C.BasicResidualBlock(8, 16, stride=2)
    assert down(torch.randn(2, 8, 6, 6)).shape == (2, 16, 3, 3)
    with torch.no_grad():  # with f = 0 the block is ReLU(x): the skip connection carries the input through
        block.bn2.weight.zero_()
    x = torch.randn(2, 8, 6, 6)
    assert torch.equal(block(x), F.relu(x))
    net = C.DigitsPipelineCNN()
    assert net(torch.zeros(5, 1, 8, 8)).shape == (5, 10)
    with pytest.raises(ValueError, match="8, 8"):
        net(torch.zeros(5, 1, 28, 28))
