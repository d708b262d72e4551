"""The transformer: pre-LayerNorm blocks, a decoder-only GPT (with a KV cache), and a BERT-style encoder.

Notation of the transformers chapter: vocabulary of V tokens, width d
(``d_model``), h heads, feed-forward width :math:`d_{ff}`, L blocks, context
length n (``n_positions``).

* :class:`TransformerBlock`, the pre-LayerNorm block (BLOCK):
  :math:`X \\leftarrow X + \\mathrm{MHA}(\\mathrm{LN}_1(X))`, then
  :math:`X \\leftarrow X + \\mathrm{FFN}(\\mathrm{LN}_2(X))`, with
  :math:`\\mathrm{FFN}(x) = W_2\\, \\phi(W_1 x + b_1) + b_2` (FFN) and
  :math:`\\mathrm{LN}(x) = \\gamma \\odot (x - \\mu) / \\sqrt{\\sigma^2 + \\epsilon} + \\beta`
  over the d features of one position (LN); optionally a cross-attention
  sub-layer :math:`X \\leftarrow X + \\mathrm{MHA}(\\mathrm{LN}(X), C)` between the two (encoder-decoder);
* :class:`GPT`, decoder-only (GPT):
  :math:`X_0 = E[x_{1:n}] + P_{1:n}`, L causal blocks, a final LayerNorm and the
  head :math:`\\text{logits} = \\mathrm{LN}_f(X_L)\\, E^\\top` (weights tied to the
  token embedding E), so that
  :math:`p(x_{t+1} \\mid x_{\\le t}) = \\mathrm{softmax}(\\text{logits}_t)`; with a
  :class:`~genai_foundations.architectures.attention.KVCache` it processes only
  the new tokens;
* :class:`GPTConfig` describes it; :meth:`GPTConfig.gpt2` is GPT-2's layout
  (GELU with the tanh approximation, LayerNorm :math:`\\epsilon = 10^{-5}`,
  learned positions, tied head) and :func:`to_gpt2` / :func:`GPT.from_gpt2`
  convert weights to and from ``transformers``' ``GPT2LMHeadModel``;
* :func:`parameter_breakdown` / :func:`parameter_count`: where the parameters
  are (the chapter's worked count), :func:`kv_cache_bytes`: the cache's memory formula;
* :class:`MaskedLMEncoder`, :class:`SpecialTokens`, :func:`mask_tokens`:
  an encoder-only model trained by masked-language modelling (BERT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.architectures.attention import KVCache, MultiHeadAttention, causal_mask, padding_mask
from genai_foundations.architectures.positions import LearnedPositions, SinusoidalPositions

if TYPE_CHECKING:  # pragma: no cover
    from transformers import GPT2Config, GPT2LMHeadModel

#: The target id ``F.cross_entropy`` skips (its default ``ignore_index``).
IGNORE_INDEX = -100
ACTIVATIONS = ("gelu_tanh", "gelu", "relu")
POSITIONS = ("learned", "sinusoidal")


@dataclass(frozen=True)
class GPTConfig:
    """Hyper-parameters of a transformer (the decoder-only :class:`GPT` and the :class:`MaskedLMEncoder`).

    ``d_ff`` defaults to 4 d. ``activation`` is the feed-forward
    non-linearity: ``"gelu_tanh"`` (GELU with the tanh approximation, GPT-2's
    ``gelu_new``), ``"gelu"`` (exact) or ``"relu"``. ``positions`` is
    ``"learned"`` (a trainable (n, d) table) or ``"sinusoidal"`` (fixed).
    ``tie_weights`` makes the output head reuse the token embedding E.
    ``dropout`` applies to the embeddings, the attention weights and each
    sub-layer's output during training.
    """

    vocab_size: int
    n_positions: int
    d_model: int
    n_heads: int
    n_layers: int
    d_ff: int | None = None
    activation: str = "gelu_tanh"
    layer_norm_eps: float = 1e-5
    positions: str = "learned"
    tie_weights: bool = True
    bias: bool = True
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_positions", "d_model", "n_heads", "n_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be a multiple of n_heads={self.n_heads}")
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", 4 * self.d_model)
        if self.d_ff < 1:
            raise ValueError(f"d_ff must be positive, got {self.d_ff}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; expected one of {ACTIVATIONS}")
        if self.positions not in POSITIONS:
            raise ValueError(f"unknown positions {self.positions!r}; expected one of {POSITIONS}")
        if self.positions == "sinusoidal" and self.d_model % 2:
            raise ValueError(f"sinusoidal positions need an even d_model, got {self.d_model}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps}")

    @property
    def d_k(self) -> int:
        """Width of one head, d / h."""
        return self.d_model // self.n_heads

    @classmethod
    def gpt2(cls, vocab_size: int, n_positions: int, d_model: int, n_heads: int, n_layers: int,
             d_ff: int | None = None, dropout: float = 0.0) -> "GPTConfig":
        """GPT-2's choices: GELU (tanh approximation), LayerNorm eps 1e-5, learned positions, tied head, biases."""
        return cls(vocab_size, n_positions, d_model, n_heads, n_layers, d_ff, activation="gelu_tanh",
                   layer_norm_eps=1e-5, positions="learned", tie_weights=True, bias=True, dropout=dropout)

    def to_gpt2_config(self, **extra: Any) -> "GPT2Config":
        """The matching ``transformers.GPT2Config`` (raises if this configuration is not GPT-2's layout).

        ``extra`` is passed on (e.g. ``eos_token_id``). Nothing is downloaded.
        """
        if (self.activation, self.positions, self.tie_weights, self.bias) != ("gelu_tanh", "learned", True, True):
            raise ValueError("only a GPT-2 layout (gelu_tanh, learned positions, tied head, biases) maps onto GPT2Config")
        from transformers import GPT2Config

        kw = dict(vocab_size=self.vocab_size, n_positions=self.n_positions, n_embd=self.d_model,
                  n_layer=self.n_layers, n_head=self.n_heads, n_inner=self.d_ff, activation_function="gelu_new",
                  layer_norm_epsilon=self.layer_norm_eps, resid_pdrop=self.dropout, embd_pdrop=self.dropout,
                  attn_pdrop=self.dropout, tie_word_embeddings=True, bos_token_id=None, eos_token_id=None,
                  pad_token_id=None)
        kw.update(extra)
        return GPT2Config(**kw)

    @classmethod
    def from_gpt2_config(cls, config: "GPT2Config") -> "GPTConfig":
        """The :class:`GPTConfig` of a ``transformers.GPT2Config`` (only ``gelu_new`` activations)."""
        if config.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"activation {config.activation_function!r} has no counterpart here")
        return cls.gpt2(config.vocab_size, config.n_positions, config.n_embd, config.n_head, config.n_layer,
                        config.n_inner, dropout=config.resid_pdrop)


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "gelu":
        return F.gelu(x)
    return F.relu(x)


class FeedForward(nn.Module):
    """Equation (FFN), applied to every position separately: ``down(phi(up(x)))``, d -> d_ff -> d."""

    def __init__(self, d_model: int, d_ff: int, activation: str = "gelu_tanh", *, bias: bool = True,
                 dropout: float = 0.0, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")
        self.activation = activation
        self.up = nn.Linear(d_model, d_ff, bias=bias, device=device, dtype=dtype)
        self.down = nn.Linear(d_ff, d_model, bias=bias, device=device, dtype=dtype)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.down(_activation(self.activation, self.up(x))))


class TransformerBlock(nn.Module):
    """Equation (BLOCK): a pre-LayerNorm block; with ``cross_attention`` also a sub-layer attending to a context."""

    def __init__(self, config: GPTConfig, *, cross_attention: bool = False, d_context: int | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        c = config
        kw = dict(device=device, dtype=dtype)
        self.norm1 = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, **kw)
        self.attn = MultiHeadAttention(c.d_model, c.n_heads, bias=c.bias, dropout=c.dropout, **kw)
        self.cross_attn: MultiHeadAttention | None = None
        if cross_attention:
            self.norm_cross = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, **kw)
            self.cross_attn = MultiHeadAttention(c.d_model, c.n_heads, kdim=d_context, vdim=d_context,
                                                 bias=c.bias, dropout=c.dropout, **kw)
        self.norm2 = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, **kw)
        self.ffn = FeedForward(c.d_model, c.d_ff, c.activation, bias=c.bias, dropout=c.dropout, **kw)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *, cache=None,
                context: torch.Tensor | None = None, context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, n, d) -> (B, n, d); ``mask`` for self-attention, ``context`` (B, m, d_context) for cross-attention."""
        x = x + self.drop(self.attn(self.norm1(x), mask=mask, cache=cache))
        if self.cross_attn is not None:
            if context is None:
                raise ValueError("this block has cross-attention: pass the context (B, m, d_context)")
            x = x + self.drop(self.cross_attn(self.norm_cross(x), context, mask=context_mask))
        elif context is not None:
            raise ValueError("this block has no cross-attention; build it with cross_attention=True")
        return x + self.ffn(self.norm2(x))


def _init_weights(model: nn.Module, n_layers: int) -> None:
    """GPT-2's initialisation: N(0, 0.02) weights, zero biases, residual projections scaled by 1/sqrt(2L)."""
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            std = 0.02 / math.sqrt(2 * n_layers) if name.endswith(("out_proj", "ffn.down")) else 0.02
            nn.init.normal_(module.weight, std=std)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)


def _check_ids(ids: torch.Tensor, vocab_size: int) -> None:
    if ids.dim() != 2 or ids.dtype != torch.long:
        raise ValueError(f"ids must be a (B, n) torch.long tensor, got shape {tuple(ids.shape)} {ids.dtype}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1}")


class GPT(nn.Module):
    """Equation (GPT): a decoder-only transformer language model.

    ``model(ids)`` with ids (B, n) returns logits (B, n, V); position t's
    logits depend on tokens 1..t only (causal mask), so one forward pass
    trains every next-token prediction at once (targets = ids shifted by one).
    ``model(new_ids, cache=cache)`` continues from the positions already in
    the cache (:meth:`new_cache`): the logits equal those of the full
    sequence, at a cost linear instead of quadratic in the length.
    """

    def __init__(self, config: GPTConfig, *, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.config = c = config
        kw = dict(device=device, dtype=dtype)
        self.token_embedding = nn.Embedding(c.vocab_size, c.d_model, **kw)
        self.positions = (LearnedPositions(c.n_positions, c.d_model, **kw) if c.positions == "learned"
                          else SinusoidalPositions(c.d_model))
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(c, **kw) for _ in range(c.n_layers))
        self.final_norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, **kw)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False, **kw)
        _init_weights(self, c.n_layers)
        if c.positions == "learned":
            nn.init.normal_(self.positions.weight, std=0.01)
        if c.tie_weights:
            self.head.weight = self.token_embedding.weight
        if device is not None or dtype is not None:
            self.positions.to(device=device, dtype=dtype)

    def new_cache(self) -> KVCache:
        """An empty :class:`KVCache` with one slot per block."""
        return KVCache(self.config.n_layers)

    def hidden_states(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The final normalised states :math:`\\mathrm{LN}_f(X_L)` (B, n, d) of ``ids`` (B, n)."""
        _check_ids(ids, self.config.vocab_size)
        past = 0 if cache is None else cache.length
        n = ids.shape[1]
        if past + n > self.config.n_positions:
            raise ValueError(f"{past + n} positions exceed the context length n_positions={self.config.n_positions}")
        x = self.token_embedding(ids) + self.positions(n, past).to(self.token_embedding.weight.dtype)
        x = self.drop(x)
        mask = causal_mask(n, past + n, device=ids.device)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, cache=None if cache is None else cache[i])
        return self.final_norm(x)

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (B, n, V) of the next token after each position of ``ids`` (B, n)."""
        return self.head(self.hidden_states(ids, cache))

    def loss(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats per token) of ``targets`` (B, n) given ``ids`` (B, n)."""
        logits = self(ids)
        if targets.shape != ids.shape:
            raise ValueError(f"targets {tuple(targets.shape)} must have the shape of ids {tuple(ids.shape)}")
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @classmethod
    def from_gpt2(cls, hf_model: "GPT2LMHeadModel") -> "GPT":
        """A :class:`GPT` with the configuration and weights of a ``transformers`` ``GPT2LMHeadModel``."""
        p = next(hf_model.parameters())
        model = cls(GPTConfig.from_gpt2_config(hf_model.config), device=p.device, dtype=p.dtype)
        load_gpt2_state_dict(model, hf_model.state_dict())
        return model


# --- GPT-2 weight layout ------------------------------------------------------------------------------------

def _gpt2_pairs(model: GPT) -> list[tuple[str, torch.Tensor, bool]]:
    """(GPT-2 name, our tensor, stored transposed?) for every weight except the stacked ``c_attn``."""
    if model.config.positions != "learned" or not model.config.tie_weights or not model.config.bias:
        raise ValueError("only a GPT-2 layout (learned positions, tied head, biases) has GPT-2 weights")
    pairs = [("transformer.wte.weight", model.token_embedding.weight, False),
             ("transformer.wpe.weight", model.positions.weight, False)]
    for i, b in enumerate(model.blocks):
        p = f"transformer.h.{i}."
        pairs += [(p + "ln_1.weight", b.norm1.weight, False), (p + "ln_1.bias", b.norm1.bias, False),
                  (p + "attn.c_proj.weight", b.attn.out_proj.weight, True),
                  (p + "attn.c_proj.bias", b.attn.out_proj.bias, False),
                  (p + "ln_2.weight", b.norm2.weight, False), (p + "ln_2.bias", b.norm2.bias, False),
                  (p + "mlp.c_fc.weight", b.ffn.up.weight, True), (p + "mlp.c_fc.bias", b.ffn.up.bias, False),
                  (p + "mlp.c_proj.weight", b.ffn.down.weight, True),
                  (p + "mlp.c_proj.bias", b.ffn.down.bias, False)]
    pairs += [("transformer.ln_f.weight", model.final_norm.weight, False),
              ("transformer.ln_f.bias", model.final_norm.bias, False)]
    return pairs


def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our GPT's weights under ``GPT2LMHeadModel``'s names and layout.

    GPT-2 computes its projections with ``Conv1D``, :math:`y = x W + b` with W
    stored (in, out): the transpose of ``nn.Linear``'s (out, in). Its
    ``c_attn`` stacks :math:`W_Q, W_K, W_V` side by side, (d, 3d).
    """
    sd = {name: (t.T if transposed else t) for name, t, transposed in _gpt2_pairs(model)}
    for i, b in enumerate(model.blocks):
        a = b.attn
        sd[f"transformer.h.{i}.attn.c_attn.weight"] = torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).T
        sd[f"transformer.h.{i}.attn.c_attn.bias"] = torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias])
    sd["lm_head.weight"] = model.token_embedding.weight
    return {k: v.detach().clone().contiguous() for k, v in sd.items()}


@torch.no_grad()
def load_gpt2_state_dict(model: GPT, state: dict[str, torch.Tensor]) -> GPT:
    """Copy weights named and laid out as in ``GPT2LMHeadModel`` into ``model`` (the inverse of :func:`gpt2_state_dict`)."""
    expected = gpt2_state_dict(model)
    missing = sorted(set(expected) - set(state) - {"lm_head.weight"})
    if missing:
        raise ValueError(f"the GPT-2 state dict lacks {missing[:5]}")
    for k, v in expected.items():
        if k in state and state[k].shape != v.shape:
            raise ValueError(f"{k}: shape {tuple(state[k].shape)} in the state dict, {tuple(v.shape)} expected")
    for name, tensor, transposed in _gpt2_pairs(model):
        tensor.copy_(state[name].T if transposed else state[name])
    d = model.config.d_model
    for i, b in enumerate(model.blocks):
        w = state[f"transformer.h.{i}.attn.c_attn.weight"].T  # (3d, d): rows of W_Q, W_K, W_V
        bias = state[f"transformer.h.{i}.attn.c_attn.bias"]
        for j, lin in enumerate((b.attn.q_proj, b.attn.k_proj, b.attn.v_proj)):
            lin.weight.copy_(w[j * d:(j + 1) * d])
            lin.bias.copy_(bias[j * d:(j + 1) * d])
    return model


def to_gpt2(model: GPT, **config_extra: Any) -> "GPT2LMHeadModel":
    """A ``transformers`` ``GPT2LMHeadModel`` (eager attention, evaluation mode) holding ``model``'s weights.

    Built from :meth:`GPTConfig.to_gpt2_config` (``config_extra``, e.g.
    ``eos_token_id``, passed on); nothing is downloaded.
    """
    from transformers import GPT2LMHeadModel

    p = model.token_embedding.weight
    cfg = model.config.to_gpt2_config(**config_extra)
    cfg._attn_implementation = "eager"
    hf = GPT2LMHeadModel(cfg).to(device=p.device, dtype=p.dtype)
    hf.load_state_dict(gpt2_state_dict(model), strict=False)
    hf.tie_weights()
    return hf.eval()


# --- counting ---------------------------------------------------------------------------------------------

def _category(name: str) -> str:
    if name.startswith("token_embedding"):
        return "token embedding"
    if name.startswith("positions"):
        return "position embedding"
    if name.startswith("final_norm"):
        return "final layer norm"
    if name.startswith("head") or name.startswith("mlm_"):
        return "output head"
    if ".norm" in name:
        return "block layer norms"
    if ".attn." in name or ".cross_attn." in name:
        return "attention biases" if name.endswith("bias") else "attention weights"
    if ".ffn." in name:
        return "feed-forward"
    return "other"


def parameter_breakdown(model: nn.Module) -> dict[str, int]:
    """Trainable parameters by part: embeddings, attention weights and biases, feed-forward, layer norms, head.

    Shared tensors (the tied head) count once, under the token embedding.
    For one block: attention :math:`4d^2 + 4d`, feed-forward
    :math:`2 d d_{ff} + d_{ff} + d`, two layer norms :math:`4d`.
    """
    counts: dict[str, int] = {}
    for name, p in model.named_parameters():  # named_parameters yields a shared tensor once
        if p.requires_grad:
            key = _category(name)
            counts[key] = counts.get(key, 0) + p.numel()
    return counts


def parameter_count(model: nn.Module, *, layer_norm: bool = True) -> int:
    """All trainable parameters, or without the layer norms' :math:`\\gamma, \\beta` (``layer_norm=False``)."""
    parts = parameter_breakdown(model)
    return sum(v for k, v in parts.items() if layer_norm or "layer norm" not in k)


def kv_cache_bytes(config: GPTConfig, batch_size: int, n: int, dtype: torch.dtype = torch.float32) -> int:
    """Memory of a full KV cache: keys and values, L layers, B sequences, n positions, d numbers each.

    :math:`2 \\cdot L \\cdot B \\cdot n \\cdot d \\cdot \\text{bytes per number}`
    (h heads of :math:`d_k = d/h` put side by side give d per position).
    """
    return 2 * config.n_layers * batch_size * n * config.d_model * torch.empty((), dtype=dtype).element_size()


# --- an encoder for masked-language modelling ---------------------------------------------------------------

@dataclass(frozen=True)
class SpecialTokens:
    """Ids of BERT's special tokens, placed before the ordinary tokens.

    ``[PAD]`` fills short sequences (hidden from attention), ``[UNK]`` stands
    for an unknown token, ``[CLS]`` opens a sequence (its final state
    summarises it for classification), ``[SEP]`` closes a segment, ``[MASK]``
    hides a token the model must predict.
    """

    pad: int = 0
    unk: int = 1
    cls: int = 2
    sep: int = 3
    mask: int = 4

    @property
    def ids(self) -> tuple[int, ...]:
        return (self.pad, self.unk, self.cls, self.sep, self.mask)

    def wrap(self, ids: torch.Tensor) -> torch.Tensor:
        """``[CLS] ids [SEP]`` for each row of ``ids`` (B, n) -> (B, n + 2)."""
        if ids.dim() != 2:
            raise ValueError(f"ids must be (B, n), got {tuple(ids.shape)}")
        b = ids.shape[0]
        cls = torch.full((b, 1), self.cls, dtype=ids.dtype, device=ids.device)
        sep = torch.full((b, 1), self.sep, dtype=ids.dtype, device=ids.device)
        return torch.cat([cls, ids, sep], dim=1)


def mask_tokens(ids: torch.Tensor, vocab_size: int, special: SpecialTokens = SpecialTokens(), *,
                mask_prob: float = 0.15, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: choose ``mask_prob`` of the ordinary tokens; of these 80% -> [MASK], 10% random, 10% kept.

    Returns ``(inputs, targets)``: ``targets`` holds the original id at the
    chosen positions and :data:`IGNORE_INDEX` elsewhere, so the cross-entropy
    scores only the chosen tokens. Special tokens are never chosen; random
    replacements are ordinary tokens. ``ids`` is not modified.
    """
    if not 0.0 < mask_prob < 1.0:
        raise ValueError(f"mask_prob must lie in (0, 1), got {mask_prob}")
    n_special = max(special.ids) + 1
    if vocab_size <= n_special:
        raise ValueError(f"vocab_size={vocab_size} leaves no ordinary tokens after {n_special} special ones")
    dev = generator.device if generator is not None else ids.device

    def u() -> torch.Tensor:
        return torch.rand(ids.shape, generator=generator, device=dev).to(ids.device)

    ordinary = torch.ones_like(ids, dtype=torch.bool)
    for s in special.ids:
        ordinary &= ids != s
    chosen = (u() < mask_prob) & ordinary
    roll = u()
    to_mask = chosen & (roll < 0.8)
    to_random = chosen & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(n_special, vocab_size, ids.shape, generator=generator, device=dev).to(ids.device)
    inputs = torch.where(to_mask, torch.full_like(ids, special.mask), ids)
    inputs = torch.where(to_random, random_ids, inputs)
    targets = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    return inputs, targets


class MaskedLMEncoder(nn.Module):
    """Encoder-only transformer for masked-language modelling (BERT-style), built from the same blocks.

    Attention is bidirectional: every position sees every non-padding
    position. Differences from BERT itself, kept for one code path in the
    book: pre-LayerNorm blocks (BERT is post-LN), no segment embeddings, and the
    MLM head is the tied embedding plus a bias (no extra dense layer).
    ``model(ids)`` returns logits (B, n, V); padding (``special.pad``) is
    hidden from attention.
    """

    def __init__(self, config: GPTConfig, special: SpecialTokens = SpecialTokens(), *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if config.vocab_size <= max(special.ids) + 1:
            raise ValueError("vocab_size must exceed the special tokens' ids")
        self.config = c = replace(config, tie_weights=True)
        self.special = special
        kw = dict(device=device, dtype=dtype)
        self.token_embedding = nn.Embedding(c.vocab_size, c.d_model, **kw)
        self.positions = (LearnedPositions(c.n_positions, c.d_model, **kw) if c.positions == "learned"
                          else SinusoidalPositions(c.d_model))
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(c, **kw) for _ in range(c.n_layers))
        self.final_norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, **kw)
        self.mlm_bias = nn.Parameter(torch.zeros(c.vocab_size, **kw))
        _init_weights(self, c.n_layers)
        if device is not None or dtype is not None:
            self.positions.to(device=device, dtype=dtype)

    def hidden_states(self, ids: torch.Tensor) -> torch.Tensor:
        """Contextual states (B, n, d); row 0 (the [CLS] position) summarises the sequence."""
        _check_ids(ids, self.config.vocab_size)
        n = ids.shape[1]
        if n > self.config.n_positions:
            raise ValueError(f"{n} positions exceed n_positions={self.config.n_positions}")
        x = self.drop(self.token_embedding(ids) + self.positions(n).to(self.token_embedding.weight.dtype))
        mask = padding_mask(ids != self.special.pad)
        for block in self.blocks:
            x = block(x, mask)
        return self.final_norm(x)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.hidden_states(ids) @ self.token_embedding.weight.T + self.mlm_bias

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy at the masked positions only (targets from :func:`mask_tokens`)."""
        logits = self(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)
