"""Flow matching: training a vector field :math:`u^\\theta_t(x)` whose ODE carries noise to data (chapter 2).

Notation of the chapter (the same as :mod:`~genai_foundations.algorithms.gaussian_paths`):
time runs from :math:`t = 0` (noise, :math:`p_{\\text{init}} = \\mathcal N(0, I)`) to
:math:`t = 1` (data, :math:`p_{\\text{data}}`); a data point is :math:`z`, a noise draw
:math:`\\varepsilon`, and a Gaussian path puts :math:`x_t = \\alpha_t z + \\beta_t \\varepsilon`.

* (LIN) the linear path :math:`\\alpha_t = t, \\beta_t = 1 - t`: :math:`x_t = t z + (1 - t)\\varepsilon`
  with the regression target :math:`u_t(x_t \\mid z) = z - \\varepsilon` (:func:`linear_path_sample`);
* (TARGET) for any Gaussian path the conditional field at :math:`x_t` is
  :math:`u_t(x_t \\mid z) = \\dot\\alpha_t z + \\dot\\beta_t \\varepsilon` (:func:`training_pair`);
* (CFM) the conditional flow-matching loss
  :math:`L_{\\text{CFM}}(\\theta) = \\mathbb E_{t, z, \\varepsilon} \\lVert u^\\theta_t(x_t) - u_t(x_t \\mid z) \\rVert^2`
  (:func:`cfm_loss`, optionally with labels and label dropout);
* (CFG) classifier-free guidance
  :math:`\\tilde u_t(x \\mid y) = (1 - w)\\, u_t(x \\mid \\varnothing) + w\\, u_t(x \\mid y)` (:func:`guided_field`);
* sampling: integrate :math:`\\dot x = u_t(x)` from :math:`t = 0` to :math:`1` with the
  shared ODE solvers (:func:`sample`, :func:`euler_sample`).

Exact marginal fields, for experiments without training error:

* :func:`gaussian_to_gaussian_field`: the marginal field of the straight-line
  interpolation between two Gaussians, and :func:`gaussian_flow_map`, the exact
  solution of its ODE when the start is :math:`\\mathcal N(0, I)`;
* :func:`gaussian_path_log_density` and :func:`continuity_residual`, which checks the
  continuity equation :math:`\\partial_t p_t = -\\operatorname{div}(p_t u_t)` with autograd;
* :func:`marginal_vector_field_mixture` and :func:`marginal_log_density_mixture`:
  the marginal field and density of any Gaussian path when :math:`p_{\\text{data}}` is a
  mixture of isotropic Gaussians (standard deviation 0 gives an empirical
  distribution), wrapped as a "model" by :class:`MixtureField`.

Models are called as ``model(x, t, y)`` with ``t`` a (B,) tensor in [0, 1]
(:class:`~genai_foundations.architectures.mlp.TimeConditionedMLP` and
:class:`~genai_foundations.architectures.unet.UNet` both work); ``y=None`` means
"no label".
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch
from torch import nn

from genai_foundations.algorithms.ddpm import cfg_combine, drop_labels, resolve_null_label
from genai_foundations.algorithms.gaussian_paths import GaussianPath, LinearPath, broadcast_time, sample_conditional
from genai_foundations.algorithms.solvers import euler_ode, heun_ode, midpoint_ode
from genai_foundations.runtime import autocast, eval_mode, rand, randn

Field = Callable[[torch.Tensor, float], torch.Tensor]
SOLVERS: dict[str, Callable[..., torch.Tensor]] = {"euler": euler_ode, "heun": heun_ode, "midpoint": midpoint_ode}


# ---------------------------------------------------------------------------------------------------------------
# Training pairs and the conditional flow-matching loss
# ---------------------------------------------------------------------------------------------------------------
def _check_noise(z: torch.Tensor, eps: torch.Tensor) -> None:
    if eps.shape != z.shape:
        raise ValueError(f"eps must have the shape of z {tuple(z.shape)}, got {tuple(eps.shape)}")
    if z.dim() < 1:
        raise ValueError("z must have a batch dimension: shape (B, ...)")


def linear_path_sample(z: torch.Tensor, t: torch.Tensor | float, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The training pair of the linear path (LIN): :math:`x_t = t z + (1 - t)\\varepsilon` and the target :math:`z - \\varepsilon`.

    ``z`` (data) and ``eps`` (noise) have the same shape (B, ...); ``t`` is a
    number or one time per example, shape (B,). The target is the velocity of
    the straight line from :math:`\\varepsilon` to :math:`z`, so it does not depend on ``t``.
    """
    _check_noise(z, eps)
    tt = broadcast_time(t, z)
    return tt * z + (1 - tt) * eps, z - eps


def training_pair(path: GaussianPath, z: torch.Tensor, t: torch.Tensor | float,
                  eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`x_t = \\alpha_t z + \\beta_t \\varepsilon` and the target (TARGET) :math:`\\dot\\alpha_t z + \\dot\\beta_t \\varepsilon` for any Gaussian path.

    The target equals :func:`~genai_foundations.algorithms.gaussian_paths.conditional_vector_field`
    at :math:`x_t`, :math:`(\\dot\\alpha_t - \\frac{\\dot\\beta_t}{\\beta_t}\\alpha_t) z + \\frac{\\dot\\beta_t}{\\beta_t} x_t`
    (substitute :math:`x_t`), but written with :math:`\\varepsilon` it needs no division by
    :math:`\\beta_t` and stays finite at :math:`t = 1`.
    """
    _check_noise(z, eps)
    tt = broadcast_time(t, z)
    return sample_conditional(path, z, t, eps), path.alpha_dot(tt) * z + path.beta_dot(tt) * eps


def _model_time(t: torch.Tensor | float, batch: int, like: torch.Tensor) -> torch.Tensor:
    """The time handed to the model: shape (B,), on the device and in the floating dtype of the data ``like``."""
    dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
    t = torch.as_tensor(t, dtype=dtype, device=like.device)
    return t.expand(batch) if t.dim() == 0 else t.reshape(batch)


def cfm_loss(model: Callable[..., torch.Tensor], z: torch.Tensor, path: GaussianPath | None = None, *,
             t: torch.Tensor | float | None = None, eps: torch.Tensor | None = None, y: torch.Tensor | None = None,
             p_uncond: float = 0.0, null_label: int | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """The conditional flow-matching loss (CFM) on one batch of data ``z`` (B, ...).

    For every example draw :math:`t \\sim U[0, 1)` and :math:`\\varepsilon \\sim \\mathcal N(0, I)` (from
    ``generator``; pass ``t`` and ``eps`` to fix them), form :math:`x_t` and the target
    with :func:`training_pair` (the linear path (LIN) when ``path`` is ``None``), and return

    .. math:: \\frac1{B\\,D} \\sum_{i} \\big\\lVert u^\\theta_{t_i}(x_{t_i}, y_i) - (\\dot\\alpha_{t_i} z_i + \\dot\\beta_{t_i} \\varepsilon_i) \\big\\rVert^2,

    the mean squared error over all B x D entries (the squared norm divided by the
    dimension D, which only rescales the loss). The model is called as
    ``model(x_t, t, y)`` with ``t`` of shape (B,); with ``y=None`` as ``model(x_t, t)``.
    With labels and ``p_uncond > 0`` each label becomes the null label with that
    probability (label dropout for classifier-free guidance).
    """
    if z.dim() < 1 or z.shape[0] == 0:
        raise ValueError(f"z must be a non-empty batch of shape (B, ...), got {tuple(z.shape)}")
    path = LinearPath() if path is None else path
    batch = z.shape[0]
    if t is None:
        t = rand((batch,), z.device, generator, z.dtype)
    if eps is None:
        eps = randn(tuple(z.shape), z.device, generator, z.dtype)
    x_t, target = training_pair(path, z, t, eps)
    if y is not None and p_uncond > 0:   # label dropout: the null label replaces y with probability p_uncond
        y = drop_labels(y, p_uncond, resolve_null_label(model, null_label), generator)
    time = _model_time(t, batch, z)
    with autocast(z.device):
        prediction = model(x_t, time) if y is None else model(x_t, time, y)
    if prediction.shape != z.shape:
        raise ValueError(f"the model must return the shape of its input {tuple(z.shape)}, got {tuple(prediction.shape)}")
    return torch.mean((prediction.to(target.dtype) - target) ** 2)


# ---------------------------------------------------------------------------------------------------------------
# Guidance and sampling
# ---------------------------------------------------------------------------------------------------------------
def guided_field(model: Callable[..., torch.Tensor], x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor,
                 w: float) -> torch.Tensor:
    """Classifier-free guidance (CFG): :math:`\\tilde u_t(x \\mid y) = (1 - w)\\, u_t(x \\mid \\varnothing) + w\\, u_t(x \\mid y)`.

    The unconditional field is ``model(x, t, None)`` (the null label), the
    conditional one ``model(x, t, y)``. ``w = 1`` gives the conditional field,
    ``w = 0`` the unconditional one, ``w > 1`` extrapolates away from the
    unconditional field. Both fields are always evaluated.
    """
    return cfg_combine(model(x, t, None), model(x, t, y), w)


def model_field(model: Callable[..., torch.Tensor], y: torch.Tensor | None = None, w: float = 1.0) -> Field:
    """``field(x, t)`` for the solvers: the model's vector field at the float time ``t``.

    ``y=None``: the model alone (``model(x, t)``); labels with ``w = 1``: the
    conditional field (one call); any other ``w``: :func:`guided_field` (two calls).
    The time is passed to the model as a (B,) tensor.
    """

    def field(x: torch.Tensor, t: float) -> torch.Tensor:
        time = _model_time(float(t), x.shape[0], x)
        with autocast(x.device):
            if y is None:
                u = model(x, time)
            elif w == 1.0:
                u = model(x, time, y)
            else:
                u = guided_field(model, x, time, y, w)
        return u.to(x.dtype)

    return field


def _model_device(model: Callable[..., torch.Tensor]) -> torch.device:
    if isinstance(model, nn.Module):
        for tensor in list(model.parameters()) + list(model.buffers()):
            return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def sample(model: Callable[..., torch.Tensor], shape: tuple[int, ...] | None = None, *, steps: int = 50,
           method: str = "euler", y: torch.Tensor | None = None, w: float = 1.0, x0: torch.Tensor | None = None,
           generator: torch.Generator | None = None, device: torch.device | str | None = None,
           return_path: bool = False) -> torch.Tensor:
    """Generate data: integrate :math:`\\dot x = u^\\theta_t(x)` from :math:`x_0 \\sim \\mathcal N(0, I)` at t = 0 to t = 1.

    ``shape`` (B, ...) of the noise, drawn from ``generator`` on ``device``
    (the model's device by default), or the starting points ``x0`` themselves.
    ``method``: ``"euler"`` (one model call per step), ``"heun"`` or
    ``"midpoint"`` (two calls per step, second order). ``y`` (B,) and ``w``:
    labels and guidance weight (see :func:`model_field`). ``return_path``: the
    whole trajectory, shape (steps + 1, B, ...).
    """
    if method not in SOLVERS:
        raise ValueError(f"unknown method {method!r}; expected one of {sorted(SOLVERS)}")
    if x0 is None:
        if shape is None:
            raise ValueError("give either shape or x0")
        device = torch.device(device) if device is not None else _model_device(model)
        x0 = randn(tuple(shape), device, generator)
    elif shape is not None and tuple(x0.shape) != tuple(shape):
        raise ValueError(f"x0 has shape {tuple(x0.shape)}, but shape {tuple(shape)} was asked for")
    if y is not None:
        y = y.to(x0.device)
        if y.shape != (x0.shape[0],):
            raise ValueError(f"y must have shape ({x0.shape[0]},), got {tuple(y.shape)}")
    mode = eval_mode(model) if isinstance(model, nn.Module) else contextlib.nullcontext()
    with mode:
        return SOLVERS[method](model_field(model, y, w), x0, 0.0, 1.0, steps, return_path=return_path)


def euler_sample(field: Field, x0: torch.Tensor, steps: int) -> torch.Tensor:
    """Euler's method from t = 0 to t = 1: :math:`x_{t+h} = x_t + h\\, u_t(x_t)` with :math:`h = 1/\\text{steps}`.

    ``field(x, t)`` takes the float time ``t`` = 0, h, 2h, ..., 1 - h; returns the
    end point :math:`x_1` (the shared :func:`~genai_foundations.algorithms.solvers.euler_ode`).
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    return euler_ode(field, x0, 0.0, 1.0, steps)


# ---------------------------------------------------------------------------------------------------------------
# Exact marginal fields: Gaussian to Gaussian
# ---------------------------------------------------------------------------------------------------------------
def _gaussian(mean: torch.Tensor, cov: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.as_tensor(mean, dtype=torch.float64).reshape(-1)
    cov = torch.as_tensor(cov, dtype=torch.float64)
    d = mean.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"{name}: the covariance must have shape ({d}, {d}) to match the mean, got {tuple(cov.shape)}")
    if not torch.allclose(cov, cov.T, atol=1e-10):
        raise ValueError(f"{name}: the covariance must be symmetric")
    if torch.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError(f"{name}: the covariance must be positive definite")
    return mean, cov


def gaussian_to_gaussian_field(mu0: torch.Tensor, cov0: torch.Tensor, mu1: torch.Tensor,
                               cov1: torch.Tensor) -> Field:
    """The exact marginal field of :math:`x_t = (1-t) x_0 + t x_1`, :math:`x_0 \\sim \\mathcal N(\\mu_0, \\Sigma_0)`, :math:`x_1 \\sim \\mathcal N(\\mu_1, \\Sigma_1)` independent.

    :math:`x_t` is Gaussian with mean :math:`m_t = (1-t)\\mu_0 + t\\mu_1` and covariance
    :math:`S_t = (1-t)^2\\Sigma_0 + t^2\\Sigma_1`, and the marginal field is the conditional mean of
    the velocity :math:`x_1 - x_0` given :math:`x_t = x`:

    .. math:: u_t(x) = \\mu_1 - \\mu_0 + \\big(t\\Sigma_1 - (1-t)\\Sigma_0\\big) S_t^{-1} (x - m_t).

    With :math:`\\mu_0 = 0, \\Sigma_0 = I` this is the flow-matching field of the linear
    path for Gaussian data. Its ODE carries :math:`\\mathcal N(\\mu_0, \\Sigma_0)` at t = 0 to
    :math:`\\mathcal N(\\mu_1, \\Sigma_1)` at t = 1. Returns ``field(x, t)`` for x of shape (B, d).
    """
    mu0, cov0 = _gaussian(mu0, cov0, "start")
    mu1, cov1 = _gaussian(mu1, cov1, "end")
    if mu0.shape != mu1.shape:
        raise ValueError(f"the two Gaussians must have the same dimension, got {mu0.shape[0]} and {mu1.shape[0]}")
    d = mu0.shape[0]

    def field(x: torch.Tensor, t: float) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != d:
            raise ValueError(f"expected x of shape (B, {d}), got {tuple(x.shape)}")
        t = float(t)
        mean = (1 - t) * mu0 + t * mu1
        cov = (1 - t) ** 2 * cov0 + t**2 * cov1
        gain = torch.linalg.solve(cov, t * cov1 - (1 - t) * cov0).T    # (t S1 - (1-t) S0) S_t^{-1}; S_t symmetric
        dev = x.to(torch.float64) - mean.to(x.device)
        u = (mu1 - mu0).to(x.device) + dev @ gain.T.to(x.device)
        return u.to(x.dtype)

    return field


def gaussian_flow_map(x0: torch.Tensor, t: float, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """The exact flow :math:`\\psi_t(x_0) = m_t + S_t^{1/2} x_0` of the linear path from :math:`\\mathcal N(0, I)` to :math:`\\mathcal N(\\mu, \\Sigma)`.

    Here :math:`m_t = t\\mu`, :math:`S_t = (1-t)^2 I + t^2 \\Sigma` and :math:`S_t^{1/2}` is the
    symmetric square root. All :math:`S_t` commute, so :math:`\\frac{d}{dt} S_t^{1/2} = A_t S_t^{1/2}` with
    the gain :math:`A_t` of :func:`gaussian_to_gaussian_field`: this solves its ODE
    exactly, a reference for the numerical solvers. ``x0`` has shape (B, d).
    """
    mean, cov = _gaussian(mean, cov, "end")
    d = mean.shape[0]
    if x0.dim() != 2 or x0.shape[1] != d:
        raise ValueError(f"expected x0 of shape (B, {d}), got {tuple(x0.shape)}")
    t = float(t)
    values, vectors = torch.linalg.eigh((1 - t) ** 2 * torch.eye(d, dtype=torch.float64) + t**2 * cov)
    root = vectors @ torch.diag(values.sqrt()) @ vectors.T
    out = t * mean.to(x0.device) + x0.to(torch.float64) @ root.to(x0.device)
    return out.to(x0.dtype)


def gaussian_path_log_density(x: torch.Tensor, t: torch.Tensor | float, mu0: torch.Tensor, cov0: torch.Tensor,
                              mu1: torch.Tensor, cov1: torch.Tensor) -> torch.Tensor:
    """:math:`\\log p_t(x)` for :math:`p_t = \\mathcal N(m_t, S_t)`, the path of :func:`gaussian_to_gaussian_field`.

    :math:`m_t = (1-t)\\mu_0 + t\\mu_1`, :math:`S_t = (1-t)^2\\Sigma_0 + t^2\\Sigma_1`. Differentiable in
    ``x`` (B, d) and in a tensor ``t`` (for :func:`continuity_residual`); returns (B,) in float64.
    """
    mu0, cov0 = _gaussian(mu0, cov0, "start")
    mu1, cov1 = _gaussian(mu1, cov1, "end")
    t = torch.as_tensor(t, dtype=torch.float64)
    if t.dim() != 0:
        raise ValueError(f"t must be a number or a 0-d tensor, got shape {tuple(t.shape)}")
    mean = ((1 - t) * mu0 + t * mu1).to(x.device)
    cov = ((1 - t) ** 2 * cov0 + t**2 * cov1).to(x.device)
    return torch.distributions.MultivariateNormal(mean, cov).log_prob(x.to(torch.float64))


def continuity_residual(log_density: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], field: Field,
                        x: torch.Tensor, t: float) -> torch.Tensor:
    """The continuity equation :math:`\\partial_t p_t = -\\operatorname{div}(p_t u_t)` divided by :math:`p_t`, at the points ``x`` (B, d):

    .. math:: r(x) = \\partial_t \\log p_t(x) + \\operatorname{div} u_t(x) + u_t(x) \\cdot \\nabla_x \\log p_t(x),

    which is 0 wherever :math:`p_t > 0` exactly when the field ``u`` generates the path ``p``.
    ``log_density(x, t)`` must be differentiable in ``x`` and in the 0-d tensor ``t``;
    ``field(x, t)`` (float ``t``) in ``x``. All derivatives come from autograd; returns (B,).
    """
    if x.dim() != 2:
        raise ValueError(f"expected points of shape (B, d), got {tuple(x.shape)}")
    x = x.detach().to(torch.float64).requires_grad_(True)
    time = torch.tensor(float(t), dtype=torch.float64, requires_grad=True)
    log_p = log_density(x, time)
    (grad_log_p,) = torch.autograd.grad(log_p.sum(), x, retain_graph=True)
    dlogp_dt = torch.stack([torch.autograd.grad(log_p[i], time, retain_graph=True)[0] for i in range(len(x))])
    u = field(x, float(t)).to(torch.float64)
    if u.requires_grad:
        divergence = sum(torch.autograd.grad(u[:, j].sum(), x, retain_graph=True)[0][:, j] for j in range(x.shape[1]))
    else:  # a field that does not depend on x (e.g. a constant drift) has divergence 0
        divergence = torch.zeros(len(x), dtype=torch.float64, device=x.device)
    return (dlogp_dt + divergence + (u * grad_log_p).sum(dim=1)).detach()


# ---------------------------------------------------------------------------------------------------------------
# Exact marginal fields: mixtures of isotropic Gaussians (and empirical distributions)
# ---------------------------------------------------------------------------------------------------------------
def _mixture(x: torch.Tensor, means: torch.Tensor, stds: torch.Tensor | float | None,
             weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    means = torch.as_tensor(means, dtype=torch.float64, device=x.device)
    if means.dim() != 2:
        raise ValueError(f"means must have shape (K, d), got {tuple(means.shape)}")
    k, d = means.shape
    if x.dim() != 2 or x.shape[1] != d:
        raise ValueError(f"expected x of shape (B, {d}), got {tuple(x.shape)}")
    stds = torch.zeros(k, dtype=torch.float64, device=x.device) if stds is None else \
        torch.as_tensor(stds, dtype=torch.float64, device=x.device).expand(k).clone()
    if (stds < 0).any():
        raise ValueError("stds must be non-negative")
    if weights is None:
        weights = torch.full((k,), 1.0 / k, dtype=torch.float64, device=x.device)
    weights = torch.as_tensor(weights, dtype=torch.float64, device=x.device)
    if weights.shape not in ((k,), (x.shape[0], k)) or (weights < 0).any():
        raise ValueError(f"weights must be non-negative with shape ({k},) or ({x.shape[0]}, {k})")
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return means, stds, weights


def _mixture_terms(path: GaussianPath, x: torch.Tensor, t: torch.Tensor | float, means: torch.Tensor,
                   stds: torch.Tensor, weights: torch.Tensor):
    """Per-example, per-component quantities: alpha_t, its derivatives, variances v_k and log responsibilities."""
    xd = x.to(torch.float64)
    tt = torch.as_tensor(t, dtype=torch.float64, device=x.device)
    if tt.dim() == 1:
        if tt.shape[0] != x.shape[0]:
            raise ValueError(f"t must be a number or have shape ({x.shape[0]},), got {tuple(tt.shape)}")
        tt = tt[:, None]                                                            # (B, 1)
    elif tt.dim() != 0:
        raise ValueError(f"t must be a number or have shape ({x.shape[0]},), got {tuple(tt.shape)}")
    a, b, ad, bd = path.alpha(tt), path.beta(tt), path.alpha_dot(tt), path.beta_dot(tt)
    var = a**2 * stds**2 + b**2                                                     # (B or 1, K)
    if (var <= 0).any():
        raise ValueError("p_t is a point mass here (beta_t = 0 and a component of standard deviation 0): "
                         "use t < 1 for an empirical distribution")
    diff = xd[:, None, :] - a[..., None] * means[None]                             # (B, K, d)
    d = x.shape[1]
    log_comp = -0.5 * (diff**2).sum(-1) / var - 0.5 * d * torch.log(2 * math.pi * var)
    log_joint = torch.log(weights).expand_as(log_comp) + log_comp                  # (B, K)
    return a, b, ad, bd, var, diff, log_joint


def marginal_log_density_mixture(x: torch.Tensor, t: torch.Tensor | float, means: torch.Tensor,
                                 stds: torch.Tensor | float | None = None, weights: torch.Tensor | None = None,
                                 path: GaussianPath | None = None) -> torch.Tensor:
    """:math:`\\log p_t(x)` when :math:`p_{\\text{data}} = \\sum_k \\pi_k \\mathcal N(\\mu_k, s_k^2 I)` and :math:`x_t = \\alpha_t z + \\beta_t\\varepsilon`.

    Each component stays Gaussian: :math:`p_t = \\sum_k \\pi_k \\mathcal N(\\alpha_t\\mu_k, (\\alpha_t^2 s_k^2 + \\beta_t^2) I)`.
    ``means`` (K, d), ``stds`` (K,) or a number (default 0: the empirical distribution
    of the points ``means``), ``weights`` (K,) or per example (B, K) (default uniform),
    ``t`` a number or (B,). Differentiable in ``x`` and ``t``; returns (B,) in float64.
    """
    means, stds, weights = _mixture(x, means, stds, weights)
    *_, log_joint = _mixture_terms(path or LinearPath(), x, t, means, stds, weights)
    return torch.logsumexp(log_joint, dim=1)


def marginal_vector_field_mixture(x: torch.Tensor, t: torch.Tensor | float, means: torch.Tensor,
                                  stds: torch.Tensor | float | None = None, weights: torch.Tensor | None = None,
                                  path: GaussianPath | None = None) -> torch.Tensor:
    """The exact marginal field :math:`u_t(x) = \\mathbb E[\\dot\\alpha_t z + \\dot\\beta_t\\varepsilon \\mid x_t = x]` for a Gaussian-mixture :math:`p_{\\text{data}}`.

    With responsibilities :math:`r_k(x) \\propto \\pi_k \\mathcal N(x; \\alpha_t\\mu_k, v_k I)`,
    :math:`v_k = \\alpha_t^2 s_k^2 + \\beta_t^2`, Gaussian conditioning within component k gives

    .. math:: u_t(x) = \\sum_k r_k(x) \\Big[\\dot\\alpha_t \\mu_k + \\frac{\\dot\\alpha_t \\alpha_t s_k^2 + \\dot\\beta_t \\beta_t}{v_k} (x - \\alpha_t \\mu_k)\\Big],

    the average of the conditional fields :math:`u_t(x \\mid z)` weighted by the posterior of
    :math:`z` given :math:`x_t = x`. Arguments as in :func:`marginal_log_density_mixture`
    (the linear path by default); returns (B, d) in the dtype of ``x``. For an
    empirical distribution (``stds`` 0) it needs t < 1.
    """
    means, stds, weights = _mixture(x, means, stds, weights)
    a, b, ad, bd, var, diff, log_joint = _mixture_terms(path or LinearPath(), x, t, means, stds, weights)
    resp = torch.softmax(log_joint, dim=1)                                          # (B, K)
    gain = (ad * a * stds**2 + bd * b) / var                                        # (B or 1, K)
    per_component = ad[..., None] * means[None] + gain[..., None] * diff             # (B, K, d)
    return (resp[..., None] * per_component).sum(dim=1).to(x.dtype)


class MixtureField(nn.Module):
    """The exact marginal field of a Gaussian-mixture data set, callable like a trained model: ``field(x, t, y=None)``.

    ``labels`` (K,) gives each component a class; then ``y`` (B,) restricts the
    mixture to the components of class :math:`y_i` (the exact conditional field
    :math:`u_t(x \\mid y)`), and ``y=None`` or the null label ``num_classes`` uses the whole
    mixture (:math:`u_t(x \\mid \\varnothing)`). No training error: for studying samplers and guidance.
    """

    def __init__(self, means: torch.Tensor, stds: torch.Tensor | float | None = None,
                 weights: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                 path: GaussianPath | None = None):
        super().__init__()
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.dim() != 2:
            raise ValueError(f"means must have shape (K, d), got {tuple(means.shape)}")
        k = means.shape[0]
        stds = torch.zeros(k) if stds is None else torch.as_tensor(stds, dtype=torch.float64).expand(k).clone()
        weights = torch.full((k,), 1.0 / k) if weights is None else torch.as_tensor(weights)
        self.register_buffer("means", means)
        self.register_buffer("stds", stds.to(torch.float64))
        self.register_buffer("weights", weights.to(torch.float64))
        self.path = path or LinearPath()
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.long)
            if labels.shape != (k,) or labels.min() < 0:
                raise ValueError(f"labels must be {k} non-negative class indices")
            self.num_classes = int(labels.max()) + 1
            self.register_buffer("labels", labels)
        else:
            self.num_classes = None
            self.labels = None

    @property
    def null_label(self) -> int:
        if self.num_classes is None:
            raise ValueError("this mixture has no labels, so it has no null label")
        return self.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None) -> torch.Tensor:
        weights = self.weights.to(x.device)
        if y is not None:
            if self.labels is None:
                raise ValueError("this mixture has no labels; pass y=None")
            y = torch.as_tensor(y, device=x.device).reshape(-1)
            mask = (self.labels.to(x.device)[None, :] == y[:, None]) | (y[:, None] == self.num_classes)
            weights = weights[None, :] * mask
        return marginal_vector_field_mixture(x, t, self.means, self.stds, weights, self.path)
