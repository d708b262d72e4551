"""Shortcut answers for exercise 9 (mlp): each would pass a naive grader."""

SHORTCUTS = {
    # the library sigmoid
    "sigmoid": "def sigmoid(x):\n    return torch.sigmoid(x)",
    # autograd instead of the derivative formulas
    "activation_derivative": (
        "import torch.nn.functional as F\n"
        "def activation_derivative(name, x):\n"
        "    fns = {'relu': torch.relu, 'leaky_relu': lambda v: F.leaky_relu(v, 0.01), 'sigmoid': torch.sigmoid,\n"
        "           'tanh': torch.tanh}\n"
        "    if name not in fns:\n"
        "        raise ValueError(name)\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(fns[name](leaf).sum(), leaf)\n"
        "    return g"),
    # the library softmax reached through the dispatcher
    "softmax": "def softmax(z, temperature=1.0):\n    return torch.ops.aten._softmax(z / temperature, -1, False)",
    # the Jacobian by autograd
    "softmax_jacobian": (
        "def softmax_jacobian(z):\n"
        "    return torch.autograd.functional.jacobian(lambda v: torch.exp(v) / torch.exp(v).sum(), z)"),
    # the package's reference, which is absent from the sandbox
    "dense_forward": (
        "from genai_foundations.architectures.activations import dense_forward as _ref\n"
        "def dense_forward(x, W, b, activation):\n    return _ref(x, W, b, activation)"),
    "dense_backward": (
        "import inspect\nfrom genai_foundations.architectures import activations as _act\n"
        "def dense_backward(x, W, b, grad_out, activation):\n"
        "    return inspect.unwrap(_act.dense_backward)(x, W, b, grad_out, activation)"),
}
EXPECTED_ZERO = ["test_sigmoid", "test_activation_derivative", "test_softmax", "test_softmax_jacobian",
                 "test_dense_forward", "test_dense_backward"]
