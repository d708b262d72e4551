"""Exercise 4 (ddpm): the shortcuts each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/ddpm/ddpm.ipynb``. The references they import (``q_sample``,
``predict_x0``, ``reverse_step``, ``cosine_betas``) are absent from the sandbox; so are the helpers that
would do a task in one call. ``NoiseSchedule.at`` does the indexing and broadcasting that task 1 asks
for: the scan refuses any ``.at(`` call in the answers (the schedule object itself must stay usable).
"""

BLOCKED = [
    "genai_foundations.algorithms.ddpm.ddpm_step",
    "genai_foundations.algorithms.ddpm.posterior_mean_variance",
    "genai_foundations.algorithms.ddpm.noise_scale",
]

DIFFUSERS = ("diffusers.DDPMScheduler", "diffusers.DDIMScheduler", "diffusers.schedulers.DDPMScheduler",
             "diffusers.schedulers.DDIMScheduler", "Tensor.add_noise")

FORBIDDEN = {
    "test_q_sample": ["Tensor.at", *DIFFUSERS],
    "test_reverse_step": ["Tensor.at", "Tensor.step", *DIFFUSERS],
    "test_cosine_betas": ["diffusers.schedulers.scheduling_ddpm.betas_for_alpha_bar", *DIFFUSERS],
}
