"""Shortcut answers for exercise 5 (vae): each passes the hidden tests outside the sandbox."""

SHORTCUTS = {
    # the package's reference, unwrapped (it is absent from the sandbox)
    "reparameterize": (
        "import inspect\nfrom genai_foundations.algorithms import vae as _vae\n"
        "def reparameterize(mu, logvar, noise):\n"
        "    return inspect.unwrap(_vae.reparameterize)(mu, logvar, noise=noise)"),
    # torch.distributions' closed-form KL
    "gaussian_kl": (
        "from torch.distributions import Normal, kl_divergence\n"
        "def gaussian_kl(mu, logvar):\n"
        "    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(torch.zeros_like(mu), torch.ones_like(mu)))\n"
        "    return kl.reshape(kl.shape[0], -1).sum(1)"),
    # the library cross-entropy and squared error, reached through getattr on a computed name
    "elbo": (
        "import torch.nn.functional as F\n"
        "def elbo(x, output, mu, logvar, likelihood='bernoulli', sigma=1.0):\n"
        "    if likelihood == 'bernoulli':\n"
        "        nll = getattr(F, 'binary_cross_entropy' + '_with_logits')(output, x, reduction='none')\n"
        "    else:\n"
        "        nll = F.mse_loss(output, x, reduction='none') / (2 * sigma**2) + 0.5 * math.log(2 * math.pi * sigma**2)\n"
        "    kl = -0.5 * (1 + logvar - mu**2 - logvar.exp())\n"
        "    return -nll.reshape(x.shape[0], -1).sum(1) - kl.reshape(x.shape[0], -1).sum(1)"),
    # the library log-sum-exp through the torch.ops.aten alias
    "log_mean_exp": (
        "def log_mean_exp(a, dim=0):\n"
        "    return torch.ops.aten.logsumexp(a, [dim]) - math.log(a.shape[dim])"),
    # the package's pieces (absent from the sandbox)
    "iwae_bound": (
        "from genai_foundations.algorithms.vae import importance_log_weights, log_mean_exp as _lme\n"
        "def iwae_bound(model, x, noise):\n"
        "    import genai_foundations.algorithms.vae as v\n"
        "    k, b, d = noise.shape\n"
        "    mu, logvar = model.encode(x)\n"
        "    z = mu + torch.exp(0.5 * logvar) * noise\n"
        "    logits = model.decode(z.reshape(k * b, d)).reshape(k, b, -1)\n"
        "    log_px = v.bernoulli_log_likelihood(logits.reshape(k * b, -1), x.reshape(1, b, -1).expand(k, b, -1).reshape(k * b, -1)).reshape(k, b)\n"
        "    log_w = log_px - 0.5 * (z**2).sum(2) + 0.5 * (logvar + noise**2).sum(2)\n"
        "    return _lme(log_w, dim=0)"),
}
EXPECTED_ZERO = ["test_reparameterize", "test_gaussian_kl", "test_elbo", "test_log_mean_exp", "test_iwae_bound"]
