"""Shortcut answers for exercise 12 (training-issues): each would pass a naive grader."""

SHORTCUTS = {
    # the library's soft-thresholding, reached through the dispatcher
    "soft_threshold": "def soft_threshold(w, t):\n    return torch.ops.aten.softshrink(w, t)",
    # ISTA with the library's soft-thresholding module
    "lasso_ista": (
        "def lasso_ista(X, y, lam, lr, steps):\n"
        "    shrink = torch.nn.Softshrink(lr * lam)\n"
        "    w = torch.zeros(X.shape[1], dtype=X.dtype)\n"
        "    for _ in range(steps):\n"
        "        w = shrink(w - lr * X.T @ (X @ w - y) / len(X))\n"
        "    return w"),
    # torch.nn.utils.clip_grad_norm_ on copies of the gradients
    "clip_by_global_norm": (
        "def clip_by_global_norm(grads, max_norm):\n"
        "    params = [torch.nn.Parameter(g.detach().clone()) for g in grads]\n"
        "    for p, g in zip(params, grads):\n"
        "        p.grad = g.detach().clone()\n"
        "    total = torch.nn.utils.clip_grad_norm_(params, max_norm)\n"
        "    return [p.grad for p in params], total"),
    # scipy.stats.linregress on the logarithms, the data taken out of torch number by number
    "log_log_fit": (
        "from scipy.stats import linregress\n"
        "def log_log_fit(N, loss):\n"
        "    fit = linregress([math.log(v.item()) for v in N], [math.log(v.item()) for v in loss])\n"
        "    return tuple(torch.tensor(v, dtype=N.dtype) for v in (-fit.slope, fit.stderr, math.exp(fit.intercept)))"),
}
EXPECTED_ZERO = ["test_soft_threshold", "test_lasso_ista", "test_clip_by_global_norm", "test_log_log_fit"]
