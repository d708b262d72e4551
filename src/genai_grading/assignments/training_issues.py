"""Exercise 12 (training-issues): the library shortcuts each test cell forbids.

The hidden tests live in ``solutions/training-issues`` (``check_function``
against the package's references, run by the grader outside the sandbox).
The references, and the package helpers that would do a task, are absent
from the sandbox because the hidden tests import them:
``regularization.soft_threshold``, ``l1_proximal_step_``, ``lasso_ista``,
``clip_by_global_norm``, ``clip_grad_norm_``, ``scaling_laws.log_log_fit``
and ``fit_power_law``.

What remains is PyTorch, NumPy, SciPy and scikit-learn. The runtime guard
matches the last component of each name (``softshrink`` whatever alias
reaches it: ``F.softshrink``, ``nn.Softshrink``, ``torch._C._nn.softshrink``,
``torch.ops.aten.softshrink``; ``_foreach_norm`` is the kernel of
``clip_grad_norm_`` and ``get_total_norm``; ``linalg_lstsq`` is
``torch.linalg.lstsq``). NumPy, SciPy and scikit-learn do not go through
torch, but they need the input tensors as arrays: ``Tensor.numpy``,
``__array__`` (``np.asarray``, ``np.log`` of a tensor, scikit-learn's
``fit``) and ``tolist`` are refused where a library would do the task;
in the power-law task, whose answer is three tensors, so are ``item`` and
``__float__`` (``float(t)``, ``math.log(t)``), which closes the route
through Python numbers to ``scipy.stats.linregress``.
Using ``clip_grad_norm_`` on copies needs ``.grad`` set on tensors
(``__set__``) or a backward pass, both refused in the clipping task. The scan
of the student's cells matches the spelled names.
"""

SOFTSHRINK = ["torch.nn.functional.softshrink", "torch.nn.Softshrink", "torch._C._nn.softshrink",
              "torch.ops.aten.softshrink"]
TO_NUMPY = ["Tensor.numpy", "Tensor.__array__", "Tensor.tolist", "numpy.asarray", "numpy.array"]

FORBIDDEN = {
    "test_soft_threshold": SOFTSHRINK,
    "test_lasso_ista": SOFTSHRINK + TO_NUMPY + ["sklearn.linear_model.Lasso", "sklearn.linear_model.lasso_path",
                                                "sklearn.linear_model.ElasticNet", "sklearn.linear_model.enet_path"],
    "test_clip_by_global_norm": ["torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
                                 "torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grads_with_norm_",
                                 "torch._foreach_norm", "torch._foreach_mul", "torch._foreach_mul_", "Tensor.__set__",
                                 "Tensor.backward", "torch.autograd.grad"],
    # the task returns tensors, so no conversion to Python numbers is needed: refusing them shuts the door
    # to every NumPy / SciPy fit (they need the data outside torch)
    "test_log_log_fit": TO_NUMPY + ["Tensor.item", "Tensor.__float__", "scipy.stats.linregress",
                                    "scipy.stats.theilslopes", "scipy.optimize.curve_fit", "numpy.polyfit",
                                    "numpy.polynomial.polynomial.polyfit", "numpy.linalg.lstsq", "torch.linalg.lstsq",
                                    "torch._C._linalg.linalg_lstsq"],
}
