"""PixelCNN (chapter 13): masks, causality through the whole stack, likelihoods and raster-order sampling."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from genai_foundations.architectures import pixelcnn as P


def small_model(num_levels=2, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs = {"channels": 8, "num_blocks": 3, "head_channels": 16, **kwargs}
    return P.PixelCNN(num_levels=num_levels, **kwargs)


# ----------------------------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------------------------
def test_masks_by_hand():
    a = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]], dtype=torch.float32)
    b = torch.tensor([[1, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=torch.float32)
    assert torch.equal(P.pixelcnn_mask(3, "A"), a)
    assert torch.equal(P.pixelcnn_mask(3, "B"), b)
    for k in (1, 5, 7):
        for kind in "AB":
            mask = P.pixelcnn_mask(k, kind)
            # 1 exactly on the raster positions before the centre (and at the centre for B)
            before = torch.arange(k * k).reshape(k, k) < (k * k) // 2
            expected = before.float()
            if kind == "B":
                expected[k // 2, k // 2] = 1.0
            assert torch.equal(mask, expected), (k, kind)
    assert P.pixelcnn_mask((3, 5), "A").shape == (3, 5)
    assert P.pixelcnn_mask(1, "A").sum() == 0 and P.pixelcnn_mask(1, "B").sum() == 1
    with pytest.raises(ValueError, match="odd"):
        P.pixelcnn_mask(4, "A")
    with pytest.raises(ValueError, match="'A' or 'B'"):
        P.pixelcnn_mask(3, "C")


def test_masked_conv_equals_conv_with_masked_weight_and_masked_weights_get_no_gradient():
    torch.manual_seed(0)
    layer = P.MaskedConv2d(3, 4, 5, "A")
    x = torch.randn(2, 3, 9, 9)
    expected = F.conv2d(x, layer.weight * P.pixelcnn_mask(5, "A"), layer.bias, padding=2)
    torch.testing.assert_close(layer(x), expected)
    layer(x).square().sum().backward()
    hidden = P.pixelcnn_mask(5, "A") == 0
    assert (layer.weight.grad[:, :, hidden] == 0).all()
    assert (layer.weight.grad[:, :, ~hidden] != 0).any()


# ----------------------------------------------------------------------------------------------------------------
# Causality: the output at a pixel never sees that pixel or a later one (tested through the whole stack)
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("num_levels", [2, 17])
def test_whole_stack_never_sees_current_or_later_pixels_gradient(num_levels):
    model = small_model(num_levels)
    H = W = 8
    for train_mode in (True, False):
        model.train(train_mode)
        for row in range(H):
            for col in range(W):
                dependence = P.dependency_map(model, H, W, row, col)
                later = P.raster_later(H, W, row, col)
                assert (dependence[later] == 0).all(), f"pixel ({row}, {col}) sees itself or a later pixel"
                if (row, col) != (0, 0):
                    earlier_neighbour = (row, col - 1) if col > 0 else (row - 1, col)
                    assert dependence[earlier_neighbour] > 0, f"pixel ({row}, {col}) ignores its predecessor"


def test_whole_stack_perturbation_of_current_and_later_pixels_changes_nothing():
    model = small_model(num_levels=5, num_blocks=4).eval()
    gen = torch.Generator().manual_seed(1)
    H, W = 7, 9
    x = torch.randint(0, 5, (3, 1, H, W), generator=gen)
    with torch.no_grad():
        base = model(x)
        for index in (0, 10, 31, H * W - 1):
            row, col = divmod(index, W)
            changed = x.clone()
            later = P.raster_later(H, W, row, col)
            changed[:, 0][:, later] = torch.randint(0, 5, (3, int(later.sum())), generator=gen)
            out = model(changed)
            assert torch.equal(out[:, :, row, col], base[:, :, row, col])          # pixel i: unchanged
            earlier = ~later
            if earlier.any():  # changing only earlier pixels does change the prediction somewhere up to i
                changed_earlier = x.clone()
                changed_earlier[:, 0][:, earlier] = (x[:, 0][:, earlier] + 1) % 5
                assert not torch.equal(model(changed_earlier)[:, :, row, col], base[:, :, row, col])


def test_type_b_layer_sees_the_current_pixel_but_type_a_does_not():
    torch.manual_seed(0)
    for kind, sees_current in (("A", False), ("B", True)):
        layer = P.MaskedConv2d(1, 2, 3, kind)
        dependence = P.dependency_map(layer, 6, 6, 3, 2)
        assert bool(dependence[3, 2] > 0) == sees_current
        assert (dependence[P.raster_later(6, 6, 3, 2, include_current=False)] == 0).all()
        assert dependence[2, 3] > 0 and dependence[3, 1] > 0


# ----------------------------------------------------------------------------------------------------------------
# Likelihood
# ----------------------------------------------------------------------------------------------------------------
def test_bernoulli_nll_is_the_two_way_softmax():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(4, 1, 5, 5, generator=gen)
    x = torch.randint(0, 2, (4, 1, 5, 5), generator=gen).float()
    two_way = torch.cat([torch.zeros_like(logits), logits], dim=1)  # softmax(0, l)_1 = sigmoid(l)
    expected = F.cross_entropy(two_way, x[:, 0].long(), reduction="none").flatten(1).sum(1)
    torch.testing.assert_close(P.pixel_nll(logits, x, 2), expected)
    manual = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(1).sum(1)
    torch.testing.assert_close(P.pixel_nll(logits, x, 2), manual)


def test_categorical_nll_and_bits_per_dim():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 6, 3, 4, generator=gen)
    x = torch.randint(0, 6, (2, 1, 3, 4), generator=gen)
    log_probs = torch.log_softmax(logits, dim=1)
    expected = -log_probs.gather(1, x).flatten(1).sum(1)
    torch.testing.assert_close(P.pixel_nll(logits, x, 6), expected)
    # a uniform model over 256 levels costs exactly 8 bits per dimension
    uniform = P.pixel_nll(torch.zeros(1, 256, 4, 4), torch.randint(0, 256, (1, 1, 4, 4), generator=gen), 256)
    assert math.isclose(float(P.bits_per_dim(uniform, 16)), 8.0, rel_tol=1e-6)
    with pytest.raises(ValueError, match="logits of shape"):
        P.pixel_nll(torch.zeros(2, 1, 3, 4), x, 6)


def test_independent_pixel_baseline_by_hand():
    train = torch.tensor([[1, 0], [1, 1], [0, 0]]).reshape(3, 1, 1, 2).float()  # pixel 0: two ones, pixel 1: one
    test = torch.tensor([[1, 1], [0, 0]]).reshape(2, 1, 1, 2).float()
    nll = P.independent_pixel_nll(train, test, alpha=1.0)
    p0, p1 = (2 + 1) / (3 + 2), (1 + 1) / (3 + 2)
    torch.testing.assert_close(nll, torch.tensor([-math.log(p0) - math.log(p1),
                                                  -math.log(1 - p0) - math.log(1 - p1)], dtype=torch.float64))
    three = P.independent_pixel_nll(train, test, num_levels=3, alpha=0.5)  # a level nobody used still has mass
    torch.testing.assert_close(three[0], torch.tensor(-math.log(2.5 / 4.5) - math.log(1.5 / 4.5), dtype=torch.float64))
    with pytest.raises(ValueError, match="0 .. 1"):
        P.independent_pixel_nll(train, test * 2)


def test_model_nll_shape_and_a_few_steps_of_training_lower_it():
    model = small_model()
    gen = torch.Generator().manual_seed(4)
    x = (torch.rand(16, 1, 6, 6, generator=gen) < 0.3).float()
    x[:, :, :, 2] = 1.0  # a vertical stroke the model can learn to predict from the pixel above
    assert model.nll(x).shape == (16,)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = model.nll(x).mean().item()
    for _ in range(40):
        opt.zero_grad()
        model.nll(x).mean().backward()
        opt.step()
    assert model.nll(x).mean().item() < 0.7 * before


# ----------------------------------------------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------------------------------------------
def test_sampling_follows_known_conditionals():
    """With every weight zero, each conditional is the head's bias: the pixels are i.i.d. with known probabilities."""
    model = small_model()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.head[-1].bias.fill_(math.log(0.3 / 0.7))  # sigmoid = 0.3
    images = P.sample(model, 400, 5, 5, generator=torch.Generator().manual_seed(5))
    assert images.shape == (400, 1, 5, 5) and set(images.unique().tolist()) <= {0.0, 1.0}
    assert abs(images.mean().item() - 0.3) < 0.02  # 10,000 pixels: sd 0.0046

    k_model = small_model(num_levels=4)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    with torch.no_grad():
        for p in k_model.parameters():
            p.zero_()
        k_model.head[-1].bias.copy_(probs.log())
    images = P.sample(k_model, 500, 4, 5, generator=torch.Generator().manual_seed(6))
    freq = torch.bincount(images.long().flatten(), minlength=4).float() / images.numel()
    assert (freq - probs).abs().max() < 0.02  # 10,000 pixels


def test_sampling_is_autoregressive_and_reproducible():
    """A sampler that used a later pixel, or drew pixels out of order, would not reproduce these checks."""
    model = small_model()
    snapshots = []
    images = P.sample(model, 3, 4, 4, generator=torch.Generator().manual_seed(7),
                      callback=lambda i, canvas: snapshots.append(canvas.clone()))
    assert len(snapshots) == 16
    for i, canvas in enumerate(snapshots):  # after step i, exactly pixels 0..i are filled in, the rest are 0
        later = P.raster_later(4, 4, *divmod(i, 4), include_current=False)
        assert (canvas[:, 0][:, later] == 0).all()
        assert torch.equal(canvas[:, 0][:, ~later], images[:, 0][:, ~later])
    again = P.sample(model, 3, 4, 4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(images, again)
    assert model.training  # the sampler restores the mode it found


class _FixedConditionals(torch.nn.Module):
    """A stand-in model whose logits are the same at every pixel, whatever the canvas holds."""

    def __init__(self, logits):
        super().__init__()
        self.num_levels = 2 if len(logits) == 1 else len(logits)
        self.register_buffer("logits", torch.tensor(logits))

    def forward(self, canvas):
        return self.logits[None, :, None, None].expand(canvas.shape[0], -1, *canvas.shape[2:])


def test_sample_step_inverts_the_cdf_at_the_given_uniforms():
    model = _FixedConditionals([0.1, 0.2, 0.3, 0.4])
    with torch.no_grad():
        model.logits.log_()                                      # CDF 0.1, 0.3, 0.6, 1.0
    canvas = torch.full((5, 1, 3, 4), 7.0)
    u = torch.tensor([0.05, 0.25, 0.59, 0.61, 0.999])
    out = P.sample_step(model, canvas, 1, 2, u)
    assert out[:, 0, 1, 2].tolist() == [0.0, 1.0, 2.0, 3.0, 3.0]
    assert (canvas == 7.0).all() and out is not canvas              # a new canvas; the input is unchanged
    assert torch.equal(out[:, :, 0], canvas[:, :, 0]) and (out[:, 0, 1, 3] == 7.0).all()
    binary = _FixedConditionals([0.0])                              # p(1) = 0.5
    assert P.sample_step(binary, torch.zeros(2, 1, 2, 2), 0, 0, torch.tensor([0.3, 0.7]))[:, 0, 0, 0].tolist() == [0, 1]
    with pytest.raises(ValueError, match="uniform number per image"):
        P.sample_step(model, canvas, 0, 0, torch.rand(4))
    with pytest.raises(ValueError, match="outside"):
        P.sample_step(model, canvas, 3, 0, u)


def test_sample_is_a_raster_loop_of_sample_steps():
    model = small_model(num_levels=4)
    images = P.sample(model, 2, 3, 4, generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    canvas = torch.zeros(2, 1, 3, 4)
    model.eval()
    for index in range(12):
        canvas = P.sample_step(model, canvas, *divmod(index, 4), torch.rand(2, generator=gen))
    assert torch.equal(images, canvas)
