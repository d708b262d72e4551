"""Exercise 24 (deep-rl): the library shortcuts each graded test cell forbids.

The hidden tests stay in ``solutions/deep-rl/deep-rl.ipynb`` (written with
``check_function`` and explicit gradient and in-place checks). Besides the
references (``rl.returns.reward_to_go`` and ``gae``, ``rl.ppo.ppo_clip_objective``,
``rl.networks.soft_update``) they import the package helpers that would do a
task, so that they are absent from the student's sandbox too:
``rl.returns.discounted_return`` and ``rl.reinforce.episode_weights``.

Per test cell this module names the library entry points that would do the
task in one call (the runtime guard matches the last name component, so
``torch.lerp``, ``Tensor.lerp_`` and ``torch.ops.aten.lerp`` are all ``lerp``):

* discounted sums: ``scipy.signal.lfilter`` (Spinning Up's ``discount_cumsum``
  trick) and stable-baselines3's ``compute_returns_and_advantage``;
* soft updates: ``lerp`` in all its spellings, ``torch._foreach_lerp_``,
  stable-baselines3's ``polyak_update`` and ``torch.optim.swa_utils``'
  ``AveragedModel`` / ``get_ema_multi_avg_fn`` / ``get_ema_avg_fn``.

``polyak_update`` is refused by the source scan, which tracks imports from
``stable_baselines3`` (``genai_grading.scan.LIBRARIES``). The clipped objective has no library one-liner (stable-baselines3
computes it inline in ``PPO.train``); its cell forbids the lerp names only to
keep the lists uniform, and relies on the absent reference.

Task 5 (``test_ppo_cartpole``) trains the package's PPO in the grader's
process with the student's ``gae`` and ``ppo_clip_objective`` (stand-ins that
run in the sandbox), so it forbids what tasks 2 and 3 forbid.
"""

from __future__ import annotations

DISCOUNTED_SUMS = ("scipy.signal.lfilter",
                   "stable_baselines3.common.buffers.RolloutBuffer.compute_returns_and_advantage")
LERP = ("torch.lerp", "Tensor.lerp", "Tensor.lerp_", "torch._foreach_lerp_", "torch._foreach_lerp")
AVERAGING = ("stable_baselines3.common.utils.polyak_update", "torch.optim.swa_utils.AveragedModel",
             "torch.optim.swa_utils.get_ema_multi_avg_fn", "torch.optim.swa_utils.get_ema_avg_fn")

FORBIDDEN = {
    "test_reward_to_go": [*DISCOUNTED_SUMS],
    "test_gae": [*DISCOUNTED_SUMS],
    "test_ppo_clip_objective": [*LERP],
    "test_soft_update": [*LERP, *AVERAGING],
    "test_ppo_cartpole": [*DISCOUNTED_SUMS, *LERP],
}
