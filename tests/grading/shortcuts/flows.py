"""Shortcut answers for exercise 1 (flows): each would pass a naive grader on most inputs.

More shortcuts were tried by hand and score 0 as well (see the report of the
hardening round): ``inspect.unwrap`` of the references (absent from the
sandbox), ``flows.FlowSequence(layers, flows.StandardNormal(...)).nll(x)`` (the
scan sees ``.nll``), ``torch.distributions.Normal(0, 1).log_prob`` reached
through ``importlib`` (the guard sees ``broadcast_tensors``),
``F.gaussian_nll_loss`` (the guard), and the naive ``log(sum(w / s * phi))``
of the mixture (its values are -inf far in the tails).
"""

SHORTCUTS = {
    # the coupling with exp(s) computed everywhere and the kept coordinates chosen afterwards: right values,
    # NaN gradients where s overflows on a kept coordinate
    "affine_coupling_forward": (
        "def affine_coupling_forward(x, mask, conditioner):\n"
        "    keep = mask.to(x.dtype).bool()\n"
        "    s, t = conditioner(x * mask)\n"
        "    z = torch.where(keep, x, x * torch.exp(s) + t)\n"
        "    return z, torch.where(keep, torch.zeros_like(s), s).flatten(1).sum(dim=1)"),
    # the package's coupling layer, which calls the reference (absent from the sandbox)
    "affine_coupling_inverse": (
        "from torch import nn\n"
        "from genai_foundations.algorithms import flows as _flows\n"
        "def affine_coupling_inverse(z, mask, conditioner):\n"
        "    layer = _flows.AffineCoupling(mask, nn.Identity())\n"
        "    layer.scale_and_shift = conditioner\n"
        "    return layer.inverse(z)"),
    # the package's standard normal base for the density (the layers applied by hand, so that lists of plain
    # functions and empty lists work too)
    "flow_nll": (
        "from genai_foundations.algorithms import flows as _flows\n"
        "def flow_nll(x, layers):\n"
        "    h, total = x, torch.zeros(x.shape[0], dtype=x.dtype)\n"
        "    for layer in layers:\n"
        "        h, logdet = layer(h)\n"
        "        total = total + logdet\n"
        "    return -(_flows.StandardNormal(tuple(h.shape[1:])).log_prob(h) + total).mean()"),
    # torch.distributions' mixture: exact values, tails and gradients
    "mog_cdf_flow": (
        "import torch.distributions as D\n"
        "def mog_cdf_flow(x, weights, means, stds):\n"
        "    mixture = D.MixtureSameFamily(D.Categorical(probs=weights), D.Normal(means, stds))\n"
        "    return mixture.cdf(x), mixture.log_prob(x)"),
}
EXPECTED_ZERO = ["test_affine_coupling_forward", "test_affine_coupling_inverse", "test_flow_nll", "test_mog_cdf_flow"]
