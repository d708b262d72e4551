r"""Contrastive image-text objectives (CLIP, SigLIP) and zero-shot classification by prompts.

Notation (multimodal chapter): a batch of :math:`N` pairs with image
embeddings :math:`u_i` and text embeddings :math:`v_j` (rows of (N, d)
tensors), normalised to unit length :math:`\hat u_i = u_i / \|u_i\|`.

* similarity matrix (SIM): :math:`S_{ij} = \hat u_i^\top \hat v_j` and the logits
  :math:`L = e^{s} S` with a learnable log-temperature :math:`s` (CLIP stores
  :math:`e^{s}` as ``logit_scale``; :func:`similarity_logits`);
* CLIP's symmetric cross-entropy (CLIP): every image must pick its own caption
  among the :math:`N` captions of the batch and every caption its own image,

  .. math:: \mathcal L_{\mathrm{CLIP}} = \frac{1}{2N} \sum_{i=1}^N
            \Big( -\log \frac{e^{L_{ii}}}{\sum_j e^{L_{ij}}} - \log \frac{e^{L_{ii}}}{\sum_j e^{L_{ji}}} \Big)

  (:func:`clip_loss`, :func:`clip_loss_from_embeddings`);
* SigLIP's pairwise sigmoid loss (SIGLIP): each of the :math:`N^2` pairs is a
  binary question "do these belong together?", with label :math:`z_{ij} = 1` on
  the diagonal and :math:`-1` elsewhere, a learnable temperature :math:`e^{s}`
  and a learnable bias :math:`b`,

  .. math:: \mathcal L_{\mathrm{SigLIP}} = -\frac{1}{N} \sum_{i=1}^N \sum_{j=1}^N
            \log \sigma\big(z_{ij} (e^{s} \hat u_i^\top \hat v_j + b)\big)

  (:func:`siglip_loss`; :class:`SigLIPHead` holds :math:`s` and :math:`b`);
* zero-shot classification (ZS): embed one prompt per class ("a photo of the
  digit seven", ...), average the unit prompt embeddings of several templates
  per class and renormalise (prompt ensembling, :func:`class_embeddings`),
  and predict :math:`\arg\max_c \hat u^\top \hat w_c` (:func:`zero_shot_predict`).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _check_pair(image_emb: torch.Tensor, text_emb: torch.Tensor) -> None:
    if image_emb.dim() != 2 or text_emb.dim() != 2:
        raise ValueError(f"embeddings must be (N, d) tensors, got {tuple(image_emb.shape)} and {tuple(text_emb.shape)}")
    if image_emb.shape != text_emb.shape:
        raise ValueError(f"image and text embeddings must have the same shape (N, d), "
                         f"got {tuple(image_emb.shape)} and {tuple(text_emb.shape)}")


def normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Rows scaled to unit Euclidean length, :math:`\\hat u = u / \\max(\\|u\\|, \\epsilon)` (as ``F.normalize``)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def similarity_logits(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor | float = 1.0
                      ) -> torch.Tensor:
    """The (N, M) logits :math:`L_{ij} = e^{s}\\, \\hat u_i^\\top \\hat v_j` (SIM); row i = image i, column j = text j.

    ``logit_scale`` is :math:`e^{s}` (not its log). This is transformers'
    ``logits_per_image``; its ``logits_per_text`` is the transpose.
    """
    if image_emb.dim() != 2 or text_emb.dim() != 2 or image_emb.shape[1] != text_emb.shape[1]:
        raise ValueError(f"embeddings must be (N, d) and (M, d), got {tuple(image_emb.shape)} and {tuple(text_emb.shape)}")
    return logit_scale * normalize(image_emb) @ normalize(text_emb).T


def clip_loss(logits: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric cross-entropy (CLIP) of a square (N, N) logit matrix whose diagonal holds the true pairs.

    The mean of the image-to-text cross-entropy (each row a softmax over
    captions) and the text-to-image one (each column a softmax over images).
    The loss is symmetric in the matrix and its transpose, so it does not
    matter whether rows are images (``logits_per_image``) or texts.
    """
    if logits.dim() != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"logits must be a square (N, N) matrix, got {tuple(logits.shape)}")
    targets = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def clip_loss_from_embeddings(image_emb: torch.Tensor, text_emb: torch.Tensor,
                              logit_scale: torch.Tensor | float) -> torch.Tensor:
    """:func:`clip_loss` of :func:`similarity_logits`: the loss of a batch of N (image, caption) pairs."""
    _check_pair(image_emb, text_emb)
    return clip_loss(similarity_logits(image_emb, text_emb, logit_scale))


def siglip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, log_temperature: torch.Tensor | float,
                bias: torch.Tensor | float) -> torch.Tensor:
    """SigLIP's pairwise sigmoid loss (SIGLIP) of N pairs, summed over the N^2 pairs and divided by N.

    ``log_temperature`` is :math:`s` (the logits are scaled by :math:`e^{s}`),
    ``bias`` is :math:`b`. :math:`-\\log\\sigma(x)` is computed as
    ``softplus(-x)``, which is finite for any logit.
    """
    _check_pair(image_emb, text_emb)
    n = image_emb.shape[0]
    log_temperature = torch.as_tensor(log_temperature, dtype=image_emb.dtype, device=image_emb.device)
    logits = similarity_logits(image_emb, text_emb, log_temperature.exp()) + bias
    signs = 2 * torch.eye(n, dtype=logits.dtype, device=logits.device) - 1          # z_ij: +1 diagonal, -1 off it
    return F.softplus(-signs * logits).sum() / n


class CLIPTemperature(nn.Module):
    """CLIP's learnable temperature: a parameter :math:`s` with :math:`e^{s}` initialised to 1/0.07 and capped at 100."""

    def __init__(self, init_scale: float = 1 / 0.07, max_scale: float = 100.0):
        super().__init__()
        if not 0 < init_scale <= max_scale:
            raise ValueError(f"need 0 < init_scale <= max_scale, got {init_scale}, {max_scale}")
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))
        self.max_log_scale = math.log(max_scale)

    def scale(self) -> torch.Tensor:
        """:math:`e^{s}`, with :math:`s` clamped to ``log(max_scale)`` (CLIP's clipping, as a clamp)."""
        return self.log_scale.clamp(max=self.max_log_scale).exp()

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        return clip_loss_from_embeddings(image_emb, text_emb, self.scale())


class SigLIPHead(nn.Module):
    """SigLIP's learnable temperature and bias, initialised as in the paper: :math:`e^{s} = 10`, :math:`b = -10`.

    The negative bias starts the model from "most pairs do not match", which
    is true for all but N of the N^2 pairs.
    """

    def __init__(self, init_scale: float = 10.0, init_bias: float = -10.0):
        super().__init__()
        if init_scale <= 0:
            raise ValueError(f"init_scale must be positive, got {init_scale}")
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))
        self.bias = nn.Parameter(torch.tensor(float(init_bias)))

    def scale(self) -> torch.Tensor:
        return self.log_scale.exp()

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        return siglip_loss(image_emb, text_emb, self.log_scale, self.bias)


def class_embeddings(prompt_emb: torch.Tensor) -> torch.Tensor:
    """Class embeddings from prompt embeddings (P templates, C classes, d): the mean of unit vectors, renormalised.

    ``prompt_emb`` is (C, d) for one template or (P, C, d) for P templates
    (prompt ensembling); returns (C, d) unit rows.
    """
    if prompt_emb.dim() == 2:
        prompt_emb = prompt_emb[None]
    if prompt_emb.dim() != 3:
        raise ValueError(f"prompt embeddings must be (C, d) or (P, C, d), got {tuple(prompt_emb.shape)}")
    return normalize(normalize(prompt_emb).mean(dim=0))


def zero_shot_predict(image_emb: torch.Tensor, class_emb: torch.Tensor) -> torch.Tensor:
    """Zero-shot labels (ZS): for each image the class whose prompt embedding has the largest cosine similarity.

    ``image_emb`` (N, d), ``class_emb`` (C, d) (one row per class, in class
    order); returns (N,) long class indices.
    """
    if image_emb.dim() != 2 or class_emb.dim() != 2 or image_emb.shape[1] != class_emb.shape[1]:
        raise ValueError(f"need (N, d) image and (C, d) class embeddings, got {tuple(image_emb.shape)} "
                         f"and {tuple(class_emb.shape)}")
    return similarity_logits(image_emb, class_emb).argmax(dim=1)


def retrieval_accuracy(logits: torch.Tensor) -> tuple[float, float]:
    """Top-1 accuracy of image-to-text and text-to-image retrieval in a square logit matrix (diagonal = truth)."""
    if logits.dim() != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"logits must be a square (N, N) matrix, got {tuple(logits.shape)}")
    truth = torch.arange(logits.shape[0], device=logits.device)
    return (float((logits.argmax(dim=1) == truth).float().mean()),
            float((logits.argmax(dim=0) == truth).float().mean()))
