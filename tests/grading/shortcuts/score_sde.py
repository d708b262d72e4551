"""Shortcut answers for exercise 3 (score-sde): each would pass a naive grader (checked without the sandbox)."""

SHORTCUTS = {
    # the package's Euler solver, one step, with the noise folded into a constant extra drift
    "euler_maruyama_step": (
        "from genai_foundations.algorithms import solvers\n"
        "\n"
        "def euler_maruyama_step(drift, sigma, x, t, h, noise):\n"
        "    return solvers.euler_ode(lambda y, s: drift(y, s) + sigma * noise / math.sqrt(h), x, t, t + h, steps=1)"),
    # the score as the gradient of torch.distributions' log-density
    "mixture_score": (
        "import torch.distributions as D\n"
        "\n"
        "def mixture_score(x, means, stds, weights):\n"
        "    components = D.Independent(D.Normal(means, stds[:, None].expand_as(means)), 1)\n"
        "    mixture = D.MixtureSameFamily(D.Categorical(probs=weights), components)\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    (grad,) = torch.autograd.grad(mixture.log_prob(leaf).sum(), leaf)\n"
        "    return grad"),
    # the package's noise-prediction loss with a model wrapped to predict -beta s, and the reference for the rest
    "dsm_loss": (
        "from genai_foundations.algorithms import score_matching as sm\n"
        "\n"
        "def dsm_loss(score_model, z, path, t, noise, weighting=\"beta2\"):\n"
        "    if weighting == \"beta2\":\n"
        "        wrapped = lambda x, s: -path.beta(s)[:, None] * score_model(x, s)\n"
        "        return sm.noise_prediction_loss(wrapped, z, path, t=t, noise=noise)\n"
        "    return sm.dsm_loss(score_model, z, path, t=t, noise=noise, weighting=weighting)"),
    # the conditional field at the denoised mean (Tweedie): the same field without writing the conversion
    "score_to_vector_field": (
        "from genai_foundations.algorithms.gaussian_paths import broadcast_time, conditional_vector_field\n"
        "\n"
        "def score_to_vector_field(path, score, x, t):\n"
        "    tt = broadcast_time(t, x)\n"
        "    return conditional_vector_field(path, x, (x + path.beta(tt) ** 2 * score) / path.alpha(tt), t)"),
    # the package's sampler, fed the given noise by patching the solvers' random draws
    "denoising_sde_sample": (
        "from genai_foundations.algorithms import score_matching, solvers\n"
        "\n"
        "def denoising_sde_sample(score, path, x0, sigma, noise, t0=1e-2):\n"
        "    draws, original = iter(noise), solvers.randn\n"
        "    solvers.randn = lambda shape, device, generator=None, dtype=torch.float32: next(draws).to(dtype)\n"
        "    try:\n"
        "        return score_matching.reverse_sde_sample(score, path, x0, sigma, noise.shape[0], t0=t0)\n"
        "    finally:\n"
        "        solvers.randn = original"),
}
EXPECTED_ZERO = ["test_euler_maruyama_step", "test_mixture_score", "test_dsm_loss", "test_score_to_vector_field",
                 "test_denoising_sde_sample"]
