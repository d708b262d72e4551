"""Recurrent networks written out: RNN, LSTM and GRU cells, unrolling, stacking, a language model.

Notation of the RNN chapter (batch of B rows; :math:`x_t` has I entries, the
hidden state :math:`h_t` has H). Weights follow PyTorch's layout so that
:func:`Recurrent.load_from_torch` can copy ``torch.nn.RNN`` / ``LSTM`` / ``GRU``
weights one to one: ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``
and ``bias_hh`` (G*H,), with G = 1, 4, 3 blocks of rows for RNN, LSTM, GRU.

* RNN (:func:`rnn_cell`):
  :math:`h_t = \\tanh(W_x x_t + b_x + W_h h_{t-1} + b_h)` (RNN),
* LSTM (:func:`lstm_cell`), row blocks i, f, g, o:
  :math:`i_t, f_t, o_t = \\sigma(\\cdot)`, :math:`\\tilde c_t = \\tanh(\\cdot)`,
  :math:`c_t = f_t \\odot c_{t-1} + i_t \\odot \\tilde c_t`, :math:`h_t = o_t \\odot \\tanh(c_t)` (LSTM),
* GRU (:func:`gru_cell`), row blocks r, z, n:
  :math:`r_t, z_t = \\sigma(\\cdot)`,
  :math:`n_t = \\tanh(W_{xn} x_t + b_{xn} + r_t \\odot (W_{hn} h_{t-1} + b_{hn}))`,
  :math:`h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}` (GRU),
* unrolling over time (:func:`unroll`), stacked layers (:class:`Recurrent`), and the
  read-out :math:`p(x_{t+1} \\mid x_{\\le t}) = \\mathrm{softmax}(W_y h_t + b_y)` (OUT) of
  :class:`RecurrentLanguageModel`,
* what each block of rows computes (:data:`CELL_BLOCKS`, :class:`GateBlock`) and which
  states a cell carries (:data:`CELL_STATES`): the chapter's cell diagrams read their
  labels and sizes from these, and a unit test checks them against the cell functions,
* :func:`critical_path_length`: the longest chain of operations that wait for each
  other in a computation (why the steps of an RNN cannot run in parallel),
* :func:`docs_lstm_checkpoint` / :func:`docs_lstm_metrics`: the shared ``docs-lstm``
  checkpoint, an LSTM language model of the book's split of Python's documentation.

Here :math:`t` counts the positions of a sequence, not diffusion time, and
:math:`z_t` is the GRU's update gate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import torch
from torch import nn
from torch.nn import functional as F


State = Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]
MODES = ("rnn", "lstm", "gru")


@dataclass(frozen=True)
class GateBlock:
    """One block of H rows of a cell's stacked weights: what it computes from the pre-activations.

    ``name`` is the variable in the cell function (``i, f, g, o = pre.chunk(4, ...)``),
    ``symbol`` its symbol in the chapter's equations (LaTeX), ``activation`` the
    squashing function applied to it and ``role`` what it does, in words.
    """

    name: str
    symbol: str
    activation: str
    role: str


#: The row blocks of ``weight_ih`` / ``weight_hh`` / the biases, in PyTorch's order (equations RNN, LSTM, GRU).
CELL_BLOCKS: dict[str, tuple[GateBlock, ...]] = {
    "rnn": (GateBlock("h", "h_t", "tanh", "new hidden state"),),
    "lstm": (GateBlock("i", "i_t", "sigmoid", "input gate: how much new content to write"),
             GateBlock("f", "f_t", "sigmoid", "forget gate: how much of the old cell state to keep"),
             GateBlock("g", r"\tilde c_t", "tanh", "candidate content"),
             GateBlock("o", "o_t", "sigmoid", "output gate: how much of the memory to expose")),
    "gru": (GateBlock("r", "r_t", "sigmoid", "reset gate: how much of the past the candidate uses"),
            GateBlock("z", "z_t", "sigmoid", "update gate: how much of the old state to keep"),
            GateBlock("n", "n_t", "tanh", "candidate state")),
}
#: The states a cell carries from one step to the next (each of H numbers).
CELL_STATES: dict[str, tuple[str, ...]] = {"rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",)}
_GATES = {mode: len(blocks) for mode, blocks in CELL_BLOCKS.items()}
_TORCH_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _affine(v: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return F.linear(v, weight, bias)


def _check_cell_inputs(x: torch.Tensor, h: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
                       gates: int) -> None:
    hidden = weight_hh.shape[-1]
    if weight_ih.dim() != 2 or weight_hh.dim() != 2 or weight_ih.shape[0] != gates * hidden \
            or weight_hh.shape != (gates * hidden, hidden):
        raise ValueError(f"expected weight_ih ({gates}*H, I) and weight_hh ({gates}*H, H), got "
                         f"{tuple(weight_ih.shape)} and {tuple(weight_hh.shape)}")
    if x.shape[-1] != weight_ih.shape[1]:
        raise ValueError(f"x has {x.shape[-1]} features but weight_ih expects {weight_ih.shape[1]}")
    if h.shape[-1] != hidden or h.shape[:-1] != x.shape[:-1]:
        raise ValueError(f"expected a hidden state of shape {(*x.shape[:-1], hidden)}, got {tuple(h.shape)}")


def rnn_cell(x: torch.Tensor, h: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
             bias_ih: torch.Tensor | None = None, bias_hh: torch.Tensor | None = None,
             nonlinearity: str = "tanh") -> torch.Tensor:
    """One step of a plain RNN, equation (RNN): :math:`h_t = \\tanh(W_x x_t + b_x + W_h h_{t-1} + b_h)`.

    ``x`` (B, I), ``h`` (B, H) -> (B, H). ``nonlinearity`` is ``"tanh"`` or ``"relu"``.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    _check_cell_inputs(x, h, weight_ih, weight_hh, 1)
    pre = _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_cell(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
              bias_ih: torch.Tensor | None = None,
              bias_hh: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, equations (LSTM); returns :math:`(h_t, c_t)`.

    The pre-activations :math:`W_x x_t + b_x + W_h h_{t-1} + b_h` are split into four
    blocks of H rows, in PyTorch's order: input gate :math:`i_t`, forget gate
    :math:`f_t`, candidate :math:`\\tilde c_t` and output gate :math:`o_t`;
    :math:`c_t = f_t \\odot c_{t-1} + i_t \\odot \\tilde c_t` and
    :math:`h_t = o_t \\odot \\tanh(c_t)`. ``x`` (B, I), ``h`` and ``c`` (B, H).
    """
    _check_cell_inputs(x, h, weight_ih, weight_hh, 4)
    if c.shape != h.shape:
        raise ValueError(f"the cell state must have the shape of h {tuple(h.shape)}, got {tuple(c.shape)}")
    pre = _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
    i, f, g, o = pre.chunk(4, dim=-1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, c_new


def gru_cell(x: torch.Tensor, h: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
             bias_ih: torch.Tensor | None = None, bias_hh: torch.Tensor | None = None) -> torch.Tensor:
    """One GRU step in PyTorch's convention, equations (GRU); returns :math:`h_t`.

    Row blocks r (reset), z (update), n (candidate):
    :math:`r_t = \\sigma(\\cdot)`, :math:`z_t = \\sigma(\\cdot)`,
    :math:`n_t = \\tanh(W_{xn} x_t + b_{xn} + r_t \\odot (W_{hn} h_{t-1} + b_{hn}))` and
    :math:`h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}`: here :math:`z_t` is the share
    of the *old* state that is kept, and the reset gate multiplies
    :math:`W_{hn} h_{t-1} + b_{hn}` (after the matrix product).
    """
    _check_cell_inputs(x, h, weight_ih, weight_hh, 3)
    x_r, x_z, x_n = _affine(x, weight_ih, bias_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = _affine(h, weight_hh, bias_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def unroll(cell: Callable[[torch.Tensor, State], State], xs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
    """Run ``cell`` along the time axis of ``xs`` (B, T, I): :math:`s_t = \\text{cell}(x_t, s_{t-1})`.

    ``state`` is :math:`s_0`: a tensor :math:`h_0` (RNN, GRU) or a pair
    :math:`(h_0, c_0)` (LSTM). Returns the stacked hidden states
    :math:`(h_1, \\dots, h_T)` with shape (B, T, H) (for a pair state, its first
    element is the hidden state) and the final state :math:`s_T`. The same cell,
    with the same weights, is applied at every step; back-propagating through
    the returned graph is backpropagation through time.
    """
    if xs.dim() != 3:
        raise ValueError(f"expected xs of shape (B, T, I), got {tuple(xs.shape)}")
    outputs = []
    for t in range(xs.shape[1]):
        state = cell(xs[:, t], state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    if not outputs:
        raise ValueError("xs has no time steps (T = 0)")
    return torch.stack(outputs, dim=1), state


class _Cell(nn.Module):
    """Parameters of one recurrent layer, named and initialised as in PyTorch (uniform in +-1/sqrt(H))."""

    mode = "rnn"
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be positive, got {input_size}, {hidden_size}")
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(rows)) if bias else None
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def zeros(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(*x.shape[:-1], self.hidden_size)

    @property
    def blocks(self) -> tuple[GateBlock, ...]:
        """The row blocks of this cell's weights, in order (:data:`CELL_BLOCKS`)."""
        return CELL_BLOCKS[self.mode]

    @property
    def state_names(self) -> tuple[str, ...]:
        """The states carried from step to step: ``("h",)`` or ``("h", "c")``."""
        return CELL_STATES[self.mode]

    @property
    def state_size(self) -> int:
        """How many numbers the cell carries from one step to the next (H per state)."""
        return len(self.state_names) * self.hidden_size

    def block_rows(self, name: str) -> slice:
        """The rows of ``weight_ih``, ``weight_hh`` and the biases that compute block ``name``."""
        names = [block.name for block in self.blocks]
        if name not in names:
            raise ValueError(f"a {self.mode.upper()} cell has the blocks {names}, not {name!r}")
        k = names.index(name)
        return slice(k * self.hidden_size, (k + 1) * self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    """A plain RNN layer's step (RNN): ``cell(x, h=None) -> h`` (zeros when ``h`` is None)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    @property
    def blocks(self) -> tuple[GateBlock, ...]:
        (block,) = CELL_BLOCKS["rnn"]
        return (GateBlock(block.name, block.symbol, self.nonlinearity, block.role),)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self.zeros(x) if h is None else h
        return rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)


class LSTMCell(_Cell):
    """An LSTM layer's step (LSTM): ``cell(x, (h, c)=None) -> (h, c)``."""

    mode = "lstm"
    gates = 4

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        h, c = (self.zeros(x), self.zeros(x)) if state is None else state
        return lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(_Cell):
    """A GRU layer's step (GRU): ``cell(x, h=None) -> h``."""

    mode = "gru"
    gates = 3

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self.zeros(x) if h is None else h
        return gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


_CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


class Recurrent(nn.Module):
    """A stack of recurrent layers unrolled over time, a drop-in for ``torch.nn.RNN`` / ``LSTM`` / ``GRU``.

    Layer 1 reads the inputs :math:`x_t`; layer :math:`l > 1` reads the hidden
    states :math:`h^{(l-1)}_t` of the layer below (a *stacked* network), with
    dropout between layers in training mode. ``forward(x, state=None)`` takes
    ``x`` as (T, B, I), or (B, T, I) with ``batch_first=True``, or unbatched
    (T, I), and returns ``(output, state)`` exactly as PyTorch does: the last
    layer's hidden states for every step, and the final state of every layer,
    ``h_n`` (num_layers, B, H), or ``(h_n, c_n)`` for an LSTM.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, *, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, nonlinearity: str = "tanh"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.batch_first, self.dropout, self.bias = batch_first, dropout, bias
        self.nonlinearity = nonlinearity
        extra = {"nonlinearity": nonlinearity} if mode == "rnn" else {}
        self.layers = nn.ModuleList(
            _CELLS[mode](input_size if layer == 0 else hidden_size, hidden_size, bias, **extra)
            for layer in range(num_layers)
        )

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0)  # (1, T, I)
        elif x.dim() != 3:
            raise ValueError(f"expected x of shape (T, B, I), (B, T, I) or (T, I), got {tuple(x.shape)}")
        elif not self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"expected {self.input_size} input features, got {x.shape[-1]}")
        layer_input, finals = x, []  # (B, T, features), the layout unroll expects
        for index, (cell, initial) in enumerate(zip(self.layers, self._split_state(state, x, unbatched))):
            if index > 0 and self.dropout > 0 and self.training:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
            layer_input, final = unroll(cell, layer_input, initial)
            finals.append(final)
        if self.mode == "lstm":
            final_state: State = (torch.stack([f[0] for f in finals]), torch.stack([f[1] for f in finals]))
        else:
            final_state = torch.stack(finals)
        if unbatched:
            squeeze = lambda s: s.squeeze(1)  # noqa: E731  (num_layers, 1, H) -> (num_layers, H)
            final_state = tuple(map(squeeze, final_state)) if isinstance(final_state, tuple) else squeeze(final_state)
            return layer_input[0], final_state
        return (layer_input if self.batch_first else layer_input.transpose(0, 1)), final_state

    def _split_state(self, state: State | None, x: torch.Tensor, unbatched: bool) -> list:
        batch = x.shape[0]  # x is (B, T, I) here
        if state is None:
            zeros = x.new_zeros(batch, self.hidden_size)
            return [(zeros, zeros) if self.mode == "lstm" else zeros for _ in self.layers]
        parts = state if isinstance(state, tuple) else (state,)
        if len(parts) != (2 if self.mode == "lstm" else 1):
            raise ValueError("an LSTM state is a pair (h_0, c_0); an RNN or GRU state is one tensor h_0")
        if unbatched:
            parts = tuple(p.unsqueeze(1) for p in parts)
        expected = (self.num_layers, batch, self.hidden_size)
        for p in parts:
            if tuple(p.shape) != expected:
                raise ValueError(f"expected an initial state of shape {expected}, got {tuple(p.shape)}")
        if self.mode == "lstm":
            return [(parts[0][k], parts[1][k]) for k in range(self.num_layers)]
        return [parts[0][k] for k in range(self.num_layers)]

    @torch.no_grad()
    def load_from_torch(self, module: nn.RNNBase) -> "Recurrent":
        """Copy the weights of a ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` with the same configuration."""
        expected_class = _TORCH_CLASSES[self.mode]
        if type(module) is not expected_class:
            raise TypeError(f"a Recurrent('{self.mode}') loads from {expected_class.__name__}, got {type(module).__name__}")
        if module.bidirectional or getattr(module, "proj_size", 0):
            raise ValueError("bidirectional networks and LSTM projections are not supported")
        mine = (self.input_size, self.hidden_size, self.num_layers, self.bias)
        theirs = (module.input_size, module.hidden_size, module.num_layers, module.bias)
        if mine != theirs:
            raise ValueError(f"configurations differ: (input_size, hidden_size, num_layers, bias) {mine} vs {theirs}")
        if self.mode == "rnn" and module.nonlinearity != self.nonlinearity:
            raise ValueError(f"nonlinearities differ: {self.nonlinearity} vs {module.nonlinearity}")
        for k, cell in enumerate(self.layers):
            for name in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ()):
                getattr(cell, name).copy_(getattr(module, f"{name}_l{k}"))
        return self

    @classmethod
    def from_torch(cls, module: nn.RNNBase) -> "Recurrent":
        """A :class:`Recurrent` with the configuration and the weights of a PyTorch recurrent module."""
        mode = {nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}.get(type(module))
        if mode is None:
            raise TypeError(f"expected torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
        extra = {"nonlinearity": module.nonlinearity} if mode == "rnn" else {}
        new = cls(mode, module.input_size, module.hidden_size, module.num_layers, bias=module.bias,
                  batch_first=module.batch_first, dropout=module.dropout, **extra)
        first = next(module.parameters())
        return new.to(device=first.device, dtype=first.dtype).load_from_torch(module)

    def extra_repr(self) -> str:
        return f"{self.mode}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, " \
               f"batch_first={self.batch_first}"


class RecurrentLanguageModel(nn.Module):
    """Embedding, recurrent layers and the softmax read-out (OUT): a next-token model.

    ``forward(tokens, state=None)`` maps token ids (B, T) to logits (B, T, V),
    where row t scores :math:`x_{t+1}` given :math:`x_1..x_t`, and returns the
    final recurrent state so that generation can continue from it.
    ``backend="scratch"`` uses the written-out :class:`Recurrent`,
    ``backend="torch"`` the equivalent (faster) ``torch.nn`` module.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int = 1, mode: str = "lstm",
                 backend: str = "scratch", dropout: float = 0.0):
        super().__init__()
        if backend not in ("scratch", "torch"):
            raise ValueError(f"backend must be 'scratch' or 'torch', got {backend!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.vocab_size, self.mode, self.backend = vocab_size, mode, backend
        self.embed = nn.Embedding(vocab_size, embed_dim)
        if backend == "scratch":
            self.rnn: nn.Module = Recurrent(mode, embed_dim, hidden_size, num_layers, batch_first=True,
                                            dropout=dropout)
        else:
            self.rnn = _TORCH_CLASSES[mode](embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward_embedded(self, vectors: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits for already embedded inputs (B, T, embed_dim); used to differentiate w.r.t. the inputs."""
        hidden, state = self.rnn(vectors, state)
        return self.head(hidden), state

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        if tokens.dim() != 2:
            raise ValueError(f"expected token ids of shape (B, T), got {tuple(tokens.shape)}")
        return self.forward_embedded(self.embed(tokens), state)

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy in nats over every position, inputs and targets (B, T) ids each.

        The interface of :mod:`genai_foundations.algorithms.char_lm` (``train_char_model``,
        ``validation_nats``); each window starts from a zero state.
        """
        logits, _ = self(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, steps: int, *, temperature: float = 1.0, greedy: bool = False,
                 generator: torch.Generator | None = None, stop_token: int | None = None) -> torch.Tensor:
        """Continue the 1-D id sequence ``prompt`` by up to ``steps`` tokens; returns prompt + continuation.

        Each step feeds the last token and the carried state, turns the logits
        into :math:`\\mathrm{softmax}(\\text{logits} / \\text{temperature})` and takes the most
        likely token (``greedy``) or samples one. Stops early after ``stop_token``.
        """
        if prompt.dim() != 1 or len(prompt) == 0:
            raise ValueError(f"prompt must be a non-empty 1-D tensor of ids, got shape {tuple(prompt.shape)}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        was_training = self.training
        self.eval()
        device = self.head.weight.device
        out = prompt.tolist()
        logits, state = self(prompt.to(device)[None, :])
        for _ in range(steps):
            last = logits[0, -1].float()
            if greedy:
                token = int(last.argmax())
            else:
                probs = torch.softmax(last / temperature, dim=-1).cpu()
                token = int(torch.multinomial(probs, 1, generator=generator))
            out.append(token)
            if stop_token is not None and token == stop_token:
                break
            logits, state = self(torch.tensor([[token]], device=device), state)
        self.train(was_training)
        return torch.tensor(out, dtype=torch.long)


def sequence_loss(model: RecurrentLanguageModel, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy (in nats) over every position of every sequence, (B, T) ids each."""
    logits, _ = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


@torch.no_grad()
def bits_per_token(model: RecurrentLanguageModel, ids: torch.Tensor, seq_len: int = 128,
                   batch_size: int = 64) -> float:
    """Cross-entropy of the 1-D sequence ``ids`` under ``model``, in bits per token.

    The sequence is cut into consecutive windows of ``seq_len + 1`` ids that
    overlap by one (each window predicts its last ``seq_len`` ids from the ones
    before, starting from a zero state); every id after the first is predicted
    exactly once, except for a remainder shorter than a window, which is left out.
    """
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D tensor, got shape {tuple(ids.shape)}")
    windows = (len(ids) - 1) // seq_len
    if windows < 1:
        raise ValueError(f"need at least seq_len + 1 = {seq_len + 1} ids, got {len(ids)}")
    was_training = model.training
    model.eval()
    device = model.head.weight.device
    chunks = ids[: windows * seq_len + 1].to(device)
    inputs = chunks[:-1].reshape(windows, seq_len)
    targets = chunks[1:].reshape(windows, seq_len)
    total = 0.0
    for start in range(0, windows, batch_size):
        logits, _ = model(inputs[start:start + batch_size])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                 targets[start:start + batch_size].reshape(-1), reduction="sum").item()
    model.train(was_training)
    return total / (windows * seq_len) / math.log(2)


def input_gradient_norms(model: RecurrentLanguageModel, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """How strongly the loss at the *last* step reacts to the input at every earlier step.

    For inputs (B, T) and the final targets (B,), the loss is the cross-entropy
    of the prediction after step T; returns, for t = 1..T, the norm of
    :math:`\\partial L / \\partial x_t` (the embedded input vector), averaged over the
    batch: shape (T,). Backpropagation through time multiplies one Jacobian
    :math:`\\partial h_t / \\partial h_{t-1}` per step, so these norms show how
    far back the gradient signal reaches.
    """
    if inputs.dim() != 2 or targets.shape != inputs.shape[:1]:
        raise ValueError(f"expected inputs (B, T) and targets (B,), got {tuple(inputs.shape)} and {tuple(targets.shape)}")
    was_training = model.training
    model.eval()
    # cuDNN's recurrent kernels refuse to back-propagate in eval mode; the generic kernels compute the same thing
    with torch.backends.cudnn.flags(enabled=False):
        vectors = model.embed(inputs).detach().requires_grad_(True)
        logits, _ = model.forward_embedded(vectors)
        loss = F.cross_entropy(logits[:, -1].float(), targets)
        (grad,) = torch.autograd.grad(loss * len(targets), vectors)  # per-example gradients (the loss is a mean)
    model.train(was_training)
    return grad.norm(dim=-1).mean(dim=0).detach()


def critical_path_length(output: torch.Tensor) -> int:
    """The number of operations on the longest chain that produced ``output``, each waiting for the one before.

    Walks the autograd graph of ``output`` (it must require grad) from the
    output back to the leaves and returns the length of the longest path,
    counting operations (graph nodes) and not the leaves. However many
    processors are available, the operations on this chain run one after the
    other: it bounds the time of the computation from below. For an RNN
    unrolled over T steps it grows in proportion to T; for the input
    projection :math:`W_x x_t` of all steps at once it does not depend on T.
    """
    if not isinstance(output, torch.Tensor) or output.grad_fn is None:
        raise ValueError("output must be a tensor computed from tensors that require grad (it has no grad_fn)")
    depth: dict = {}
    stack = [(output.grad_fn, False)]
    while stack:  # an iterative post-order walk: a long unrolled graph would overflow Python's recursion limit
        node, children_done = stack.pop()
        if node in depth:
            continue
        children = [child for child, _ in node.next_functions if child is not None]
        if children_done:
            operations = [depth[child] for child in children if child in depth]
            depth[node] = (0 if type(node).__name__ == "AccumulateGrad" else 1) + max(operations, default=0)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if child not in depth)
    return depth[output.grad_fn]


# ---------------------------------------------------------------------------------------------------------------
# The shared "docs-lstm" checkpoint (genai_foundations.checkpoints): chapter 15's LSTM on the book's split
# ---------------------------------------------------------------------------------------------------------------
#: The model: one LSTM layer run by ``torch.nn.LSTM`` (``backend="torch"``), the same equations as :func:`lstm_cell`.
DOCS_LSTM_MODEL = {"embed_dim": 64, "hidden_size": 256, "num_layers": 1, "mode": "lstm", "backend": "torch"}
#: The recipe (``char_lm.train_char_model``): a couple of CPU minutes on one thread.
DOCS_LSTM_TRAINING = {"steps": 3000, "context": 64, "batch_size": 32, "lr": 4e-3, "seed": 0}
#: Validation windows of the metric (``char_lm.validation_nats``): each prediction sees at most this many characters.
DOCS_LSTM_EVAL_WINDOW = 128


def docs_lstm_checkpoint() -> tuple[RecurrentLanguageModel, dict]:
    """Train the committed ``"docs-lstm"`` checkpoint on the training part of the book's split (CPU, seeded).

    :class:`RecurrentLanguageModel` with :data:`DOCS_LSTM_MODEL`, trained by
    :func:`genai_foundations.algorithms.char_lm.train_char_model` with
    :data:`DOCS_LSTM_TRAINING`; returns the model and its checkpoint config.
    """
    from genai_foundations.algorithms.char_lm import train_char_model
    from genai_foundations.data.python_docs import python_docs_split

    split = python_docs_split()
    recipe = dict(DOCS_LSTM_TRAINING)
    seed = recipe.pop("seed")
    torch.manual_seed(seed)
    model = RecurrentLanguageModel(split.vocab_size, **DOCS_LSTM_MODEL)
    train_char_model(model, split.train, seed=seed, desc="docs-lstm", **recipe)
    model.eval()
    config = {"model_kwargs": {"vocab_size": split.vocab_size, **DOCS_LSTM_MODEL}, "seed": seed,
              "training": {"function": f"{train_char_model.__module__}.{train_char_model.__name__}",
                           "kwargs": dict(DOCS_LSTM_TRAINING), "data": "data.python_docs.python_docs_split().train",
                           "device": "cpu", "threads": 1}}
    return model, config


@torch.no_grad()
def docs_lstm_metrics(model: RecurrentLanguageModel) -> dict[str, float]:
    """Validation nats and bits per character on the validation part of the book's split (windows of 128)."""
    from genai_foundations.algorithms.char_lm import nats_to_bits, validation_nats
    from genai_foundations.data.python_docs import python_docs_split

    nats = validation_nats(model, python_docs_split().val, DOCS_LSTM_EVAL_WINDOW)
    return {"val_nats_per_char": nats, "val_bits_per_char": nats_to_bits(nats)}
