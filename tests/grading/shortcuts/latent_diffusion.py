"""Shortcut answers for exercise 6 (latent-diffusion): each would pass a naive grader.

Each one passes the hidden tests outside the sandbox (the package's functions
compute exactly what the tasks ask); in the sandbox they are absent, or the
guard refuses the library call.
"""

SHORTCUTS = {
    # the package's scale estimate, unwrapped
    "latent_scale": (
        "import inspect\n"
        "from genai_foundations.algorithms import latent_diffusion as _ld\n"
        "def latent_scale(autoencoder, images, batch_size=500):\n"
        "    return inspect.unwrap(_ld.estimate_latent_scale)(autoencoder, images, batch_size)"),
    # the forward process written out, the loss by the library's mean squared error
    "latent_training_loss": (
        "import torch\nimport torch.nn.functional as F\n"
        "def latent_training_loss(denoiser, autoencoder, scale, images, t, noise, schedule):\n"
        "    with torch.no_grad():\n"
        "        z0 = scale * autoencoder.encode(images)[0]\n"
        "    abar = schedule.alphas_bar[t].to(z0.dtype).reshape(-1, 1, 1, 1)\n"
        "    z_t = abar.sqrt() * z0 + (1 - abar).sqrt() * noise\n"
        "    return F.mse_loss(denoiser(z_t, t.float() / schedule.T), noise)"),
    # the package's codec and chapter 4's closed form and x0 estimate
    "encode_noise_denoise_decode": (
        "import torch\n"
        "from genai_foundations.algorithms.latent_diffusion import LatentCodec\n"
        "from genai_foundations.algorithms.ddpm import q_sample, predict_x0\n"
        "def encode_noise_denoise_decode(denoiser, autoencoder, scale, images, t, noise, schedule):\n"
        "    codec = LatentCodec(autoencoder, scale)\n"
        "    z_t = q_sample(codec.encode(images), t, noise, schedule)\n"
        "    eps = denoiser(z_t, torch.full((len(z_t),), t / schedule.T))\n"
        "    return codec.decode(predict_x0(z_t, t, eps, schedule))"),
    # chapter 4's sampler in latent space, then the decoder
    "sample_latent_digits": (
        "import torch\n"
        "from genai_foundations.algorithms import ddpm\n"
        "def sample_latent_digits(denoiser, autoencoder, scale, schedule, z_T, steps):\n"
        "    z = ddpm.sample(denoiser, schedule, tuple(z_T.shape), steps=steps, eta=0.0, x_T=z_T)\n"
        "    with torch.no_grad():\n"
        "        return autoencoder.decode(z / scale).clamp(-1, 1)"),
}
EXPECTED_ZERO = ["test_latent_scale", "test_latent_training_loss", "test_encode_noise_denoise_decode",
                 "test_sample_latent_digits"]
