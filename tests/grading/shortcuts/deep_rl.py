"""Shortcut answers for exercise 24 (deep-rl): each would pass a naive grader.

Also tried by hand: ``scipy.signal.lfilter`` for the discounted sums (the
guard sees ``lfilter``; it also ignores episode ends), and the package's
``discounted_return`` / ``episode_weights`` (absent from the sandbox).

The fused interpolation ``torch._foreach_lerp_(targets, sources, tau)`` was
tried by hand too (the guard sees ``lerp``). stable-baselines3's
``polyak_update`` is the listed shortcut for task 4: the scan tracks imports
from ``stable_baselines3`` (``genai_grading.scan.LIBRARIES``) and refuses it.
"""

SHORTCUTS = {
    # the package's reference, unwrapped (absent from the sandbox)
    "reward_to_go": (
        "import inspect\nfrom genai_foundations.rl import returns as _returns\n"
        "def reward_to_go(rewards, gamma, dones):\n"
        "    return inspect.unwrap(_returns.reward_to_go)(rewards, gamma, dones)"),
    # the package's GAE (absent from the sandbox)
    "gae": (
        "from genai_foundations.rl.returns import gae as _gae\n"
        "def gae(rewards, values, next_values, terminated, dones, gamma, lam):\n"
        "    return _gae(rewards, values, next_values, terminated, dones, gamma, lam)"),
    # the naive formula: clip the ratio and forget the minimum (wrong values and gradients)
    "ppo_clip_objective": (
        "import torch\n"
        "def ppo_clip_objective(log_prob, old_log_prob, advantages, clip):\n"
        "    ratio = torch.exp(log_prob - old_log_prob)\n"
        "    return -(torch.clamp(ratio, 1 - clip, 1 + clip) * advantages).mean()"),
    # stable-baselines3's Polyak update (forbidden: the scan tracks stable_baselines3)
    "soft_update": (
        "from stable_baselines3.common.utils import polyak_update\n"
        "def soft_update(target, source, tau):\n"
        "    if not 0.0 <= tau <= 1.0:\n"
        "        raise ValueError('tau')\n"
        "    polyak_update(list(source.parameters()), list(target.parameters()), tau)"),
}
EXPECTED_ZERO = ["test_reward_to_go", "test_gae", "test_ppo_clip_objective", "test_soft_update", "test_ppo_cartpole"]
