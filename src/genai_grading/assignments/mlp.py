"""Exercise 9 (mlp): the graded tasks, their inputs and the shortcuts they forbid."""

from __future__ import annotations

import torch

from genai_foundations.architectures import activations as ref
from genai_grading.tasks import Case, Task

F64 = torch.float64
ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]
# Library versions of what the tasks ask the student to write.
LIBRARY_ACTIVATIONS = ("torch.sigmoid", "Tensor.sigmoid", "torch.nn.functional.sigmoid", "torch.special.expit",
                       "torch.tanh", "Tensor.tanh", "torch.nn.functional.tanh", "torch.relu", "torch.nn.functional.relu",
                       "torch.nn.functional.leaky_relu", "torch.nn.functional.logsigmoid")
AUTOGRAD = ("torch.autograd.grad", "Tensor.backward", "torch.autograd.functional.jacobian", "torch.func.jacrev",
            "torch.func.vjp", "torch.func.grad")
SOFTMAX = ("torch.softmax", "Tensor.softmax", "torch.nn.functional.softmax", "torch.special.softmax",
           "torch.nn.functional.log_softmax", "torch.log_softmax", "torch._softmax")


def _randn(gen, *shape, scale=1.0, dtype=F64):
    return scale * torch.randn(tuple(shape), generator=gen, dtype=dtype)


def sigmoid_cases(gen):
    cases = [Case(_randn(gen, *shape, scale=5.0).requires_grad_(True), label=f"shape {shape}")
             for shape in [(7,), (3, 4), (2, 3, 5), ()]]
    cases.append(Case(_randn(gen, 6, scale=5.0, dtype=torch.float32).requires_grad_(True), label="float32 input"))
    extreme = torch.tensor([-1e4, -1000.0, -745.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 1000.0, 1e4], dtype=F64)
    cases.append(Case(extreme.requires_grad_(True), label="extreme inputs, with gradients"))
    cases.append(Case(torch.tensor([-1000.0, 0.0, 1000.0]).requires_grad_(True), label="+-1000 in float32"))
    return cases


def derivative_cases(gen):
    cases = []
    for name in ACTIVATIONS:
        for shape in [(9,), (4, 5)]:
            cases.append(Case(name, _randn(gen, *shape, scale=3.0), label=f"{name}, shape {shape}"))
        cases.append(Case(name, torch.tensor([-800.0, -1.0, -0.0, 0.0, 1e-9, 800.0], dtype=F64),
                          label=f"{name}, the kink and extremes"))
        cases.append(Case(name, _randn(gen, 5, scale=3.0, dtype=torch.float32), label=f"{name}, float32"))
    return cases


def softmax_cases(gen):
    cases = [Case(_randn(gen, *shape, scale=4.0), temperature=t, label=f"shape {shape}, T={t}")
             for shape, t in [((5,), 1.0), ((6, 4), 1.0), ((3, 7), 0.3), ((8,), 5.0), ((2, 1), 1.0)]]
    cases += [Case(torch.tensor([[800.0, 0.0, -800.0], [-1000.0, -1001.0, -1002.0]], dtype=F64), label="huge logits"),
              Case(torch.tensor([3.0, 1.0, 2.0], dtype=F64), temperature=0.01, label="T close to 0"),
              Case(_randn(gen, 3, 4, dtype=torch.float32), label="float32")]
    return cases


def jacobian_cases(gen):
    cases = [Case(_randn(gen, c, scale=3.0), label=f"C = {c}") for c in [1, 2, 3, 6, 10]]
    cases.append(Case(torch.tensor([500.0, 0.0, 499.0], dtype=F64), label="large logits"))
    return cases


def forward_cases(gen):
    cases = []
    for name in ACTIVATIONS + ["identity"]:
        for b, n, m in [(6, 4, 3), (1, 5, 1), (10, 2, 7)]:
            cases.append(Case(_randn(gen, b, n), _randn(gen, m, n), _randn(gen, m), name,
                              label=f"{name}, B={b}, n={n}, m={m}"))
    return cases


def backward_cases(gen):
    cases = []
    for name in ACTIVATIONS + ["identity"]:
        for b, n, m in [(6, 4, 3), (1, 3, 1), (9, 2, 5)]:
            cases.append(Case(_randn(gen, b, n), _randn(gen, m, n), _randn(gen, m), _randn(gen, b, m), name,
                              label=f"{name}, B={b}, n={n}, m={m}"))
    return cases


TASKS = [
    Task("test_sigmoid", "sigmoid", ref.sigmoid, sigmoid_cases, atol=1e-12, rtol=1e-6, gradient=True,
         forbidden=LIBRARY_ACTIVATIONS, description="a sigmoid with finite values and gradients at +-1000"),
    Task("test_activation_derivative", "activation_derivative", ref.activation_derivative, derivative_cases,
         atol=1e-12, rtol=1e-6, forbidden=AUTOGRAD),
    Task("test_softmax", "softmax", ref.softmax, softmax_cases, atol=1e-12, rtol=1e-6, forbidden=SOFTMAX),
    Task("test_softmax_jacobian", "softmax_jacobian", ref.softmax_jacobian, jacobian_cases, atol=1e-12, rtol=1e-6,
         forbidden=AUTOGRAD + SOFTMAX),
    Task("test_dense_forward", "dense_forward", ref.dense_forward, forward_cases, atol=1e-12, rtol=1e-6,
         forbidden=LIBRARY_ACTIVATIONS + ("torch.nn.functional.linear", "torch.addmm", "torch.nn.Linear")),
    Task("test_dense_backward", "dense_backward", ref.dense_backward, backward_cases, atol=1e-12, rtol=1e-6,
         forbidden=AUTOGRAD, blocked=("genai_foundations.architectures.activations.dense_forward",)),
]
