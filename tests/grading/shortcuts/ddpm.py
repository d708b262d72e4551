"""Shortcut answers for exercise 4 (ddpm): each passes the hidden tests outside the sandbox."""

SHORTCUTS = {
    # the schedule's own indexing-and-broadcasting method does the task
    "q_sample": (
        "def q_sample(x0, t, noise, schedule):\n"
        "    abar = schedule.at(schedule.alphas_bar, t, x0).to(x0.dtype)\n"
        "    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise"),
    # the package's reference, unwrapped
    "reverse_step": (
        "import inspect\nfrom genai_foundations.algorithms import ddpm as _ddpm\n"
        "def reverse_step(x_t, t, t_prev, eps, schedule, eta=0.0, noise=None, clip_x0=False):\n"
        "    return inspect.unwrap(_ddpm.reverse_step)(x_t, t, t_prev, eps, schedule, eta, noise, clip_x0)"),
    # diffusers' cosine schedule
    "cosine_betas": (
        "from diffusers.schedulers.scheduling_ddpm import betas_for_alpha_bar\n"
        "def cosine_betas(T, s=0.008, max_beta=0.999):\n"
        "    return betas_for_alpha_bar(T, max_beta, alpha_transform_type='cosine').double()"),
}
EXPECTED_ZERO = ["test_q_sample", "test_reverse_step", "test_cosine_betas"]
