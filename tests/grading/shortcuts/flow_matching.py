"""Shortcut answers for exercise 2 (flow-matching): each would pass a naive grader.

More shortcuts were tried by hand and score 0 as well (see the report of the
hardening round): ``torch.lerp(eps, z, broadcast_time(t, z))`` (the guard sees
``lerp``; ``broadcast_time`` is absent), ``getattr(torch, "le" + "rp")`` (the
guard), ``flow_matching.cfm_loss`` (absent), ``solvers.euler_ode(
flow_matching.model_field(model, y, w), x0, 0.0, 1.0, steps)`` (absent), a
guided Euler loop that mixes the two fields with ``torch.lerp`` (the guard) and
``flow_matching.sample(..., method="heun")`` (absent).
"""

SHORTCUTS = {
    # the package's training pair for the linear path (absent from the sandbox)
    "linear_path_sample": (
        "from genai_foundations.algorithms.flow_matching import training_pair\n"
        "from genai_foundations.algorithms.gaussian_paths import LinearPath\n"
        "def linear_path_sample(z, t, eps):\n"
        "    return training_pair(LinearPath(), z, t, eps)"),
    # the library mean squared error (the path written out, so that only the loss is a shortcut)
    "cfm_loss": (
        "import torch.nn.functional as F\n"
        "def cfm_loss(model, z, t, eps, y=None):\n"
        "    tt = t.reshape(-1, *([1] * (z.dim() - 1))).to(z.dtype)\n"
        "    return F.mse_loss(model(tt * z + (1 - tt) * eps, t, y), z - eps)"),
    # the package's sampler, with guidance (absent from the sandbox)
    "guided_euler_sample": (
        "from genai_foundations.algorithms import flow_matching as fm\n"
        "def guided_euler_sample(model, x0, y, w, steps):\n"
        "    return fm.sample(model, x0=x0, steps=steps, y=y, w=w)"),
    # the package's Heun solver (absent from the sandbox)
    "heun_sample": (
        "from genai_foundations.algorithms.solvers import heun_ode\n"
        "def heun_sample(field, x0, steps):\n"
        "    return heun_ode(field, x0, 0.0, 1.0, steps)"),
}
EXPECTED_ZERO = ["test_linear_path_sample", "test_cfm_loss", "test_guided_euler_sample", "test_heun_sample"]
