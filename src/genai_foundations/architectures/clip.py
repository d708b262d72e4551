r"""A small CLIP for captioned 8x8 digits: word tokenizer, image encoder, text encoder, projections.

* :class:`WordTokenizer` splits a caption on spaces and maps each word to an
  id (0 = padding, 1 = unknown word), padding every caption to ``max_length``.
* :class:`ImageEncoder`: a small CNN (the layout of the digits classifier)
  giving a feature vector :math:`f(x)` per image.
* :class:`TextEncoder`: token and position embeddings, a few pre-norm
  transformer encoder layers (padding masked out), per-token features
  :math:`h_1..h_L`, and their mean over the real tokens :math:`g(c)`.
* :class:`SmallCLIP`: the two encoders plus linear projections
  :math:`u = W_I f(x)`, :math:`v = W_T g(c)` into a shared space of ``embed_dim``
  dimensions, and the loss head: CLIP's temperature
  (:class:`~genai_foundations.algorithms.contrastive.CLIPTemperature`) or SigLIP's
  temperature and bias (:class:`~genai_foundations.algorithms.contrastive.SigLIPHead`).

:func:`train_clip` trains it on :func:`~genai_foundations.data.captions.load_captioned_digits`,
:func:`linear_probe` fits a logistic-regression classifier on frozen image features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.algorithms.contrastive import CLIPTemperature, SigLIPHead
from genai_foundations.runtime import eval_mode

PAD, UNK = "<pad>", "<unk>"


class WordTokenizer:
    """A word-level tokenizer: lower-cased words split on white space, id 0 = ``<pad>``, id 1 = ``<unk>``.

    Build the vocabulary from the training captions with :meth:`fit`; words
    it never saw map to ``<unk>``. :meth:`encode` returns ``(ids, mask)``,
    both (B, max_length), ``mask`` true at real tokens.
    """

    def __init__(self, vocabulary: Sequence[str], max_length: int = 8):
        words = list(vocabulary)
        if words[:2] != [PAD, UNK]:
            words = [PAD, UNK] + [w for w in words if w not in (PAD, UNK)]
        if len(set(words)) != len(words):
            raise ValueError("the vocabulary has repeated words")
        if max_length < 1:
            raise ValueError(f"max_length must be positive, got {max_length}")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.max_length = int(max_length)

    @classmethod
    def fit(cls, captions: Iterable[str], max_length: int = 8) -> "WordTokenizer":
        """A tokenizer whose vocabulary is every word of ``captions`` (sorted, after ``<pad>`` and ``<unk>``)."""
        words = sorted({w for c in captions for w in c.lower().split()})
        return cls([PAD, UNK] + words, max_length)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def pad_id(self) -> int:
        return 0

    def encode(self, captions: str | Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B, max_length) and the mask of real tokens (B, max_length) for a list of captions."""
        if isinstance(captions, str):
            captions = [captions]
        ids = torch.zeros(len(captions), self.max_length, dtype=torch.long)
        for row, text in enumerate(captions):
            tokens = [self.index.get(w, 1) for w in text.lower().split()]
            if not tokens:
                raise ValueError("an empty caption has no tokens")
            if len(tokens) > self.max_length:
                raise ValueError(f"caption {text!r} has {len(tokens)} words, more than max_length={self.max_length}")
            ids[row, : len(tokens)] = torch.tensor(tokens)
        return ids, ids != 0

    def decode(self, ids: torch.Tensor) -> list[str]:
        """The captions of a (B, L) id tensor (padding dropped)."""
        return [" ".join(self.words[i] for i in row.tolist() if i != 0) for row in ids]


class ImageEncoder(nn.Module):
    """Conv(1->32) - Conv(32->64) - max-pool to 4x4 - Conv(64->64) - average-pool: a (B, 64) feature per 8x8 digit."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.out_dim = width

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1:] != (1, 8, 8):
            raise ValueError(f"expected digits of shape (B, 1, 8, 8), got {tuple(x.shape)}")

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map before pooling as a sequence: (B, 16, width), one token per position of the 4x4 grid."""
        self._check(x)
        return self.net[:-2](x).flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.net(x)


class TextEncoder(nn.Module):
    """Token + learned position embeddings, ``depth`` pre-norm transformer layers, a final LayerNorm.

    :meth:`tokens` returns per-token features (B, L, width) (what a
    text-to-image model cross-attends to); :meth:`forward` their mean over
    the real tokens (B, width) (what CLIP projects).
    """

    def __init__(self, vocab_size: int, max_length: int = 8, width: int = 64, depth: int = 2, heads: int = 4):
        super().__init__()
        if width % heads:
            raise ValueError(f"width ({width}) must be a multiple of heads ({heads})")
        self.token = nn.Embedding(vocab_size, width, padding_idx=0)
        self.position = nn.Parameter(torch.randn(max_length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.out_dim = width
        self.max_length = max_length

    def tokens(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-token features (B, L, width); positions where ``mask`` is false are padding."""
        if ids.dim() != 2 or ids.shape != mask.shape or ids.shape[1] > self.max_length:
            raise ValueError(f"ids and mask must be (B, L) with L <= {self.max_length}, "
                             f"got {tuple(ids.shape)} and {tuple(mask.shape)}")
        if not mask.any(dim=1).all():
            raise ValueError("every caption needs at least one real token")
        h = self.token(ids) + self.position[: ids.shape[1]]
        return self.norm(self.layers(h, src_key_padding_mask=~mask))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.tokens(ids, mask)
        weights = mask.to(h.dtype)[..., None]
        return (h * weights).sum(dim=1) / weights.sum(dim=1)


class SmallCLIP(nn.Module):
    """Image encoder + text encoder + linear projections into a shared ``embed_dim`` space, and the loss head.

    ``loss="clip"`` (symmetric cross-entropy with a learnable temperature) or
    ``"siglip"`` (pairwise sigmoid with learnable temperature and bias).
    :meth:`encode_image` and :meth:`encode_text` return *unnormalised*
    embeddings :math:`u, v` (B, embed_dim); :meth:`forward` returns the
    (B, B) logits per image, ``logits[i, j]`` = image i against caption j.
    """

    def __init__(self, vocab_size: int, max_length: int = 8, embed_dim: int = 32, width: int = 64,
                 text_depth: int = 2, heads: int = 4, loss: str = "clip"):
        super().__init__()
        if loss not in ("clip", "siglip"):
            raise ValueError(f"loss must be 'clip' or 'siglip', got {loss!r}")
        self.loss_name = loss
        self.image_encoder = ImageEncoder(width)
        self.text_encoder = TextEncoder(vocab_size, max_length, width, text_depth, heads)
        self.image_projection = nn.Linear(width, embed_dim, bias=False)
        self.text_projection = nn.Linear(width, embed_dim, bias=False)
        self.head = CLIPTemperature() if loss == "clip" else SigLIPHead()
        self.embed_dim = embed_dim

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        """The image encoder's features before the projection (B, width): what a linear probe reads."""
        return self.image_encoder(images)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.image_projection(self.image_encoder(images))

    def encode_text(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.text_projection(self.text_encoder(ids, mask))

    def logit_scale(self) -> torch.Tensor:
        """:math:`e^{s}`, the factor in front of the cosine similarities."""
        return self.head.scale()

    def forward(self, images: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from genai_foundations.algorithms.contrastive import similarity_logits

        logits = similarity_logits(self.encode_image(images), self.encode_text(ids, mask), self.logit_scale())
        if self.loss_name == "siglip":
            logits = logits + self.head.bias
        return logits

    def loss(self, images: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The training loss of a batch of pairs (CLIP's or SigLIP's, as built)."""
        return self.head(self.encode_image(images), self.encode_text(ids, mask))


@dataclass
class CLIPRun:
    """What :func:`train_clip` returns: the model (eval mode), its tokenizer and the loss per step."""

    model: SmallCLIP
    tokenizer: WordTokenizer
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift a batch of digits by up to one pixel (padding with the background value -1)."""
    shift = torch.randint(-1, 2, (2,), generator=generator).tolist()
    return torch.roll(F.pad(x, (1, 1, 1, 1), value=-1.0), shifts=shift, dims=(2, 3))[:, :, 1:-1, 1:-1]


def train_clip(device: torch.device | str = "cpu", steps: int = 600, batch_size: int = 64, lr: float = 2e-3,
               loss: str = "clip", seed: int = 0, embed_dim: int = 32, width: int = 64,
               text_depth: int = 2, siglip_bias: float = -10.0) -> CLIPRun:
    """Train :class:`SmallCLIP` on the training split of the captioned digits (training templates only).

    Adam with a cosine learning-rate decay; each step draws ``batch_size``
    (image, caption) pairs, re-draws each image's caption from the training
    templates (so every image is seen with every template over time) and
    shifts the images by up to one pixel.

    ``siglip_bias``: the initial bias :math:`b` of SigLIP's loss (the paper's -10 by
    default; the temperature starts at the paper's 10).
    """
    import time

    from genai_foundations.data.captions import TRAIN_TEMPLATES, caption, load_captioned_digits
    from genai_foundations.training import batches, fit

    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train = load_captioned_digits("train", seed=seed)
    tokenizer = WordTokenizer.fit(train.captions)
    model = SmallCLIP(len(tokenizer), tokenizer.max_length, embed_dim, width, text_depth, loss=loss).to(device)
    if loss == "siglip":
        with torch.no_grad():
            model.head.bias.fill_(siglip_bias)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    stream = batches(train.images, train.labels, batch_size=batch_size, generator=generator)

    def loss_fn(step: int) -> torch.Tensor:
        x, y = next(stream)
        k = torch.randint(0, len(TRAIN_TEMPLATES), (len(y),), generator=generator)
        ids, mask = tokenizer.encode([caption(int(c), TRAIN_TEMPLATES[int(j)]) for c, j in zip(y, k)])
        return model.loss(_shift(x, generator).to(device), ids.to(device), mask.to(device))

    start = time.perf_counter()
    history = fit(loss_fn, optimizer, steps, desc=f"small CLIP ({loss})", scheduler=scheduler)
    model.eval()
    return CLIPRun(model, tokenizer, history.losses, time.perf_counter() - start)


@torch.no_grad()
def embed_images(model: SmallCLIP, images: torch.Tensor, batch_size: int = 512, projected: bool = True) -> torch.Tensor:
    """Image embeddings :math:`u` (``projected``) or encoder features :math:`f(x)` of many images, on the CPU."""
    device = next(model.parameters()).device
    with eval_mode(model):
        fn = model.encode_image if projected else model.image_features
        return torch.cat([fn(images[i: i + batch_size].to(device)).float().cpu()
                          for i in range(0, len(images), batch_size)])


@torch.no_grad()
def embed_texts(model: SmallCLIP, tokenizer: WordTokenizer, captions: Sequence[str]) -> torch.Tensor:
    """Text embeddings :math:`v` (N, embed_dim) of captions, on the CPU."""
    device = next(model.parameters()).device
    ids, mask = tokenizer.encode(list(captions))
    with eval_mode(model):
        return model.encode_text(ids.to(device), mask.to(device)).float().cpu()


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 test_labels: torch.Tensor, C: float = 1.0) -> float:
    """Test accuracy of a multinomial logistic regression (scikit-learn, L2 strength ``1/C``) on frozen features.

    The features are standardised with the training set's mean and standard
    deviation first. This is the "linear probe" that CLIP's paper compares
    zero-shot classification with: it uses the labels, zero-shot does not.
    """
    from sklearn.linear_model import LogisticRegression

    mean, std = train_features.mean(0), train_features.std(0).clamp_min(1e-6)
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(((train_features - mean) / std).numpy(), train_labels.numpy())
    predicted = clf.predict(((test_features - mean) / std).numpy())
    return float((torch.as_tensor(predicted) == test_labels).float().mean())
