"""The scalar autograd engine against torch.autograd (float64) on random expression graphs."""

from __future__ import annotations

import math
import random

import pytest
import torch

from genai_foundations.architectures.scalar_autograd import (
    ScalarMLP,
    Value,
    binary_cross_entropy_with_logit,
    graph_table,
    mean,
    scalar_mlp_to_torch,
    scalar_parameter_grads,
    topological_order,
)

UNARY = ("exp", "log", "tanh", "sigmoid", "relu", "neg", "pow_int", "pow_frac", "rconst")
BINARY = ("add", "sub", "mul", "div")


def random_program(rng: random.Random, n_leaves: int, n_ops: int) -> list[tuple]:
    """A random DAG: each instruction reads earlier nodes (leaves or results), so nodes get reused."""
    program = []
    for i in range(n_ops):
        n_nodes = n_leaves + i
        # favour recent nodes so that graphs grow deep, but any earlier node can be picked again
        pick = lambda: max(rng.randrange(n_nodes), rng.randrange(n_nodes))  # noqa: E731
        if rng.random() < 0.45:
            program.append((rng.choice(UNARY), pick(), rng.uniform(-2, 2), rng.choice([2, 3, -1])))
        else:
            program.append((rng.choice(BINARY), pick(), pick()))
    return program


def run_program(program: list[tuple], leaves: list) -> list:
    """Evaluate a program with Values or with torch tensors: both have the same method names."""
    nodes = list(leaves)
    for instr in program:
        op = instr[0]
        a = nodes[instr[1]]
        if op == "exp":
            out = (a * 0.5).exp()
        elif op == "log":
            out = (a * a + 0.5).log()  # keep the argument positive
        elif op in ("tanh", "sigmoid", "relu"):
            out = getattr(a, op)()
        elif op == "neg":
            out = -a
        elif op == "pow_int":
            k = instr[3]
            out = a**k if k > 0 else (a * a + 1.0) ** k  # a negative power of a base away from zero
        elif op == "pow_frac":
            out = (a * a + 0.25) ** 0.5  # constant non-integer exponent of a positive base
        elif op == "rconst":  # numbers on the left-hand side: __radd__, __rsub__, __rmul__, __rtruediv__
            c = instr[2]
            out = (c - a) * 0.5 + 1.5 / (a * a + 1.0) + (2.0 + a) * c
        else:
            b = nodes[instr[2]]
            if op == "add":
                out = a + b
            elif op == "sub":
                out = a - b
            elif op == "mul":
                out = a * b
            else:
                out = a / (b * b + 0.5)  # denominator bounded away from zero
        nodes.append(out)
    return nodes


def combine(nodes: list, n_out: int):
    """The output: the sum of the last ``n_out`` nodes (several roots sharing sub-graphs)."""
    out = nodes[-1]
    for extra in nodes[-n_out:-1]:
        out = out + extra
    return out


def value_and_grads_torch(program, inputs, n_out):
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in inputs]
    nodes = run_program(program, leaves)
    out = combine(nodes, n_out)
    grads = torch.autograd.grad(out, leaves, allow_unused=True)
    return float(out.detach()), [0.0 if g is None else float(g) for g in grads]


def value_and_grads_engine(program, inputs, n_out):
    leaves = [Value(v) for v in inputs]
    nodes = run_program(program, leaves)
    out = combine(nodes, n_out)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def test_random_expression_graphs_match_torch_autograd():
    rng = random.Random(1234)
    compared = 0
    reused = 0
    for trial in range(400):
        n_leaves = rng.randint(1, 4)
        program = random_program(rng, n_leaves, rng.randint(1, 14))
        inputs = [rng.uniform(-2.0, 2.0) for _ in range(n_leaves)]
        n_out = rng.randint(1, 3)
        expected_value, expected_grads = value_and_grads_torch(program, inputs, n_out)
        if not math.isfinite(expected_value) or abs(expected_value) > 1e8 or any(abs(g) > 1e8 for g in expected_grads):
            continue  # an overflow-prone draw; the count below makes sure enough graphs were compared
        value, grads = value_and_grads_engine(program, inputs, n_out)
        assert value == pytest.approx(expected_value, rel=1e-10, abs=1e-12), f"trial {trial}: value"
        assert grads == pytest.approx(expected_grads, rel=1e-8, abs=1e-10), f"trial {trial}: gradients"
        used = [i for instr in program for i in instr[1:3] if isinstance(i, int) and i < n_leaves]
        reused += len(used) > len(set(used))
        compared += 1
    assert compared >= 380
    assert reused >= 100  # many graphs use some leaf several times


def test_a_variable_used_several_times_gets_the_sum_of_its_paths():
    # f(x, y) = x*y + x**2 + exp(x) * tanh(x*y)  (x appears on four paths, x*y is shared)
    x, y = Value(0.7, "x"), Value(-1.3, "y")
    xy = x * y
    f = xy + x**2 + x.exp() * xy.tanh()
    f.backward()
    tx = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(-1.3, dtype=torch.float64, requires_grad=True)
    txy = tx * ty
    tf = txy + tx**2 + tx.exp() * txy.tanh()
    tf.backward()
    assert f.data == pytest.approx(tf.item(), rel=1e-12)
    assert x.grad == pytest.approx(float(tx.grad), rel=1e-12)
    assert y.grad == pytest.approx(float(ty.grad), rel=1e-12)
    # by hand: df/dx = y + 2x + e^x tanh(xy) + e^x (1 - tanh^2(xy)) y
    t = math.tanh(0.7 * -1.3)
    by_hand = -1.3 + 1.4 + math.exp(0.7) * t + math.exp(0.7) * (1 - t * t) * -1.3
    assert x.grad == pytest.approx(by_hand, rel=1e-12)


def test_x_times_x_is_two_x_not_x():
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0  # a graph that forgot to accumulate would give 3.0


def test_each_elementary_derivative():
    cases = {
        "exp": (lambda v: v.exp(), lambda a: math.exp(a)),
        "log": (lambda v: v.log(), lambda a: 1 / a),
        "tanh": (lambda v: v.tanh(), lambda a: 1 - math.tanh(a) ** 2),
        "sigmoid": (lambda v: v.sigmoid(), lambda a: math.exp(-a) / (1 + math.exp(-a)) ** 2),
        "relu": (lambda v: v.relu(), lambda a: float(a > 0)),
        "pow": (lambda v: v**-2.5, lambda a: -2.5 * a**-3.5),
        "rdiv": (lambda v: 3.0 / v, lambda a: -3.0 / a**2),
        "rsub": (lambda v: 3.0 - v, lambda a: -1.0),
    }
    for name, (fn, derivative) in cases.items():
        for a in (0.3, 1.7):
            v = Value(a)
            fn(v).backward()
            assert v.grad == pytest.approx(derivative(a), rel=1e-12), name
    v = Value(-0.4)
    v.relu().backward()
    assert v.grad == 0.0


def test_backward_accumulates_on_leaves_like_torch():
    x = Value(2.0)
    out = x * x * x
    out.backward()
    out.backward()  # intermediates are reset, leaves accumulate: 2 * 3x^2
    assert x.grad == pytest.approx(24.0)
    t = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tout = t * t * t
    tout.backward(retain_graph=True)
    tout.backward()
    assert x.grad == pytest.approx(float(t.grad))


def test_topological_order_puts_inputs_before_outputs_and_lists_shared_nodes_once():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    c = a * b
    d = c + c.tanh()  # c is reached along two paths
    order = topological_order(d)
    assert len(order) == len({id(n) for n in order}) == 5
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for parent in node.parents:
            assert position[id(parent)] < position[id(node)]
    rows = graph_table(d)
    assert [r["op"] for r in rows][-1] == "+" and rows[0]["op"] == "leaf"


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = Value(0.5)
    out = x
    for _ in range(5000):
        out = out * 1.0001 + 0.0
    out.backward()
    assert x.grad == pytest.approx(1.0001**5000, rel=1e-9)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="positive"):
        Value(-1.0).log()
    with pytest.raises(TypeError, match="constant"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(ValueError, match="negative base"):
        Value(-2.0) ** 0.5
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0.0
    with pytest.raises(TypeError):
        Value("3")
    with pytest.raises(TypeError):
        Value(1.0) + "a"


def test_binary_cross_entropy_matches_torch_and_is_stable():
    for logit, target in [(0.3, 1), (-2.0, 0), (40.0, 0), (-40.0, 1), (0.0, 1)]:
        s = Value(logit)
        loss = binary_cross_entropy_with_logit(s, target)
        loss.backward()
        t = torch.tensor(logit, dtype=torch.float64, requires_grad=True)
        tloss = torch.nn.functional.binary_cross_entropy_with_logits(t, torch.tensor(float(target), dtype=torch.float64))
        tloss.backward()
        assert loss.data == pytest.approx(tloss.item(), rel=1e-12, abs=1e-15)
        assert s.grad == pytest.approx(float(t.grad), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_scalar_mlp_gradients_equal_torch(activation):
    mlp = ScalarMLP([3, 5, 4, 1], activation=activation, seed=7)
    rng = random.Random(0)
    xs = [[rng.gauss(0, 1) for _ in range(3)] for _ in range(6)]
    ys = [rng.randint(0, 1) for _ in range(6)]
    loss = mean(binary_cross_entropy_with_logit(mlp(x)[0], t) for x, t in zip(xs, ys))
    mlp.zero_grad()
    loss.backward()
    net = scalar_mlp_to_torch(mlp)
    logits = net(torch.tensor(xs, dtype=torch.float64)).squeeze(1)
    tloss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(ys, dtype=torch.float64))
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-12)
    expected = [p.grad for p in net.parameters()]
    for got, want in zip(scalar_parameter_grads(mlp), expected):
        assert torch.allclose(torch.tensor(got, dtype=torch.float64), want, rtol=1e-10, atol=1e-13)
    assert len(mlp.parameters()) == sum(p.numel() for p in net.parameters()) == 3 * 5 + 5 + 5 * 4 + 4 + 4 + 1


def test_scalar_mlp_rejects_bad_sizes():
    with pytest.raises(ValueError):
        ScalarMLP([3])
    with pytest.raises(ValueError, match="activation"):
        ScalarMLP([2, 2], activation="gelu")
    with pytest.raises(ValueError, match="expected 2 inputs"):
        ScalarMLP([2, 3, 1])([1.0, 2.0, 3.0])


def test_graphs_hold_no_reference_cycles():
    # with no cycles, reference counting frees a dropped graph and the cycle collector finds nothing
    from genai_foundations.architectures.scalar_autograd import cycle_collector_paused
    import gc

    mlp = ScalarMLP([2, 4, 1], seed=0)
    gc.collect()
    with cycle_collector_paused():
        assert not gc.isenabled()
        for _ in range(3):
            loss = mean(binary_cross_entropy_with_logit(mlp([0.5, -1.0])[0], 1) for _ in range(4))
            loss.backward()
            del loss
        assert gc.collect() == 0
    assert gc.isenabled()
