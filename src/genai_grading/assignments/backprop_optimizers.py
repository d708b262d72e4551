"""Exercise 11 (backprop-optimizers): the library shortcuts each test cell forbids.

The hidden tests live in ``solutions/backprop-optimizers`` (``check_function``
against the package's references, run by the grader outside the sandbox).
The references, and the package helpers that would do a task, are absent
from the sandbox because the hidden tests import them: ``backprop.two_layer_forward``
(so also ``two_layer_local_derivatives`` and ``worked_example``, which call
it), ``scalar_autograd.topological_order`` (so the scalar engine's
``Value.backward`` raises), ``optimizers.gradient_step``,
``optimizers.sgd_momentum_step`` (so the package's own ``SGD`` class raises),
``optimizers.adam_step`` and ``adam_moments`` (so its ``Adam`` class raises).

What remains is PyTorch. The runtime guard matches the last component of
each name below (``grad`` is ``torch.autograd.grad``, whatever alias reaches
it; ``_make_dual`` is forward-mode AD; ``_record_function_enter_new`` is the
profiler hook that every ``torch.optim`` optimiser's ``step`` and
``zero_grad`` enter; ``addcdiv_``, ``_foreach_addcdiv_`` and the fused kernels
are where Adam's update ends, also through the functional
``torch.optim.adam.adam``); the scan of the student's cells matches the
spelled names (``torch.optim.SGD``, ``torch.func.grad``, ``.backward`` of any
object, the scalar engine's included).
"""

AUTOGRAD = ["torch.autograd.grad", "torch.autograd.backward", "Tensor.backward", "torch.func.grad",
            "torch.func.grad_and_value", "torch.func.vjp", "torch.func.jvp", "torch.func.jacrev", "torch.func.jacfwd",
            "torch.func.hessian", "torch.autograd.functional.jacobian", "torch.autograd.functional.vjp",
            "torch.autograd.functional.jvp", "torch.autograd.functional.hessian", "torch.autograd.forward_ad.make_dual",
            "torch.autograd.forward_ad.unpack_dual", "torch._make_dual", "torch._unpack_dual"]
# Any torch.optim optimiser: step() and zero_grad() enter this profiler hook from the student's call.
OPTIMIZER_STEP = ["torch.ops.profiler._record_function_enter_new"]

FORBIDDEN = {
    # nothing in torch does the forward pass of this network; the package's reference is absent
    "test_two_layer_forward": [],
    "test_two_layer_backward": AUTOGRAD,
    "test_sgd_epoch": OPTIMIZER_STEP + ["torch.optim.SGD", "torch.optim.sgd.sgd", "torch.optim._functional.sgd",
                                        "torch._fused_sgd_", "torch._foreach_add_"],
    "test_adam_step": OPTIMIZER_STEP + ["torch.optim.Adam", "torch.optim.AdamW", "torch.optim.adam.adam",
                                        "torch.optim.adamw.adamw", "torch.optim._functional.adam", "torch._fused_adam_",
                                        "torch._fused_adamw_", "torch._foreach_addcdiv_", "Tensor.addcdiv_"],
}
