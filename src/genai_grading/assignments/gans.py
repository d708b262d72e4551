"""Exercise 8 (gans): the shortcuts each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/gans/gans.ipynb``. The references they
import (``gans.discriminator_loss``, ``generator_loss_saturating``,
``generator_loss_nonsaturating``, ``gradient_penalty``, ``sgd_gan_step``) are
absent from the sandbox, and so are the helpers that would do a task in one
call: the chapter's ``gans.interpolate``, ``gans.gan_step`` and
``gans.train_gan``, and chapter 10's ``losses.softplus`` and
``losses.binary_cross_entropy_with_logits`` (imported by the hidden tests, and
listed in ``BLOCKED``).

Tasks 1 and 2 ask for a stable binary cross-entropy from logits: every
PyTorch spelling of softplus, log-sigmoid and the binary cross-entropy is
forbidden (the list of the losses exercise, :data:`genai_grading.assignments.losses.SOFTPLUS`).
The naive ``clamp``/``abs`` formula is stopped by the hidden gradient test at
logit 0, and ``log(sigmoid)`` by the one at -1000. Task 4 asks for the SGD
updates written out: ``torch.optim``'s optimisers are forbidden.
"""

from __future__ import annotations

from genai_grading.assignments.losses import SOFTPLUS

BLOCKED = [
    "genai_foundations.algorithms.gans.interpolate",
    "genai_foundations.algorithms.gans.gan_step",
    "genai_foundations.algorithms.gans.train_gan",
    "genai_foundations.architectures.losses.softplus",
    "genai_foundations.architectures.losses.binary_cross_entropy_with_logits",
]

OPTIMISERS = ("torch.optim.SGD", "torch.optim.Adam", "torch.optim.AdamW", "torch.optim.RMSprop",
              "torch.optim.Adagrad", "torch.optim.Adadelta", "torch.optim.Adamax", "torch.optim.NAdam",
              "torch.optim.RAdam", "torch.optim.ASGD", "torch.optim.Rprop", "torch.optim.LBFGS",
              "torch.optim.SparseAdam", "torch._foreach_add_", "torch._foreach_mul_")

FORBIDDEN = {
    "test_discriminator_loss": list(SOFTPLUS),
    "test_generator_loss": list(SOFTPLUS),
    "test_gradient_penalty": [],
    "test_gan_step": list(SOFTPLUS + OPTIMISERS),
}
