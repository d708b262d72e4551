"""Exercise 25 (rlhf-imitation): the library shortcuts each graded test cell forbids.

The hidden tests stay in ``solutions/rlhf-imitation/rlhf-imitation.ipynb``
(``check_function`` plus explicit gradient checks). They import the references
``alignment.reward_model.bradley_terry_loss``, ``alignment.dpo.dpo_loss`` and
``rl.imitation.dagger_aggregate``, and the helper ``rl.imitation.expert_actions``
(the expert's greedy labels), so that all of them are absent from the student's sandbox.

The two losses are :math:`-\\log\\sigma` of a difference; PyTorch has that in one
call under several names, which the loss cells forbid (the runtime guard
matches the last name component, so ``torch._C._nn.log_sigmoid`` or
``torch.ops.aten.log_sigmoid`` are caught as well): ``logsigmoid`` /
``log_sigmoid``, ``binary_cross_entropy_with_logits``, ``binary_cross_entropy``
(on ``sigmoid``: also unstable), ``soft_margin_loss`` (:math:`\\log(1+e^{-yx})`
with :math:`y = 1` is exactly the loss) and the module forms ``nn.LogSigmoid``,
``nn.BCEWithLogitsLoss``, ``nn.SoftMarginLoss``. ``softplus`` and ``logaddexp``
stay allowed: writing :math:`-\\log\\sigma(d) = \\operatorname{softplus}(-d)` is the
point of the task. Task 4 (``test_reward_model``) trains the package's reward
model with the student's loss, so it forbids what task 1 forbids.
"""

from __future__ import annotations

LOG_SIGMOID = ("torch.nn.functional.logsigmoid", "torch.nn.functional.log_sigmoid", "torch._C._nn.log_sigmoid",
               "torch.nn.functional.binary_cross_entropy_with_logits", "torch.binary_cross_entropy_with_logits",
               "torch.nn.functional.binary_cross_entropy", "torch.nn.functional.soft_margin_loss",
               "torch.nn.LogSigmoid", "torch.nn.BCEWithLogitsLoss", "torch.nn.BCELoss", "torch.nn.SoftMarginLoss")

FORBIDDEN = {
    "test_bradley_terry_loss": [*LOG_SIGMOID],
    "test_dpo_loss": [*LOG_SIGMOID],
    "test_dagger_aggregate": [],
    "test_reward_model": [*LOG_SIGMOID],
}
