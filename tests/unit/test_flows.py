"""Tests of the normalizing-flow reference (chapter 1).

The checks that matter: every layer is exactly invertible; every layer's
log-det equals :math:`\\log|\\det J|` of the Jacobian that ``torch.autograd``
computes; the composed density integrates to one; the 1-D CDF flow maps its
mixture to Uniform(0, 1) and its derivative is the mixture density.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from genai_foundations.algorithms import flows
from genai_foundations.algorithms.flows import (
    MADE, ActNorm, AffineCoupling, AutoregressiveAffineFlow, FlowSequence, Invertible1x1Conv, LogitTransform,
    MoGCDFFlow1D, Permutation, Squeeze, StandardNormal, StandardUniform)
from genai_foundations.data import make_moons
from genai_foundations.training import fit


def _randomize(module: torch.nn.Module, scale: float = 0.3, seed: int = 0) -> torch.nn.Module:
    """Flows start as the identity, which would make the tests trivial."""
    return flows.randomize_parameters(module, scale, seed)


def _vector_layers() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "coupling": AffineCoupling(torch.tensor([1.0, 0.0, 1.0, 0.0]), hidden=16),
        "coupling_half": AffineCoupling(flows.alternating_masks(4, 2)[1], hidden=16, num_hidden_layers=1),
        "autoregressive": AutoregressiveAffineFlow(4, hidden=16, order=[2, 0, 3, 1]),
        "linear_lu": Invertible1x1Conv(4, lu=True),
        "linear_plain": Invertible1x1Conv(4, lu=False),
        "actnorm": ActNorm(4),
        "permutation": Permutation([3, 1, 0, 2]),
    }


def _image_layers() -> dict[str, torch.nn.Module]:
    torch.manual_seed(1)
    return {
        "conv1x1_lu": Invertible1x1Conv(3, lu=True),
        "conv1x1_plain": Invertible1x1Conv(3, lu=False),
        "actnorm_image": ActNorm(3),
        "coupling_checkerboard": AffineCoupling(flows.checkerboard_mask(2, 2, channels=3),
                                                flows.conv_conditioner(3, hidden=8)),
    }


def _jacobian_logdet(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """log|det dz/dx| of one example from the full autograd Jacobian (float64)."""
    return flows.jacobian_logdet(layer, x[None])[0]


def test_jacobian_logdet_helper_on_a_linear_map():
    a = torch.tensor([[2.0, 1.0, 0.0], [0.5, -3.0, 1.0], [0.0, 0.2, 0.7]], dtype=torch.float64)
    logdet = flows.jacobian_logdet(lambda v: (v @ a.T, None), torch.randn(2, 3, dtype=torch.float64))
    expected = math.log(abs(float(np.linalg.det(a.numpy()))))
    torch.testing.assert_close(logdet, torch.full((2,), expected, dtype=torch.float64))


# ----------------------------------------------------------------------------------------------------------------
# Invertibility and log-determinants of every layer
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(_vector_layers()))
def test_vector_layer_inverts_and_logdet_matches_autograd(name):
    layer = _randomize(_vector_layers()[name]).double()
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    z, logdet = layer(x)                     # (ActNorm initialises itself on this batch)
    assert z.shape == x.shape and logdet.shape == (6,)
    torch.testing.assert_close(layer.inverse(z), x, atol=1e-10, rtol=0)
    for i in range(3):
        expected = _jacobian_logdet(layer, x[i])
        torch.testing.assert_close(logdet[i], expected, atol=1e-10, rtol=1e-10)
    if name != "permutation":
        assert logdet.abs().max() > 1e-3, "the test needs a layer that changes volume"


@pytest.mark.parametrize("name", list(_image_layers()))
def test_image_layer_inverts_and_logdet_matches_autograd(name):
    """On (B, 3, 2, 2) tensors: the 1x1 convolution's log-det is H * W * log|det W| = 4 log|det W|."""
    layer = _randomize(_image_layers()[name]).double()
    x = torch.randn(5, 3, 2, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    z, logdet = layer(x)
    torch.testing.assert_close(layer.inverse(z), x, atol=1e-10, rtol=0)
    for i in range(2):
        torch.testing.assert_close(logdet[i], _jacobian_logdet(layer, x[i]), atol=1e-10, rtol=1e-10)
    if isinstance(layer, Invertible1x1Conv):
        w = layer.matrix()
        torch.testing.assert_close(logdet[0], 4 * torch.linalg.slogdet(w)[1], atol=1e-10, rtol=0)


def test_1x1_conv_equals_torch_conv2d_and_lu_matches_its_matrix():
    layer = _randomize(Invertible1x1Conv(5, lu=True), seed=4)
    x = torch.randn(2, 5, 3, 4, generator=torch.Generator().manual_seed(5))
    z, _ = layer(x)
    torch.testing.assert_close(z, F.conv2d(x, layer.matrix()[:, :, None, None]), atol=1e-5, rtol=1e-5)
    # the LU parameterisation's cheap log|det| equals the full one
    torch.testing.assert_close(layer.log_abs_det(), torch.linalg.slogdet(layer.matrix())[1], atol=1e-5, rtol=0)


def test_other_fixed_layers_invert_with_the_right_logdet():
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    z, logdet = Squeeze()(x)
    assert z.shape == (4, 4, 4, 4) and torch.equal(logdet, torch.zeros(4, dtype=torch.float64))
    assert torch.equal(Squeeze().inverse(z), x)
    logit = LogitTransform(0.05)
    y = torch.rand(3, 4, dtype=torch.float64)
    z, logdet = logit(y)
    torch.testing.assert_close(logit.inverse(z), y, atol=1e-12, rtol=0)
    torch.testing.assert_close(logdet[0], _jacobian_logdet(logit, y[0]), atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        logit(torch.tensor([[1.5, 0.2]]))


def test_made_is_autoregressive_in_its_order():
    """d output_i / d x_j = 0 unless x_j comes before x_i in the order (checked on the autograd Jacobian)."""
    order = torch.tensor([3, 0, 4, 1, 2])
    made = _randomize(MADE(5, hidden=12, num_hidden_layers=2, outputs_per_dim=2, order=order), scale=0.5).double()
    x = torch.randn(5, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: made(v[None])[0], x)  # (2, 5, 5): output k, dim i, input j
    position = torch.empty(5, dtype=torch.long)
    position[order] = torch.arange(5)
    allowed = position[None, :] < position[:, None]                           # [i, j]: j before i
    assert (jac[:, ~allowed].abs() == 0).all()
    assert (jac[:, allowed].abs() > 0).float().mean() > 0.5                  # and it does use the allowed inputs


def test_autoregressive_inverse_needs_one_pass_per_dimension():
    flow = _randomize(AutoregressiveAffineFlow(3, hidden=8))
    calls = []
    flow.made.register_forward_hook(lambda *args: calls.append(1))
    z = torch.randn(4, 3)
    flow.inverse(z)
    assert len(calls) == 3


# ----------------------------------------------------------------------------------------------------------------
# Composition and densities
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("builder", ["realnvp_2d", "maf_2d", "digits_flow"])
def test_composed_flows_invert_and_sum_their_logdets(builder):
    torch.manual_seed(6)
    flow = {"realnvp_2d": lambda: flows.realnvp_2d(4, hidden=16), "maf_2d": lambda: flows.maf_2d(4, hidden=16),
            "digits_flow": lambda: flows.digits_flow(2, 2, hidden=8)}[builder]()
    x = torch.rand(8, 1, 8, 8) if builder == "digits_flow" else torch.randn(8, 2)
    flow(x)                                  # ActNorm initialisation
    _randomize(flow, scale=0.1)
    z, logdet = flow(x)
    torch.testing.assert_close(flow.inverse(z), x, atol=1e-5, rtol=0)
    h, total = x, torch.zeros(8)
    for layer in flow.layers:
        h, ld = layer(h)
        total = total + ld
    torch.testing.assert_close(logdet, total)
    torch.testing.assert_close(flow.log_prob(x), flow.base.log_prob(z) + logdet)
    torch.testing.assert_close(flows.flow_nll(x, flow.layers), flow.nll(x))
    samples = flow.sample(7, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (7, *x.shape[1:]) and torch.isfinite(samples).all()


def test_single_affine_layers_give_the_closed_form_gaussians():
    """ActNorm alone is x ~ N(-b, e^{-2s}); a linear layer alone is x ~ N(0, (W^T W)^{-1})."""
    act = _randomize(ActNorm(3), scale=0.5, seed=7)
    act.initialized.fill_(True)
    x = torch.randn(10, 3, dtype=torch.float64)
    flow = FlowSequence([act.double()], StandardNormal(3))
    normal = torch.distributions.Normal(-act.bias, torch.exp(-act.log_scale))
    torch.testing.assert_close(flow.log_prob(x), normal.log_prob(x).sum(dim=1))

    lin = _randomize(Invertible1x1Conv(3, lu=True), seed=8).double()
    w = lin.matrix().detach()
    mvn = torch.distributions.MultivariateNormal(torch.zeros(3, dtype=torch.float64),
                                                 precision_matrix=w.T @ w)
    flow = FlowSequence([lin], StandardNormal(3))
    torch.testing.assert_close(flow.log_prob(x), mvn.log_prob(x))


def _grid_mass(flow: FlowSequence, limit: float = 4.0, n: int = 400) -> float:
    axis = torch.linspace(-limit, limit, n + 1, dtype=torch.float64)
    centres = (axis[:-1] + axis[1:]) / 2                      # midpoint rule
    xx, yy = torch.meshgrid(centres, centres, indexing="xy")
    with torch.no_grad():
        density = flow.log_prob(torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)).exp()
    return float(density.sum() * (2 * limit / n) ** 2)


def test_trained_2d_flow_density_integrates_to_one():
    torch.manual_seed(9)
    flow = flows.realnvp_2d(6, hidden=32)
    untrained = _randomize(flows.realnvp_2d(4, hidden=16), scale=0.05, seed=10).double()
    data = make_moons(2048, seed=0)
    optimizer = torch.optim.Adam(flow.parameters(), lr=5e-3)
    history = fit(lambda step: flow.nll(data[(step % 8) * 256:(step % 8 + 1) * 256]), optimizer, 250, desc="moons")
    assert history.final(20) < history.losses[0] - 0.5          # it learned something
    mass_trained = _grid_mass(flow.double())
    mass_untrained = _grid_mass(untrained)
    assert abs(mass_trained - 1) < 0.01, mass_trained
    assert abs(mass_untrained - 1) < 0.01, mass_untrained


# ----------------------------------------------------------------------------------------------------------------
# 1-D mixture-of-Gaussians CDF flow
# ----------------------------------------------------------------------------------------------------------------
WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([-2.0, 0.5, 3.0])
STDS = np.array([0.5, 1.0, 0.3])


def _mixture_flow() -> MoGCDFFlow1D:
    flow = MoGCDFFlow1D(3).double()
    with torch.no_grad():
        flow.logits.copy_(torch.log(torch.tensor(WEIGHTS)))
        flow.means.copy_(torch.tensor(MEANS))
        flow.log_stds.copy_(torch.log(torch.tensor(STDS)))
    return flow


def test_mog_cdf_flow_matches_scipy_and_maps_its_mixture_to_uniform():
    flow = _mixture_flow()
    rng = np.random.default_rng(0)
    component = rng.choice(3, size=5000, p=WEIGHTS)
    samples = rng.normal(MEANS[component], STDS[component])
    x = torch.tensor(samples)
    z, logdet = flow(x)
    cdf = sum(w * stats.norm.cdf(samples, m, s) for w, m, s in zip(WEIGHTS, MEANS, STDS))
    pdf = sum(w * stats.norm.pdf(samples, m, s) for w, m, s in zip(WEIGHTS, MEANS, STDS))
    np.testing.assert_allclose(z.detach().numpy(), cdf, atol=1e-12)
    np.testing.assert_allclose(logdet.detach().exp().numpy(), pdf, rtol=1e-10)
    assert stats.kstest(z.detach().numpy(), "uniform").pvalue > 0.01
    assert stats.kstest(samples, "uniform").pvalue < 1e-6           # the raw samples are not uniform
    # the derivative of the flow (autograd) is the mixture density
    grid = torch.linspace(-4, 5, 50, dtype=torch.float64, requires_grad=True)
    z_grid, logdet_grid = flow(grid)
    (derivative,) = torch.autograd.grad(z_grid.sum(), grid)
    torch.testing.assert_close(derivative, logdet_grid.exp(), atol=1e-12, rtol=1e-10)


def test_mog_cdf_flow_inverse_by_bisection_and_sampling():
    flow = _mixture_flow()
    x = torch.linspace(-3.5, 4.0, 40, dtype=torch.float64)
    z, _ = flow(x)
    torch.testing.assert_close(flow.inverse(z), x, atol=1e-5, rtol=0)
    model = FlowSequence([flow], StandardUniform())
    samples = model.sample(4000, generator=torch.Generator().manual_seed(1)).double()
    mixture_cdf = lambda v: sum(w * stats.norm.cdf(v, m, s) for w, m, s in zip(WEIGHTS, MEANS, STDS))  # noqa: E731
    assert stats.kstest(samples.numpy(), mixture_cdf).pvalue > 0.01
    torch.testing.assert_close(model.log_prob(x), flow(x)[1])       # uniform base: log p(x) = log f(x)


def test_mog_cdf_flow_argument_checks():
    w, m, s = torch.ones(2) / 2, torch.zeros(2), torch.ones(2)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        flows.mog_cdf_flow(torch.zeros(3, 1), w, m, s)
    with pytest.raises(ValueError, match="share one shape"):
        flows.mog_cdf_flow(torch.zeros(3), w, m, torch.ones(3))


# ----------------------------------------------------------------------------------------------------------------
# Discrete data: dequantisation, bits per dimension, the per-pixel baseline
# ----------------------------------------------------------------------------------------------------------------
def test_dequantize_fills_each_bin():
    k = torch.randint(0, 17, (2000, 4), generator=torch.Generator().manual_seed(0)).float()
    y = flows.dequantize(k, 17, torch.Generator().manual_seed(1))
    assert ((y >= k / 17) & (y < (k + 1) / 17)).all()
    with pytest.raises(ValueError, match="integers"):
        flows.dequantize(k + 0.5, 17)


def test_bits_per_dim_of_a_uniform_density_is_log2_levels():
    """Density 1 on [0, 1)^D (uniform base, no layers to speak of) = every one of L levels equally likely."""
    flow = FlowSequence([Permutation([1, 0, 2])], StandardUniform(3))
    y = flows.dequantize(torch.randint(0, 17, (5, 3)).float(), 17)
    bpd = flows.flow_nll_bits_per_dim(flow.log_prob(y), 3, bin_width=1 / 17)
    torch.testing.assert_close(bpd, torch.full((5,), math.log2(17)))
    # a Gaussian density: bits/dim = (-log p - D log w) / (D ln 2), written out
    lp = torch.tensor([-10.0, -3.0])
    torch.testing.assert_close(flows.flow_nll_bits_per_dim(lp, 5, 0.25),
                               (-lp - 5 * math.log(0.25)) / (5 * math.log(2)))


def test_pixel_histogram_baseline_matches_a_direct_count():
    gen = torch.Generator().manual_seed(0)
    train = torch.randint(0, 4, (50, 3), generator=gen)
    test = torch.randint(0, 4, (7, 3), generator=gen)
    got = flows.pixel_histogram_bits_per_dim(train, test, levels=4)
    expected = np.zeros(7)
    for j in range(3):
        counts = np.bincount(train[:, j].numpy(), minlength=4)
        p = (counts + 1) / (50 + 4)
        expected -= np.log2(p[test[:, j].numpy()])
    np.testing.assert_allclose(got.numpy(), expected / 3, rtol=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------------------------
def test_clear_errors_for_bad_arguments():
    with pytest.raises(ValueError, match="only 0s and 1s"):
        AffineCoupling(torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="all 0s or all 1s"):
        AffineCoupling(torch.ones(4))
    with pytest.raises(ValueError, match="mask must have the shape"):
        flows.affine_coupling_forward(torch.zeros(2, 3), torch.tensor([1.0, 0.0]), lambda x: (x, x))
    with pytest.raises(ValueError, match="permutation"):
        MADE(3, order=[0, 0, 1])
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        Invertible1x1Conv(4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="even"):
        Squeeze()(torch.zeros(1, 1, 3, 4))
    with pytest.raises(ValueError, match="expected z of shape"):
        StandardNormal(2).log_prob(torch.zeros(3, 4))


# ----------------------------------------------------------------------------------------------------------------
# Gradients of the smooth functions at 0, +-1e-8, +-1000 and in the far tail, float32 and float64, against PyTorch
# ----------------------------------------------------------------------------------------------------------------
GRADIENT_POINTS = [0.0, 1e-8, -1e-8, 1000.0, -1000.0]


def _torch_mixture(weights: torch.Tensor, means: torch.Tensor, stds: torch.Tensor):
    return torch.distributions.MixtureSameFamily(torch.distributions.Categorical(probs=weights),
                                                 torch.distributions.Normal(means, stds))


def _grad(fn, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x).sum(), x)
    return g


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mog_cdf_flow_gradients_match_torch_mixture_everywhere(dtype):
    """z = F(x) and log F'(x) have the gradients of torch's mixture CDF and log-density, also where z rounds to 1.

    A ``clamp(0, 1)`` on z gave a zero gradient wherever z rounded to exactly 1 (in float32 from about 5.3
    standard deviations above the top component), although F'(x) is still positive there.
    """
    weights = torch.tensor(WEIGHTS, dtype=dtype)
    means, stds = torch.tensor(MEANS, dtype=dtype), torch.tensor(STDS, dtype=dtype)
    mixture = _torch_mixture(weights, means, stds)
    tail = 6.0 if dtype == torch.float32 else 8.5      # z == 1.0 in this dtype, the density is still > 0
    x = torch.tensor(GRADIENT_POINTS + [float(np.max(MEANS + tail * STDS))], dtype=dtype)
    assert flows.mog_cdf_flow(x, weights, means, stds)[0][-1].item() == 1.0
    got_z = _grad(lambda v: flows.mog_cdf_flow(v, weights, means, stds)[0], x)
    want_z = _grad(mixture.cdf, x)
    got_logdet = _grad(lambda v: flows.mog_cdf_flow(v, weights, means, stds)[1], x)
    want_logdet = _grad(mixture.log_prob, x)
    assert torch.isfinite(got_z).all() and torch.isfinite(got_logdet).all()
    assert got_z[-1] > 0
    torch.testing.assert_close(got_z, want_z, rtol=1e-4 if dtype == torch.float32 else 1e-10, atol=0)
    torch.testing.assert_close(got_logdet, want_logdet)
    # the value is still clamped to [0, 1], and the derivative of z is the density exp(logdet)
    z, logdet = flows.mog_cdf_flow(x, weights, means, stds)
    assert ((z >= 0) & (z <= 1)).all()
    torch.testing.assert_close(got_z, logdet.exp(), rtol=1e-4 if dtype == torch.float32 else 1e-10, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_soft_clamp_and_standard_normal_gradients(dtype):
    x = torch.tensor(GRADIENT_POINTS, dtype=dtype)
    torch.testing.assert_close(_grad(lambda v: flows.soft_clamp(v, 3.0), x), 1 / torch.cosh(x / 3.0) ** 2)
    torch.testing.assert_close(_grad(lambda v: StandardNormal(1).log_prob(v[:, None]), x),
                               _grad(lambda v: torch.distributions.Normal(torch.zeros((), dtype=dtype), 1.0).log_prob(v), x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logit_transform_gradients_match_torch(dtype):
    """Forward at the edges of [0, 1] (0, 1e-8, 1 - 1e-8, 1) and the inverse at 0, +-1e-8, +-1000."""
    layer = LogitTransform(0.05)
    y = torch.tensor([0.0, 1e-8, 0.5, 1 - 1e-8, 1.0], dtype=dtype)[:, None]
    u = lambda v: 0.05 + 0.9 * v  # noqa: E731
    torch.testing.assert_close(_grad(lambda v: layer(v)[0], y), _grad(lambda v: torch.logit(u(v)), y))
    # log-det: log 0.9 - log u - log(1 - u) = log 0.9 + softplus(z) + softplus(-z) with z = logit(u)
    reference = lambda v: math.log(0.9) + F.softplus(torch.logit(u(v))) + F.softplus(-torch.logit(u(v)))  # noqa: E731
    torch.testing.assert_close(_grad(lambda v: layer(v)[1], y), _grad(lambda v: reference(v)[:, 0], y))
    z = torch.tensor(GRADIENT_POINTS, dtype=dtype)[:, None]
    torch.testing.assert_close(_grad(layer.inverse, z), _grad(lambda v: torch.sigmoid(v) / 0.9, z))


# ----------------------------------------------------------------------------------------------------------------
# Agreement with a maintained flow library (zuko, the `bench` extra that `make test` installs)
# ----------------------------------------------------------------------------------------------------------------
def test_affine_coupling_equals_zukos_coupling_with_the_same_weights():
    """Our RealNVP coupling is zuko's ``GeneralCouplingTransform`` with our weights and our soft-clamped scale.

    Our MLP reads the whole masked vector and writes (s~, t) for every coordinate; zuko's reads the
    kept coordinates and writes (t, s~) pairs for the changed ones. Copying the weights that matter
    (and only those) across, the two layers must give the same z, log-det and inverse.
    """
    import zuko  # the bench extra, installed by make test (pip install -e .[bench])

    torch.manual_seed(11)
    mask = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0])
    ours = _randomize(AffineCoupling(mask, hidden=8), scale=0.5, seed=12).double()
    keep, change = mask.nonzero().squeeze(1), (1 - mask).nonzero().squeeze(1)

    def soft_clamped_affine(shift, raw):
        return torch.distributions.AffineTransform(shift, torch.exp(flows.soft_clamp(raw, ours.scale_bound)))

    theirs = zuko.flows.GeneralCouplingTransform(5, mask=mask.bool(), univariate=soft_clamped_affine,
                                                 hidden_features=(8, 8)).double()
    ours_linear = [m for m in ours.conditioner if isinstance(m, torch.nn.Linear)]
    theirs_linear = [m for m in theirs.hyper if hasattr(m, "weight")]
    assert len(ours_linear) == len(theirs_linear) == 3
    rows = torch.stack([len(mask) + change, change], dim=1).reshape(-1)      # zuko's order: t_j, s~_j per coordinate
    with torch.no_grad():
        theirs_linear[0].weight.copy_(ours_linear[0].weight[:, keep])
        theirs_linear[0].bias.copy_(ours_linear[0].bias)
        theirs_linear[1].weight.copy_(ours_linear[1].weight)
        theirs_linear[1].bias.copy_(ours_linear[1].bias)
        theirs_linear[2].weight.copy_(ours_linear[2].weight[rows])
        theirs_linear[2].bias.copy_(ours_linear[2].bias[rows])
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    transform = theirs()
    z, logdet = ours(x)
    z_theirs, logdet_theirs = transform.call_and_ladj(x)
    assert logdet.abs().min() > 1e-3                                          # the scales are not trivial
    torch.testing.assert_close(z, z_theirs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logdet, logdet_theirs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours.inverse(z), transform.inv(z_theirs), rtol=1e-12, atol=1e-12)
