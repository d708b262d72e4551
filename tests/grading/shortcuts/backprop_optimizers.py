"""Shortcut answers for exercise 11 (backprop-optimizers): each would pass a naive grader."""

SHORTCUTS = {
    # the package's reference, unwrapped (absent from the sandbox)
    "two_layer_forward": (
        "import inspect\nfrom genai_foundations.architectures import backprop as _bp\n"
        "def two_layer_forward(x, y, w1, b1, w2, b2):\n"
        "    return inspect.unwrap(_bp.two_layer_forward)(x, y, w1, b1, w2, b2)"),
    # autograd instead of the chain rule, reached through a dynamic look-up
    "two_layer_backward": (
        "import importlib\n"
        "def two_layer_backward(x, y, w1, b1, w2, b2):\n"
        "    grad = getattr(importlib.import_module('torch.func'), 'gr' + 'ad')\n"
        "    def loss(p):\n"
        "        return 0.5 * (p[2] * torch.sigmoid(p[0] * x + p[1]) + p[3] - y) ** 2\n"
        "    g = grad(loss)(torch.tensor([w1, b1, w2, b2], dtype=torch.float64))\n"
        "    return dict(zip(['w1', 'b1', 'w2', 'b2'], g.tolist()))"),
    # torch.optim.SGD on cloned leaves, with its name hidden from the scan
    "sgd_epoch": (
        "import importlib\n"
        "def sgd_epoch(params, loss_fn, X, y, lr, batch_size, order):\n"
        "    leaves = [p.detach().clone().requires_grad_(True) for p in params]\n"
        "    opt = getattr(importlib.import_module('torch.optim'), 'S' + 'GD')(leaves, lr=lr)\n"
        "    for start in range(0, len(X), batch_size):\n"
        "        index = order[start:start + batch_size]\n"
        "        opt.zero_grad()\n"
        "        loss_fn(leaves, X[index], y[index]).backward()\n"
        "        opt.step()\n"
        "    return [p.detach() for p in leaves]"),
    # torch.optim.Adam on a copy of the parameter, with its state filled in
    "adam_step": (
        "def adam_step(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
        "    p = param.detach().clone().requires_grad_(True)\n"
        "    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps)\n"
        "    opt.state[p] = {'step': torch.tensor(float(state['step'])), 'exp_avg': state['m'].clone(),\n"
        "                    'exp_avg_sq': state['v'].clone()}\n"
        "    p.grad = grad.detach().clone()\n"
        "    opt.step()\n"
        "    s = opt.state[p]\n"
        "    return p.detach(), {'step': state['step'] + 1, 'm': s['exp_avg'], 'v': s['exp_avg_sq']}"),
}
EXPECTED_ZERO = ["test_two_layer_forward", "test_two_layer_backward", "test_sgd_epoch", "test_adam_step"]
