"""Shortcut answers for exercise 8 (gans): each passes the visible tests or a naive grader.

One submission carries all of them (tests/test_exercises.py); every task must
score 0. Other shortcuts that the same mechanisms stop: ``F.softplus``,
``F.logsigmoid``, ``torch.logaddexp(0, -l)``, ``nn.BCEWithLogitsLoss`` (the
guard and the scan, :data:`genai_grading.assignments.losses.SOFTPLUS`); the
package's ``losses.softplus`` and ``gans.interpolate`` (absent from the
sandbox); a penalty without ``create_graph=True`` (no gradient reaches the
critic: the visible and the hidden tests fail); ``torch.optim.Adam`` for
task 4 (forbidden, and not SGD).
"""

SHORTCUTS = {
    # the textbook "stable" formula with clamp and abs: right values, gradient 1 instead of 1/2 at logit 0
    "discriminator_loss": (
        "def softplus(u):\n"
        "    return u.clamp(min=0) + torch.log1p(torch.exp(-u.abs()))\n"
        "def discriminator_loss(real_logits, fake_logits):\n"
        "    return softplus(-real_logits).mean() + softplus(fake_logits).mean()"),
    # PyTorch's binary cross-entropy reached through a computed name
    "generator_loss": (
        "import torch.nn.functional as _F\n"
        "def generator_loss(fake_logits, saturating=False):\n"
        "    bce = getattr(_F, 'binary_cross_entropy' + '_with_logits')\n"
        "    if saturating:\n"
        "        return -bce(fake_logits, torch.zeros_like(fake_logits))\n"
        "    return bce(fake_logits, torch.ones_like(fake_logits))"),
    # the package's reference, unwrapped: absent from the sandbox
    "gradient_penalty": (
        "import inspect\nfrom genai_foundations.algorithms import gans as _gans\n"
        "def gradient_penalty(critic, real, fake, eps):\n"
        "    return inspect.unwrap(_gans.gradient_penalty)(critic, real, fake, eps)"),
    # torch.optim.SGD does the update (forbidden), with the losses written naively as log(sigmoid)
    "gan_step": (
        "def gan_step(generator, discriminator, real_batches, noises, lr, saturating=False):\n"
        "    opt_d = torch.optim.SGD(discriminator.parameters(), lr=lr)\n"
        "    opt_g = torch.optim.SGD(generator.parameters(), lr=lr)\n"
        "    for i in range(len(real_batches)):\n"
        "        opt_d.zero_grad()\n"
        "        fake = generator(noises[i]).detach()\n"
        "        d_loss = -torch.log(torch.sigmoid(discriminator(real_batches[i]))).mean() \\\n"
        "            - torch.log(1 - torch.sigmoid(discriminator(fake))).mean()\n"
        "        d_loss.backward()\n"
        "        opt_d.step()\n"
        "    opt_g.zero_grad()\n"
        "    p = torch.sigmoid(discriminator(generator(noises[-1])))\n"
        "    g_loss = torch.log(1 - p).mean() if saturating else -torch.log(p).mean()\n"
        "    g_loss.backward()\n"
        "    opt_g.step()\n"
        "    return d_loss.detach(), g_loss.detach()"),
}
EXPECTED_ZERO = ["test_discriminator_loss", "test_generator_loss", "test_gradient_penalty", "test_gan_step"]
