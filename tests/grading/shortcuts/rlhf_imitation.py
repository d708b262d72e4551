"""Shortcut answers for exercise 25 (rlhf-imitation): each passes the hidden tests outside the sandbox."""

SHORTCUTS = {
    # the stable one-liner of PyTorch: BCE with logits on the reward difference, label 1
    "bradley_terry_loss": (
        "import torch\nimport torch.nn.functional as F\n"
        "def bradley_terry_loss(reward_chosen, reward_rejected):\n"
        "    if reward_chosen.shape != reward_rejected.shape:\n"
        "        raise ValueError('shapes')\n"
        "    d = reward_chosen - reward_rejected\n"
        "    return F.binary_cross_entropy_with_logits(d, torch.ones_like(d))"),
    # log-sigmoid through an alias the scan cannot read
    "dpo_loss": (
        "import torch\n"
        "def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):\n"
        "    if beta <= 0 or not (policy_chosen.shape == policy_rejected.shape == ref_chosen.shape == ref_rejected.shape):\n"
        "        raise ValueError('bad input')\n"
        "    f = getattr(torch.ops.aten, 'log_' + 'sigmoid')\n"
        "    return -f(beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))).mean()"),
    # the package's reference, unwrapped
    "dagger_aggregate": (
        "import inspect\nfrom genai_foundations.rl import imitation as _imitation\n"
        "def dagger_aggregate(data_obs, data_actions, visited_obs, expert_logits):\n"
        "    return inspect.unwrap(_imitation.dagger_aggregate)(data_obs, data_actions, visited_obs, expert_logits)"),
}
# test_reward_model uses the bradley_terry_loss shortcut (BCE with logits), refused by its forbidden list
EXPECTED_ZERO = ["test_bradley_terry_loss", "test_dpo_loss", "test_dagger_aggregate", "test_reward_model"]
