"""Exercise 6 (latent-diffusion): the shortcuts each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/latent-diffusion/latent-diffusion.ipynb``
(written with ``check_function``). The references they import are absent from
the sandbox: ``latent_diffusion.estimate_latent_scale``, ``latent_loss_at``,
``encode_noise_denoise_decode`` and ``sample_images``, and the helpers imported
beside them (``encode_mean``, ``latent_scale_from_latents``, ``sample_latents``;
chapter 4's ``q_sample``, ``ddpm_loss``, ``predict_x0``, ``reverse_step``,
``sample``, ``sampling_timesteps``). ``BLOCKED`` adds the codec class (whose
``encode``/``decode`` would do half of tasks 2 to 4), the batched
reconstruction, and chapter 4's ``ddpm_step``, ``posterior_mean_variance`` and
``noise_scale``.

What stays allowed: the autoencoder's ``encode``/``decode`` and the denoiser
(the tasks are about connecting them), ``torch.std`` for task 1 (the point is
*which* latents and *which* entries, not the formula of a standard deviation),
element-wise arithmetic, ``torch.linspace``, ``torch.full`` and loops. The
hidden tests of task 4 hand the sampler the package's ``ExactLatentDenoiser``
wrapped in ``WithLabels``: neither is a reference, and neither calls a
forbidden name.

Not stoppable from here (reported): ``statistics.stdev`` or NumPy through
``.numpy()`` for the standard deviation in task 1 (allowed anyway), and
``diffusers``' ``DDIMScheduler`` driven with a custom time grid runs in
library frames that the guard exempts; the scan refuses its spellings.
"""

from __future__ import annotations

BLOCKED = [
    "genai_foundations.algorithms.latent_diffusion.LatentCodec",
    "genai_foundations.algorithms.latent_diffusion.reconstruct",
    "genai_foundations.algorithms.ddpm.ddpm_step",
    "genai_foundations.algorithms.ddpm.posterior_mean_variance",
    "genai_foundations.algorithms.ddpm.noise_scale",
]

DIFFUSERS = ("diffusers.DDPMScheduler", "diffusers.DDIMScheduler", "diffusers.schedulers.DDPMScheduler",
             "diffusers.schedulers.DDIMScheduler", "diffusers.AutoencoderKL", "Tensor.add_noise")
# The mean squared error in one call (nn.MSELoss and F.mse_loss reach mse_loss).
MSE = ("torch.nn.functional.mse_loss", "torch.nn.MSELoss")

FORBIDDEN = {
    "test_latent_scale": [*DIFFUSERS],
    "test_latent_training_loss": [*MSE, *DIFFUSERS],
    "test_encode_noise_denoise_decode": ["Tensor.step", *DIFFUSERS],
    "test_sample_latent_digits": ["Tensor.step", "Tensor.set_timesteps", *DIFFUSERS],
}
