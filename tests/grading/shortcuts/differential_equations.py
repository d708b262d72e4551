"""Shortcut answers for exercise 20 (differential-equations): each would pass a naive grader (checked without the sandbox)."""

SHORTCUTS = {
    # the reference, unwrapped
    "ou_mean_var": (
        "import inspect\n"
        "from genai_foundations.appendices import differential_equations as de\n"
        "\n"
        "def ou_mean_var(t, mean0, var0, theta, sigma, mu=0.0):\n"
        "    return inspect.unwrap(de.ou_mean_var)(t, mean0, var0, theta, sigma, mu)"),
    # the package's Euler-Maruyama solver, fed the given noise by patching its random draws
    "ou_euler_maruyama": (
        "from genai_foundations.algorithms import solvers\n"
        "\n"
        "def ou_euler_maruyama(x0, theta, sigma, h, noise, mu=0.0):\n"
        "    draws, original = iter(noise), solvers.randn\n"
        "    solvers.randn = lambda shape, device, generator=None, dtype=torch.float32: next(draws).to(dtype)\n"
        "    try:\n"
        "        return solvers.euler_maruyama(lambda x, t: -theta * (x - mu), sigma, x0, 0.0, h * len(noise),\n"
        "                                      steps=len(noise), return_path=True)\n"
        "    finally:\n"
        "        solvers.randn = original"),
    # the appendix's exact mixture path
    "denoising_drift": (
        "from genai_foundations.appendices.differential_equations import GaussianMixture1D, MixtureProbabilityPath\n"
        "\n"
        "def denoising_drift(x, t, sigma, path, means, stds, weights):\n"
        "    return MixtureProbabilityPath(GaussianMixture1D(means, stds, weights), path).denoising_drift(sigma)(x, t)"),
    # the reference, reached under its decorator
    "fokker_planck_residual": (
        "import genai_foundations.appendices.differential_equations as de\n"
        "\n"
        "def fokker_planck_residual(p, u, sigma, dx, dp_dt=None):\n"
        "    reference = getattr(de.fokker_planck_residual, '__wrapped__', de.fokker_planck_residual)\n"
        "    return reference(p, u, sigma, dx, dp_dt)"),
}
EXPECTED_ZERO = ["test_ou_mean_var", "test_ou_euler_maruyama", "test_denoising_drift", "test_fokker_planck_residual"]
