"""Knowledge distillation: a student trained on a teacher's softened predictions (Hinton et al., 2015).

At temperature T the teacher's logits :math:`z^{t}` and the student's
:math:`z^{s}` give the soft distributions
:math:`p^{t}_T = \\mathrm{softmax}(z^{t} / T)` and
:math:`p^{s}_T = \\mathrm{softmax}(z^{s} / T)`. The soft-target loss is

.. math:: \\mathcal{L}_{\\text{soft}} = T^2\\, \\mathrm{KL}\\big(p^{t}_T \\,\\|\\, p^{s}_T\\big)
   = T^2 \\sum_v p^{t}_{T,v} \\big(\\log p^{t}_{T,v} - \\log p^{s}_{T,v}\\big)  \\qquad\\text{(KD)}

averaged over the predictions (rows). Without the factor :math:`T^2`, the
gradient with respect to the student's logits would be
:math:`(p^{s}_T - p^{t}_T) / T`, which for large T is close to
:math:`(\\bar z^{s} - \\bar z^{t}) / (V T^2)` (centred logits, V classes): it
shrinks like :math:`1/T^2`. The factor :math:`T^2` keeps the soft term's
gradients on the scale of the hard term's when T changes. The full loss mixes
it with the ordinary cross-entropy on the data:

.. math:: \\mathcal{L} = (1 - \\lambda)\\, \\mathrm{CE}(y, z^{s}) + \\lambda\\, \\mathcal{L}_{\\text{soft}}  \\qquad\\text{(KD-MIX)}

* :func:`soft_targets`: :math:`p_T = \\mathrm{softmax}(z / T)`;
* :func:`distillation_loss`: equation (KD);
* :func:`distillation_objective`: equation (KD-MIX) for a student and a frozen teacher on one batch;
* :func:`distill_char_model`: train a character-level student on the book's split with (KD-MIX).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")


def soft_targets(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """:math:`\\mathrm{softmax}(z / T)` over the last dimension."""
    _check_temperature(temperature)
    return torch.softmax(logits / temperature, dim=-1)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Equation (KD): :math:`T^2\\, \\mathrm{KL}(p^t_T \\| p^s_T)`, averaged over all rows (every dimension but the last).

    Equals ``T**2 * F.kl_div(log_softmax(z_s / T), log_softmax(z_t / T),
    log_target=True, reduction="batchmean")`` on logits flattened to (rows, V).
    The teacher's logits are detached: no gradient reaches the teacher.
    """
    _check_temperature(temperature)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape")
    log_s = torch.log_softmax(student_logits / temperature, dim=-1)
    log_t = torch.log_softmax(teacher_logits.detach() / temperature, dim=-1)
    rows = student_logits.numel() // student_logits.shape[-1]
    return temperature ** 2 * (log_t.exp() * (log_t - log_s)).sum() / rows


def distillation_objective(student: nn.Module, teacher: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
                           temperature: float = 2.0, soft_weight: float = 0.5) -> torch.Tensor:
    """Equation (KD-MIX) on one batch: ``(1 - soft_weight) * CE + soft_weight * T^2 KL``.

    ``student`` and ``teacher`` map ids (B, n) to logits (B, n, V) with the
    same V; the teacher runs without gradients.
    """
    if not 0.0 <= soft_weight <= 1.0:
        raise ValueError(f"soft_weight must lie in [0, 1], got {soft_weight}")
    logits = student(inputs)
    with torch.no_grad():
        teacher_logits = teacher(inputs)
    hard = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return (1 - soft_weight) * hard + soft_weight * distillation_loss(logits, teacher_logits, temperature)


def distill_char_model(student: nn.Module, teacher: nn.Module, train_ids: torch.Tensor, *, steps: int, context: int,
                       batch_size: int, lr: float, temperature: float = 2.0, soft_weight: float = 0.5, seed: int = 0,
                       desc: str = "distilled student"):
    """Train ``student`` on ``train_ids`` with (KD-MIX) against a frozen ``teacher``.

    The same windows, optimiser and schedule as
    :func:`~genai_foundations.algorithms.char_lm.train_char_model` (which this
    calls with ``loss_fn``), so a student trained from scratch with the same
    arguments differs only in its loss. Returns its ``TrainingRun``.
    """
    from genai_foundations.algorithms.char_lm import train_char_model

    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return train_char_model(student, train_ids, steps=steps, context=context, batch_size=batch_size, lr=lr,
                            seed=seed, desc=desc,
                            loss_fn=lambda x, y: distillation_objective(student, teacher, x, y,
                                                                        temperature=temperature,
                                                                        soft_weight=soft_weight))
