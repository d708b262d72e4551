"""Shortcut answers for exercise 19 (foundation-models): each passes the hidden tests outside the sandbox."""

SHORTCUTS = {
    # the package's reference, unwrapped
    "least_squares_probe": (
        "import inspect\nfrom genai_foundations.algorithms import transfer as _t\n"
        "def least_squares_probe(features, labels, num_classes, ridge=1e-3):\n"
        "    return inspect.unwrap(_t.least_squares_probe)(features, labels, num_classes, ridge)"),
    # the package's freezing helper, then a plain step: the helper is absent from the sandbox
    "finetune_step": (
        "import torch.nn.functional as F\nfrom genai_foundations.algorithms.transfer import freeze_except\n"
        "def finetune_step(model, trainable, images, labels, lr):\n"
        "    freeze_except(model, trainable)\n"
        "    params = [p for p in model.parameters() if p.requires_grad]\n"
        "    loss = F.cross_entropy(model(images), labels)\n"
        "    if params:\n"
        "        for p, g in zip(params, torch.autograd.grad(loss, params)):\n"
        "            p.data -= lr * g\n"
        "    return loss.detach()"),
    # the flow-matching chapter's path sample gives A_tau and the target in one call
    "flow_matching_loss": (
        "from genai_foundations.algorithms.flow_matching import linear_path_sample\n"
        "def flow_matching_loss(head, obs, chunks, noise, tau):\n"
        "    a_tau, target = linear_path_sample(chunks, tau, noise)\n"
        "    return (head(obs, a_tau, tau) - target).pow(2).mean()"),
    # the flow-matching chapter's Euler sampler with a float time wrapped into a (B,) tensor
    "euler_actions": (
        "from genai_foundations.algorithms.flow_matching import euler_sample\n"
        "def euler_actions(head, obs, noise, steps):\n"
        "    if steps < 1:\n"
        "        raise ValueError('steps')\n"
        "    return euler_sample(lambda a, t: head(obs, a, torch.full((a.shape[0],), float(t), dtype=a.dtype)), noise, steps)"),
}
EXPECTED_ZERO = ["test_least_squares_probe", "test_finetune_step", "test_flow_matching_loss", "test_euler_actions"]
