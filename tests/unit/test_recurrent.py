"""The written-out RNN, LSTM and GRU equal torch.nn.RNN / LSTM / GRU given the same weights (float64)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genai_foundations.architectures.recurrent import (
    CELL_BLOCKS, GRUCell, LSTMCell, Recurrent, RecurrentLanguageModel, RNNCell, bits_per_token, critical_path_length,
    gru_cell, input_gradient_norms, lstm_cell, rnn_cell, sequence_loss, unroll)
from genai_foundations.algorithms.char_lm import validation_nats
from genai_foundations.data.characters import random_windows, unigram_bits_per_char
from genai_foundations.data.python_docs import python_docs_split

ATOL = 1e-10
TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
TORCH_CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}
OURS_CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


def _pair(mode, input_size=5, hidden=7, layers=1, batch_first=False, bias=True, nonlinearity="tanh", seed=0):
    torch.manual_seed(seed)
    extra = {"nonlinearity": nonlinearity} if mode == "rnn" else {}
    theirs = TORCH[mode](input_size, hidden, layers, bias=bias, batch_first=batch_first, **extra).double()
    ours = Recurrent.from_torch(theirs)
    assert ours.mode == mode and ours.num_layers == layers and next(ours.parameters()).dtype == torch.float64
    return ours, theirs


def _random_state(mode, layers, batch, hidden):
    h = torch.randn(layers, batch, hidden, dtype=torch.float64)
    return (h, torch.randn_like(h)) if mode == "lstm" else h


def _close(a, b):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y)
        return
    assert a.shape == b.shape
    torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("batch_first", [False, True])
def test_equals_torch_outputs_states_and_gradients(mode, layers, batch_first):
    ours, theirs = _pair(mode, layers=layers, batch_first=batch_first, seed=layers)
    torch.manual_seed(10 + layers)
    x = torch.randn(4, 9, 5, dtype=torch.float64) if batch_first else torch.randn(9, 4, 5, dtype=torch.float64)
    state = _random_state(mode, layers, 4, 7)
    x_ours, x_theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out_ours, final_ours = ours(x_ours, state)
    out_theirs, final_theirs = theirs(x_theirs, state)
    _close(out_ours, out_theirs)
    _close(final_ours, final_theirs)
    # gradients (backpropagation through time) w.r.t. the inputs and every weight
    weights = torch.randn_like(out_theirs)
    finals = final_ours if isinstance(final_ours, tuple) else (final_ours,)
    finals_t = final_theirs if isinstance(final_theirs, tuple) else (final_theirs,)
    ((out_ours * weights).sum() + sum(f.square().sum() for f in finals)).backward()
    ((out_theirs * weights).sum() + sum(f.square().sum() for f in finals_t)).backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, atol=ATOL, rtol=0)
    for k, cell in enumerate(ours.layers):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            torch.testing.assert_close(getattr(cell, name).grad, getattr(theirs, f"{name}_l{k}").grad, atol=ATOL, rtol=0)


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_zero_initial_state_unbatched_input_and_no_bias(mode):
    ours, theirs = _pair(mode, layers=2, bias=False, seed=3)
    x = torch.randn(6, 5, dtype=torch.float64)  # unbatched (T, I)
    _close(ours(x), theirs(x))
    xb = torch.randn(6, 2, 5, dtype=torch.float64)
    _close(ours(xb), theirs(xb))  # state=None means zeros


def test_relu_rnn_equals_torch():
    ours, theirs = _pair("rnn", layers=2, nonlinearity="relu", seed=4)
    x = torch.randn(8, 3, 5, dtype=torch.float64)
    _close(ours(x), theirs(x))


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_cells_equal_torch_cells(mode):
    torch.manual_seed(5)
    theirs = TORCH_CELLS[mode](4, 6).double()
    ours = OURS_CELLS[mode](4, 6).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ours, name).copy_(getattr(theirs, name))
    x, h, c = (torch.randn(3, k, dtype=torch.float64) for k in (4, 6, 6))
    if mode == "lstm":
        _close(ours(x, (h, c)), theirs(x, (h, c)))
        h_new, c_new = lstm_cell(x, h, c, ours.weight_ih, ours.weight_hh, ours.bias_ih, ours.bias_hh)
        _close((h_new, c_new), theirs(x, (h, c)))
    else:
        _close(ours(x, h), theirs(x, h))
        _close(ours(x), theirs(x))
        fn = rnn_cell if mode == "rnn" else gru_cell
        _close(fn(x, h, ours.weight_ih, ours.weight_hh, ours.bias_ih, ours.bias_hh), theirs(x, h))


def test_cell_equations_written_by_hand():
    torch.manual_seed(6)
    x, h, c = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    w_ih, w_hh = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 4, dtype=torch.float64)
    pre = x @ w_ih.T + h @ w_hh.T
    i, f, g, o = (torch.sigmoid(pre[:, :4]), torch.sigmoid(pre[:, 4:8]), torch.tanh(pre[:, 8:12]),
                  torch.sigmoid(pre[:, 12:]))
    c_expected = f * c + i * g
    _close(lstm_cell(x, h, c, w_ih, w_hh), (o * torch.tanh(c_expected), c_expected))
    # GRU: z = 1 keeps the old state whatever the candidate is
    w_ih, w_hh = torch.zeros(12, 3, dtype=torch.float64), torch.zeros(12, 4, dtype=torch.float64)
    b = torch.zeros(12, dtype=torch.float64)
    b[4:8] = 50.0  # z = sigmoid(50) = 1
    _close(gru_cell(x, h, w_ih, w_hh, b, None), h)
    b[4:8] = -50.0  # z = 0: the new state is the candidate tanh(0) = 0 here
    _close(gru_cell(x, h, w_ih, w_hh, b, None), torch.zeros_like(h))


def test_unroll_applies_the_cell_step_by_step():
    cell = lambda x, s: s + x  # noqa: E731
    xs = torch.arange(6.0).reshape(1, 3, 2)
    outputs, final = unroll(cell, xs, torch.zeros(1, 2))
    torch.testing.assert_close(outputs, torch.tensor([[[0.0, 1.0], [2.0, 4.0], [6.0, 9.0]]]))
    torch.testing.assert_close(final, outputs[:, -1])
    pair_cell = lambda x, s: (s[0] + x, s[1] - x)  # noqa: E731
    outputs, (h, c) = unroll(pair_cell, xs, (torch.zeros(1, 2), torch.zeros(1, 2)))
    torch.testing.assert_close(outputs[:, -1], h)
    torch.testing.assert_close(c, -h)
    with pytest.raises(ValueError, match=r"\(B, T, I\)"):
        unroll(cell, torch.zeros(3, 2), torch.zeros(1, 2))


def test_errors_say_what_was_expected():
    with pytest.raises(ValueError, match="mode"):
        Recurrent("transformer", 3, 4)
    ours = Recurrent("lstm", 3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"\(2, 5, 4\)"):
        ours(torch.randn(7, 5, 3), (torch.zeros(1, 5, 4), torch.zeros(1, 5, 4)))
    with pytest.raises(ValueError, match="pair"):
        ours(torch.randn(7, 5, 3), torch.zeros(2, 5, 4))
    with pytest.raises(ValueError, match="3 input features"):
        ours(torch.randn(7, 5, 2))
    with pytest.raises(TypeError, match="LSTM"):
        ours.load_from_torch(nn.GRU(3, 4, 2))
    with pytest.raises(ValueError, match="configurations differ"):
        ours.load_from_torch(nn.LSTM(3, 5, 2))
    with pytest.raises(ValueError, match=r"weight_ih \(4\*H, I\)"):
        lstm_cell(torch.zeros(1, 3), torch.zeros(1, 4), torch.zeros(1, 4), torch.zeros(12, 3), torch.zeros(16, 4))


def test_language_model_backends_agree_and_generate():
    torch.manual_seed(7)
    scratch = RecurrentLanguageModel(11, 5, 8, num_layers=2, mode="gru", backend="scratch")
    fast = RecurrentLanguageModel(11, 5, 8, num_layers=2, mode="gru", backend="torch")
    fast.embed.load_state_dict(scratch.embed.state_dict())
    fast.head.load_state_dict(scratch.head.state_dict())
    scratch.rnn.load_from_torch(fast.rnn)
    tokens = torch.randint(0, 11, (3, 12))
    logits_a, state_a = scratch(tokens)
    logits_b, state_b = fast(tokens)
    assert logits_a.shape == (3, 12, 11)
    torch.testing.assert_close(logits_a, logits_b, atol=1e-5, rtol=1e-5)
    # carrying the state gives the same logits as one long pass
    first, state = scratch(tokens[:, :5])
    second, _ = scratch(tokens[:, 5:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), logits_a, atol=1e-5, rtol=1e-5)
    out = scratch.generate(torch.tensor([1, 2]), 6, greedy=True)
    assert out.shape == (8,) and out[:2].tolist() == [1, 2]
    sampled = scratch.generate(torch.tensor([1]), 20, generator=torch.Generator().manual_seed(0))
    assert sampled.shape == (21,) and sampled.max() < 11
    stop = int(out[2])
    assert scratch.generate(torch.tensor([1, 2]), 6, greedy=True, stop_token=stop).tolist() == [1, 2, stop]


def test_bits_per_token_and_gradient_norms():
    torch.manual_seed(8)
    model = RecurrentLanguageModel(6, 4, 8, mode="lstm")
    ids = torch.randint(0, 6, (301,))
    bits = bits_per_token(model, ids, seq_len=30, batch_size=4)
    inputs, targets = ids[:-1].reshape(10, 30), ids[1:].reshape(10, 30)
    assert math.isclose(bits, sequence_loss(model, inputs, targets).item() / math.log(2), rel_tol=1e-5)
    norms = input_gradient_norms(model, inputs, targets[:, -1])
    assert norms.shape == (30,) and (norms > 0).all()
    # the last input matters more than one 29 steps back (the gradient decays through time at initialisation)
    assert norms[-1] > norms[0]


def test_windows_and_unigram_baseline_on_the_book_split():
    split = python_docs_split()
    x, y = random_windows(split.train, 16, 5, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 16) and torch.equal(x[:, 1:], y[:, :-1])
    assert x.max() < split.vocab_size
    # the unigram baseline equals the entropy formula when train and val are the same text
    counts = torch.bincount(split.train, minlength=split.vocab_size).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log2()).sum().item()
    assert math.isclose(unigram_bits_per_char(split.train, split.train, split.vocab_size, alpha=1e-9), entropy,
                        rel_tol=1e-6)
    assert unigram_bits_per_char(split.train, split.val, split.vocab_size) < math.log2(split.vocab_size)
    with pytest.raises(ValueError, match="positive"):
        unigram_bits_per_char(split.train, split.val, split.vocab_size, alpha=0.0)


def test_loss_method_and_the_shared_validation_score_agree_with_bits_per_token():
    torch.manual_seed(9)
    model = RecurrentLanguageModel(7, 4, 8, mode="lstm", backend="torch")
    ids = torch.randint(0, 7, (245,))
    inputs, targets = ids[:-5].reshape(8, 30), ids[1:-4].reshape(8, 30)
    torch.testing.assert_close(model.loss(inputs, targets), sequence_loss(model, inputs, targets))
    nats = validation_nats(model, ids, 30, batch_size=3)
    assert math.isclose(nats / math.log(2), bits_per_token(model, ids, seq_len=30, batch_size=5), rel_tol=1e-5)


@pytest.mark.parametrize("mode", ["lstm", "rnn"])
def test_fused_and_written_out_backends_agree_with_the_same_weights(mode):
    """The docs-lstm checkpoint trains with backend="torch"; the chapter's cells are the same model."""
    torch.manual_seed(3)
    fast = RecurrentLanguageModel(9, 6, 10, mode=mode, backend="torch").double()
    scratch = RecurrentLanguageModel(9, 6, 10, mode=mode, backend="scratch").double()
    scratch.embed.load_state_dict(fast.embed.state_dict())
    scratch.head.load_state_dict(fast.head.state_dict())
    scratch.rnn.load_from_torch(fast.rnn)
    tokens = torch.randint(0, 9, (4, 15))
    torch.testing.assert_close(scratch(tokens)[0], fast(tokens)[0], atol=1e-10, rtol=0)
    torch.testing.assert_close(scratch.loss(tokens[:, :-1], tokens[:, 1:]), fast.loss(tokens[:, :-1], tokens[:, 1:]),
                               atol=1e-10, rtol=0)


def _biased(cell, **biases):
    """Zero weights, and bias_ih set to the given value in the rows of each named block."""
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        for name, value in biases.items():
            cell.bias_ih[cell.block_rows(name)] = value
    return cell


def test_lstm_blocks_are_what_the_cell_function_computes():
    """CELL_BLOCKS (which the diagrams draw) names the rows in the order lstm_cell uses them."""
    torch.manual_seed(11)
    x, h, c = (torch.randn(3, k, dtype=torch.float64) for k in (2, 4, 4))
    cell = LSTMCell(2, 4).double()
    assert [b.name for b in cell.blocks] == ["i", "f", "g", "o"] and cell.state_names == ("h", "c")
    assert {b.name: b.activation for b in cell.blocks} == {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid"}
    _, c_new = _biased(cell, f=50.0, i=-50.0)(x, (h, c))               # forget gate open, input gate shut
    _close(c_new, c)
    _, c_new = _biased(cell, f=-50.0, i=50.0, g=0.7)(x, (h, c))        # only the candidate tanh(0.7) is written
    _close(c_new, torch.full_like(c, math.tanh(0.7)))
    h_new, c_new = _biased(cell, o=-50.0, g=2.0, i=50.0)(x, (h, c))     # output gate shut: nothing is exposed
    _close(h_new, torch.zeros_like(h))
    h_new, c_new = _biased(cell, o=50.0, i=-50.0, f=50.0)(x, (h, c))
    _close(h_new, torch.tanh(c))                                        # output gate open: h = tanh(c)


def test_gru_and_rnn_blocks_are_what_the_cell_functions_compute():
    torch.manual_seed(12)
    x, h = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    cell = GRUCell(2, 4).double()
    assert [b.name for b in cell.blocks] == ["r", "z", "n"] and cell.state_names == ("h",)
    _close(_biased(cell, z=50.0)(x, h), h)                              # update gate 1: the old state is kept
    _close(_biased(cell, z=-50.0, n=0.3)(x, h), torch.full_like(h, math.tanh(0.3)))  # replaced by the candidate
    for reset, expected in ((-50.0, math.tanh(0.3)), (50.0, math.tanh(1.3))):  # r scales W_hn h + b_hn (here b_hn = 1)
        _biased(cell, z=-50.0, n=0.3, r=reset)
        with torch.no_grad():
            cell.bias_hh[cell.block_rows("n")] = 1.0
        _close(cell(x, h), torch.full_like(h, expected))
    for nonlinearity in ("tanh", "relu"):
        rnn = RNNCell(2, 4, nonlinearity=nonlinearity).double()
        assert [(b.name, b.activation) for b in rnn.blocks] == [("h", nonlinearity)]
        out = _biased(rnn, h=-0.5)(x, h)
        expected = math.tanh(-0.5) if nonlinearity == "tanh" else 0.0
        _close(out, torch.full_like(h, expected))
    assert set(CELL_BLOCKS) == {"rnn", "lstm", "gru"}


def test_state_sizes_and_block_rows():
    assert LSTMCell(3, 5).state_size == 10 and GRUCell(3, 5).state_size == 5 and RNNCell(3, 5).state_size == 5
    cell = GRUCell(3, 5)
    assert cell.block_rows("r") == slice(0, 5) and cell.block_rows("n") == slice(10, 15)
    assert cell.weight_ih[cell.block_rows("z")].shape == (5, 3)
    with pytest.raises(ValueError, match="blocks"):
        cell.block_rows("f")


def test_critical_path_grows_with_the_steps_of_a_recurrence_only():
    torch.manual_seed(13)
    cell = RNNCell(4, 6)
    recurrent, projection = [], []
    for steps in (1, 2, 5, 40):
        xs = torch.randn(2, steps, 4)
        outputs, _ = unroll(cell, xs, torch.zeros(2, 6))
        recurrent.append(critical_path_length(outputs))
        projection.append(critical_path_length(xs @ cell.weight_ih.T + cell.bias_ih))
    assert len(set(projection)) == 1                                      # all steps at once: the same depth for any T
    per_step = (recurrent[1] - recurrent[0])
    assert per_step >= 2 and all(r == recurrent[0] + per_step * (t - 1) for r, t in zip(recurrent, (1, 2, 5, 40)))
    # a long chain does not hit Python's recursion limit
    long_out, _ = unroll(cell, torch.randn(1, 3000, 4), torch.zeros(1, 6))
    assert critical_path_length(long_out) == recurrent[0] + per_step * 2999
    # a hand-made chain: ((a * 2) + 1).exp() has three operations after the leaf
    a = torch.ones(3, requires_grad=True)
    assert critical_path_length(((a * 2) + 1).exp()) == 3
    with pytest.raises(ValueError, match="grad_fn"):
        critical_path_length(torch.ones(3))
