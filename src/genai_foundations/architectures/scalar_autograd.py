"""A scalar reverse-mode automatic differentiation engine, small enough to read in one sitting.

Every :class:`Value` holds one number (``data``), the derivative of the final
output with respect to it (``grad``), the values it was computed from and a
closure that applies the chain rule for its own operation. Building an
expression records the computational graph; :meth:`Value.backward` visits the
graph in reverse topological order and, at each node :math:`u` with parents
:math:`p`, adds :math:`\\bar u \\, \\partial u / \\partial p` to :math:`\\bar p`
(the adjoint :math:`\\bar p = \\partial L / \\partial p`). Because the
contributions are *added*, a value used several times receives the sum of the
gradients along every path, which is the multivariate chain rule.

The design (a ``Value`` class with one closure per operation and a
topological sort in ``backward``) follows Andrej Karpathy's micrograd
(https://github.com/karpathy/micrograd), a teaching engine of the same kind;
the code here is written anew.

The module also holds a tiny multi-layer perceptron made of :class:`Value`
objects (:class:`ScalarMLP`), used by the chapter to train a network end to
end with nothing but this engine, and :func:`scalar_mlp_to_torch`, which
copies its weights into an equivalent :mod:`torch.nn` network so that its
gradients can be checked against :mod:`torch.autograd`.
"""

from __future__ import annotations

import contextlib
import gc
import math
import random
from typing import Callable, Iterable, Iterator, Sequence, Union

import torch

Number = Union[int, float]


def _as_value(other: "Value | Number") -> "Value":
    if isinstance(other, Value):
        return other
    if isinstance(other, bool) or not isinstance(other, (int, float)):
        raise TypeError(f"a Value can only be combined with a Value, int or float, got {type(other).__name__}")
    return Value(float(other))


def _leaf_backward(grad: float) -> None:
    """A leaf has no inputs to pass its gradient on to."""


class Value:
    """One scalar node of a computational graph.

    ``Value(2.0) * Value(3.0)`` returns a new node whose ``_parents`` are the
    two inputs and whose ``_backward`` closure knows the local derivatives
    :math:`\\partial (ab)/\\partial a = b` and :math:`\\partial (ab)/\\partial b = a`.
    Supported: ``+``, ``-``, ``*``, ``/`` (with Values or numbers on either
    side), ``**`` by a constant number, and :meth:`exp`, :meth:`log`,
    :meth:`tanh`, :meth:`sigmoid`, :meth:`relu`.
    """

    __slots__ = ("data", "grad", "label", "op", "_parents", "_backward")

    def __init__(self, data: Number, label: str = "", *, _parents: tuple["Value", ...] = (), _op: str = ""):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"Value holds a Python int or float, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self.op = _op
        self._parents = _parents
        self._backward: Callable[[float], None] = _leaf_backward

    # ------------------------------------------------------------------ helpers
    @property
    def parents(self) -> tuple["Value", ...]:
        """The nodes this one was computed from (empty for a leaf)."""
        return self._parents

    @property
    def is_leaf(self) -> bool:
        """True for a node created directly (an input, a parameter or a constant)."""
        return not self._parents

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    # --------------------------------------------------------- binary operations
    def __add__(self, other: "Value | Number") -> "Value":
        other = _as_value(other)
        out = Value(self.data + other.data, _parents=(self, other), _op="+")

        def _backward(grad: float) -> None:  # d(a+b)/da = d(a+b)/db = 1
            self.grad += grad
            other.grad += grad

        out._backward = _backward
        return out

    def __radd__(self, other: Number) -> "Value":
        return _as_value(other) + self

    def __mul__(self, other: "Value | Number") -> "Value":
        other = _as_value(other)
        out = Value(self.data * other.data, _parents=(self, other), _op="*")

        def _backward(grad: float) -> None:  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * grad
            other.grad += self.data * grad

        out._backward = _backward
        return out

    def __rmul__(self, other: Number) -> "Value":
        return _as_value(other) * self

    def __neg__(self) -> "Value":
        return self * -1.0

    def __sub__(self, other: "Value | Number") -> "Value":
        return self + (-_as_value(other))

    def __rsub__(self, other: Number) -> "Value":
        return _as_value(other) + (-self)

    def __truediv__(self, other: "Value | Number") -> "Value":
        other = _as_value(other)
        if other.data == 0.0:
            raise ZeroDivisionError("division of a Value by zero")
        return self * other**-1

    def __rtruediv__(self, other: Number) -> "Value":
        return _as_value(other) / self

    def __pow__(self, exponent: Number) -> "Value":
        """``a ** k`` for a constant number ``k``: derivative :math:`k a^{k-1}`."""
        if isinstance(exponent, Value) or isinstance(exponent, bool) or not isinstance(exponent, (int, float)):
            raise TypeError(f"the exponent must be a constant int or float, got {type(exponent).__name__}; "
                            "for a variable exponent write (b * a.log()).exp()")
        k = float(exponent)
        if self.data < 0 and not k.is_integer():
            raise ValueError(f"{self.data} ** {k} is not a real number (negative base, non-integer exponent)")
        if self.data == 0 and k < 0:
            raise ZeroDivisionError(f"0 ** {k} is undefined")
        out = Value(self.data**k, _parents=(self,), _op=f"**{exponent}")

        def _backward(grad: float) -> None:
            self.grad += k * self.data ** (k - 1) * grad

        out._backward = _backward
        return out

    # ---------------------------------------------------------- unary functions
    def exp(self) -> "Value":
        """:math:`e^a`, whose derivative is itself."""
        try:
            result = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp({self.data}) overflows a float") from None
        out = Value(result, _parents=(self,), _op="exp")

        def _backward(grad: float) -> None:
            self.grad += result * grad

        out._backward = _backward
        return out

    def log(self) -> "Value":
        """Natural logarithm, defined for :math:`a > 0`; derivative :math:`1/a`."""
        if self.data <= 0:
            raise ValueError(f"log is defined for positive numbers only, got {self.data}")
        out = Value(math.log(self.data), _parents=(self,), _op="log")

        def _backward(grad: float) -> None:
            self.grad += grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> "Value":
        """:math:`\\tanh a`; derivative :math:`1 - \\tanh^2 a`."""
        t = math.tanh(self.data)
        out = Value(t, _parents=(self,), _op="tanh")

        def _backward(grad: float) -> None:
            self.grad += (1.0 - t * t) * grad

        out._backward = _backward
        return out

    def sigmoid(self) -> "Value":
        """:math:`\\sigma(a) = 1/(1+e^{-a})`; derivative :math:`\\sigma(a)(1-\\sigma(a))`."""
        a = self.data
        # two algebraically equal forms, each safe from overflow on its side of 0
        s = 1.0 / (1.0 + math.exp(-a)) if a >= 0 else math.exp(a) / (1.0 + math.exp(a))
        out = Value(s, _parents=(self,), _op="sigmoid")

        def _backward(grad: float) -> None:
            self.grad += s * (1.0 - s) * grad

        out._backward = _backward
        return out

    def relu(self) -> "Value":
        """:math:`\\max(0, a)`; derivative 1 for :math:`a > 0` and 0 otherwise (as in PyTorch)."""
        positive = self.data > 0
        out = Value(self.data if positive else 0.0, _parents=(self,), _op="relu")

        def _backward(grad: float) -> None:
            if positive:
                self.grad += grad

        out._backward = _backward
        return out

    # ------------------------------------------------------------- the backward
    def backward(self) -> None:
        """Back-propagate from this node: fill ``grad`` of every node it depends on.

        The output's own gradient is set to 1 (:math:`\\partial L/\\partial L`),
        the gradients of the intermediate nodes are reset to 0, and each node's
        chain-rule closure runs after every node that uses it (reverse
        topological order). Leaves *accumulate*, as in PyTorch: calling
        ``backward`` twice without zeroing adds the gradients twice.
        """
        order = topological_order(self)
        for node in order:
            if not node.is_leaf:
                node.grad = 0.0
        self.grad = 1.0 if not self.is_leaf else self.grad + 1.0
        for node in reversed(order):
            node._backward(node.grad)


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each listed after all the nodes it was computed from.

    An iterative depth-first search (no recursion limit on deep graphs);
    a node reached along several paths appears once.
    """
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node.parents:
            if id(parent) not in visited:
                stack.append((parent, False))
    return order


@contextlib.contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while many small graphs are built and dropped.

    A :class:`Value` refers to its inputs and its chain-rule closure refers
    to the inputs too, never to the node itself, so the graphs contain no
    reference cycles and reference counting frees each one as soon as it is
    dropped. The cycle collector therefore has nothing to find in them, yet
    it would otherwise scan the hundreds of thousands of live nodes of a
    training step again and again (several times slower). It is switched
    back on (if it was on) when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def graph_table(root: Value) -> list[dict[str, object]]:
    """The graph below ``root`` as rows (label, op, inputs, data, grad), in forward (topological) order.

    Unlabelled nodes are named ``n0, n1, ...`` so that each row can refer to its inputs.
    """
    order = topological_order(root)
    names: dict[int, str] = {}
    for i, node in enumerate(order):
        names[id(node)] = node.label or f"n{i}"
    return [
        {
            "node": names[id(node)],
            "op": node.op or "leaf",
            "inputs": ", ".join(names[id(p)] for p in node.parents),
            "data": node.data,
            "grad": node.grad,
        }
        for node in order
    ]


# ---------------------------------------------------------------------- networks
_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


class ScalarLayer:
    """A fully connected layer of scalar neurons: :math:`h_j = \\phi(\\sum_i w_{ji} x_i + b_j)`."""

    def __init__(self, n_in: int, n_out: int, activation: str = "tanh", rng: random.Random | None = None):
        if n_in <= 0 or n_out <= 0:
            raise ValueError(f"layer sizes must be positive, got n_in={n_in}, n_out={n_out}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        rng = rng or random.Random(0)
        bound = 1.0 / math.sqrt(n_in)  # PyTorch's default uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
        self.weights = [[Value(rng.uniform(-bound, bound)) for _ in range(n_in)] for _ in range(n_out)]
        self.biases = [Value(rng.uniform(-bound, bound)) for _ in range(n_out)]
        self.activation = activation

    def __call__(self, inputs: Sequence[Value | Number]) -> list[Value]:
        if len(inputs) != len(self.weights[0]):
            raise ValueError(f"expected {len(self.weights[0])} inputs, got {len(inputs)}")
        outputs = []
        for row, bias in zip(self.weights, self.biases):
            pre = bias
            for w, x in zip(row, inputs):
                pre = pre + w * x
            outputs.append(pre if self.activation == "linear" else getattr(pre, self.activation)())
        return outputs

    def parameters(self) -> list[Value]:
        return [w for row in self.weights for w in row] + list(self.biases)


class ScalarMLP:
    """A multi-layer perceptron of :class:`Value` neurons (hidden ``activation``, linear output).

    ``ScalarMLP([2, 8, 8, 1])`` maps 2 inputs through two hidden layers of 8
    units to one output. Parameters are initialised like ``torch.nn.Linear``
    from a seeded :class:`random.Random`.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "tanh", seed: int = 0):
        if len(sizes) < 2:
            raise ValueError(f"sizes needs an input and an output size, got {list(sizes)}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        rng = random.Random(seed)
        self.sizes = list(sizes)
        self.activation = activation
        self.layers = [
            ScalarLayer(n_in, n_out, activation if i < len(sizes) - 2 else "linear", rng)
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
        ]

    def __call__(self, inputs: Sequence[Value | Number]) -> list[Value]:
        h: Sequence[Value | Number] = inputs
        for layer in self.layers:
            h = layer(h)
        return list(h)

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


def scalar_mlp_to_torch(mlp: ScalarMLP, dtype: torch.dtype = torch.float64) -> torch.nn.Sequential:
    """An equivalent ``torch.nn.Sequential`` holding a copy of ``mlp``'s current weights."""
    modules: list[torch.nn.Module] = []
    for i, layer in enumerate(mlp.layers):
        linear = torch.nn.Linear(len(layer.weights[0]), len(layer.weights), dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[w.data for w in row] for row in layer.weights], dtype=dtype))
            linear.bias.copy_(torch.tensor([b.data for b in layer.biases], dtype=dtype))
        modules.append(linear)
        if i < len(mlp.layers) - 1:
            modules.append({"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid,
                            "linear": torch.nn.Identity}[mlp.activation]())
    return torch.nn.Sequential(*modules)


def scalar_parameter_grads(mlp: ScalarMLP) -> list[list[float]]:
    """``[weight grads, bias grads]`` of each layer as nested lists, in the layout of :func:`scalar_mlp_to_torch`."""
    out = []
    for layer in mlp.layers:
        out.append([[w.grad for w in row] for row in layer.weights])
        out.append([b.grad for b in layer.biases])
    return out


def binary_cross_entropy_with_logit(logit: Value, target: Number) -> Value:
    """:math:`-[y \\log \\sigma(s) + (1-y) \\log(1-\\sigma(s))]` written as the stable
    :math:`\\log(1 + e^{s}) - y s` (softplus), for a label :math:`y \\in \\{0, 1\\}`."""
    if target not in (0, 1):
        raise ValueError(f"target must be 0 or 1, got {target!r}")
    # softplus(s) = log(1 + e^s), rewritten as s + log(1 + e^{-s}) for s >= 0 so that exp never overflows
    if logit.data >= 0:
        softplus = logit + ((-logit).exp() + 1.0).log()
    else:
        softplus = (logit.exp() + 1.0).log()
    return softplus - logit * float(target)


def mean(values: Iterable[Value]) -> Value:
    """The average of a non-empty collection of Values (a node of the graph like any other)."""
    values = list(values)
    if not values:
        raise ValueError("mean of an empty collection")
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total * (1.0 / len(values))
