"""The chapter's worked example: a 2-layer network with one unit per layer, by hand.

The network (chapter 11, eq. NET) maps an input :math:`x` to

.. math::
    z_1 = w_1 x + b_1,\\qquad a_1 = \\sigma(z_1),\\qquad \\hat y = w_2 a_1 + b_2,\\qquad
    L = \\tfrac12 (\\hat y - y)^2,

and the backward pass (eq. CHAIN) applies the chain rule from the loss back to
each parameter:

.. math::
    \\frac{\\partial L}{\\partial w_2} = \\frac{\\partial L}{\\partial \\hat y}\\, a_1,\\qquad
    \\frac{\\partial L}{\\partial w_1} = \\frac{\\partial L}{\\partial \\hat y}\\, w_2\\, \\sigma'(z_1)\\, x,

with :math:`\\partial L/\\partial \\hat y = \\hat y - y` and
:math:`\\sigma'(z) = \\sigma(z)(1-\\sigma(z))`. All functions take and return
plain Python floats (a 0-d tensor is accepted and converted).
"""

from __future__ import annotations

import math


WORKED_EXAMPLE = {"x": 2.0, "y": 0.8, "w1": 0.5, "b1": 0.0, "w2": -1.0, "b2": 0.0}
"""The inputs of the worked example of the main notes (learning rate 0.1)."""
WORKED_LR = 0.1

PARAMETERS = ("w1", "b1", "w2", "b2")


def sigmoid(z: float) -> float:
    """:math:`\\sigma(z) = 1 / (1 + e^{-z})`, computed without overflow for large :math:`|z|`."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _floats(*values) -> list[float]:
    out = []
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise TypeError(f"expected numbers, got {type(v).__name__}") from None
    return out


def two_layer_forward(x: float, y: float, w1: float, b1: float, w2: float, b2: float) -> dict[str, float]:
    """Forward pass of eq. NET: returns ``{"z1", "a1", "y_hat", "loss"}``."""
    x, y, w1, b1, w2, b2 = _floats(x, y, w1, b1, w2, b2)
    z1 = w1 * x + b1
    a1 = sigmoid(z1)
    y_hat = w2 * a1 + b2
    loss = 0.5 * (y_hat - y) ** 2
    return {"z1": z1, "a1": a1, "y_hat": y_hat, "loss": loss}


def two_layer_local_derivatives(x: float, y: float, w1: float, b1: float, w2: float, b2: float) -> dict[str, float]:
    """Every factor of the chain rule (eq. CHAIN), by name, for the table of the chapter.

    Keys: ``dL/dy_hat`` (:math:`\\hat y - y`), ``dy_hat/dw2`` (:math:`a_1`),
    ``dy_hat/da1`` (:math:`w_2`), ``da1/dz1`` (:math:`\\sigma'(z_1)`),
    ``dz1/dw1`` (:math:`x`), and the products ``dL/da1`` and ``dL/dz1``.
    """
    fwd = two_layer_forward(x, y, w1, b1, w2, b2)
    x, w2 = _floats(x, w2)
    dl_dyhat = fwd["y_hat"] - float(y)
    dsig = fwd["a1"] * (1.0 - fwd["a1"])
    dl_da1 = dl_dyhat * w2
    return {
        "dL/dy_hat": dl_dyhat,
        "dy_hat/dw2": fwd["a1"],
        "dy_hat/da1": w2,
        "da1/dz1": dsig,
        "dz1/dw1": x,
        "dL/da1": dl_da1,
        "dL/dz1": dl_da1 * dsig,
    }


def two_layer_backward(x: float, y: float, w1: float, b1: float, w2: float, b2: float) -> dict[str, float]:
    """Backward pass of eq. CHAIN: the gradient of :math:`L` with respect to each parameter.

    Returns ``{"w1", "b1", "w2", "b2"}`` with :math:`\\partial L/\\partial w_1 = \\delta_1 x`,
    :math:`\\partial L/\\partial b_1 = \\delta_1`, :math:`\\partial L/\\partial w_2 = \\delta_2 a_1`,
    :math:`\\partial L/\\partial b_2 = \\delta_2`, where :math:`\\delta_2 = \\hat y - y` and
    :math:`\\delta_1 = \\delta_2 w_2 \\sigma'(z_1)`.
    """
    x, y, w1, b1, w2, b2 = _floats(x, y, w1, b1, w2, b2)
    # forward, keeping what the backward pass needs
    z1 = w1 * x + b1
    a1 = sigmoid(z1)
    y_hat = w2 * a1 + b2
    # backward: one local derivative at a time, from the loss to the inputs
    delta2 = y_hat - y  # dL/dy_hat = dL/db2
    delta1 = delta2 * w2 * a1 * (1.0 - a1)  # dL/dz1 = dL/db1
    return {"w1": delta1 * x, "b1": delta1, "w2": delta2 * a1, "b2": delta2}


def two_layer_sgd_update(params: dict[str, float], grads: dict[str, float], lr: float) -> dict[str, float]:
    """One gradient-descent update :math:`\\theta \\leftarrow \\theta - \\eta\\, \\partial L/\\partial\\theta` of the four parameters."""
    if not lr > 0:
        raise ValueError(f"the learning rate must be positive, got {lr!r}")
    missing = set(PARAMETERS) - set(params) | set(PARAMETERS) - set(grads)
    if missing:
        raise KeyError(f"params and grads need the keys {PARAMETERS}; missing {sorted(missing)}")
    return {k: float(params[k]) - lr * float(grads[k]) for k in PARAMETERS}


def worked_example() -> dict[str, float]:
    """All numbers of the worked example, exact to float precision (not rounded).

    Forward values, chain-rule factors, gradients (``dL/dw1`` ...) and the
    parameters after one step with :data:`WORKED_LR` (``w1_new`` ...).
    """
    ex = WORKED_EXAMPLE
    out: dict[str, float] = {}
    out.update(two_layer_forward(**ex))
    out.update(two_layer_local_derivatives(**ex))
    grads = two_layer_backward(**ex)
    out.update({f"dL/d{k}": v for k, v in grads.items()})
    updated = two_layer_sgd_update({k: ex[k] for k in PARAMETERS}, grads, WORKED_LR)
    out.update({f"{k}_new": v for k, v in updated.items()})
    return out
