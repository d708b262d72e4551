r"""Autoencoder and VAE networks (chapter 5): MLPs, and the convolutional VAE of the course notes' table.

* :class:`MLPAutoencoder`: a deterministic encoder :math:`z = f_\phi(x)` and decoder
  :math:`\hat x = g_\theta(z)` (``variational = False``),
* :class:`MLPVAE`: the encoder outputs :math:`(\mu_\phi(x), \log\sigma^2_\phi(x))` of
  :math:`q_\phi(z|x)`, the decoder the parameters of :math:`p_\theta(x|z)` (Bernoulli logits or a
  Gaussian mean),
* :class:`ConvVAE`: the convolutional VAE for 32x32x3 face images of the course notes
  (after Foster's *Generative Deep Learning*): four stride-2 3x3 convolutions with 128 filters,
  batch normalisation and leaky ReLU, dense layers to the 200-dimensional :math:`\mu` and
  :math:`\log\sigma^2`, and a mirror-image decoder of transposed convolutions;
  :func:`layer_table` lists its layers with the parameter counts of the notes' table.

Every model has ``encode(x)``, ``decode(z)`` and ``forward(x)``; the VAEs' ``encode`` returns
``(mu, logvar)`` and their ``forward`` returns ``(output, mu, logvar)`` with one reparameterised
draw, as :mod:`genai_foundations.algorithms.vae` expects. The spatial-latent VAE of the
latent-diffusion chapter is :class:`genai_foundations.algorithms.vae.SpatialVAE`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from genai_foundations.algorithms.vae import reparameterize


def _mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.SiLU) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def _check_sizes(data_dim: int, hidden: Sequence[int], latent_dim: int) -> tuple[int, ...]:
    hidden = tuple(int(h) for h in hidden)
    if data_dim < 1 or latent_dim < 1 or any(h < 1 for h in hidden):
        raise ValueError(f"data_dim, latent_dim and the hidden widths must be positive, got "
                         f"{data_dim}, {latent_dim}, {hidden}")
    return hidden


class MLPAutoencoder(nn.Module):
    """A deterministic autoencoder: ``encode`` (B, data_dim) -> (B, latent_dim), ``decode`` back.

    Inputs of any shape (B, ...) are flattened; ``decode`` returns (B, data_dim), reshape it as
    needed. The decoder's output is unbounded (Bernoulli logits or a Gaussian mean).
    """

    variational = False

    def __init__(self, data_dim: int, hidden: Sequence[int] = (256, 128), latent_dim: int = 3):
        super().__init__()
        hidden = _check_sizes(data_dim, hidden, latent_dim)
        self.data_dim, self.latent_dim = int(data_dim), int(latent_dim)
        self.encoder = _mlp([data_dim, *hidden, latent_dim])
        self.decoder = _mlp([latent_dim, *reversed(hidden), data_dim])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.data_dim:
            raise ValueError(f"expected inputs with {self.data_dim} numbers each, got {x.shape[1]}")
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected codes of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class _VectorLatentVAE(nn.Module):
    """What the two VAEs with a vector latent share: ``decode`` checks the code's shape and runs
    ``self.decoder``; ``forward`` draws z = mu + sigma * eps (reparameterisation) from ``self.encode(x)``
    and returns (decoded z, mu, logvar). Subclasses define ``encode``, ``decoder`` and ``latent_dim``."""

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected codes of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator=generator)), mu, logvar


class MLPVAE(_VectorLatentVAE):
    r"""A VAE with MLP encoder and decoder: ``encode`` -> ``(mu, logvar)`` (B, latent_dim) each.

    The encoder's last layer outputs :math:`2d` numbers, split into :math:`\mu` and
    :math:`\log\sigma^2`; ``logvar`` is clamped to [-30, 20]. ``decode`` returns (B, data_dim):
    Bernoulli logits or a Gaussian mean, unbounded. ``forward(x, generator=None)`` returns
    ``(output, mu, logvar)`` for one reparameterised draw.
    """

    variational = True

    def __init__(self, data_dim: int, hidden: Sequence[int] = (256, 128), latent_dim: int = 8):
        super().__init__()
        hidden = _check_sizes(data_dim, hidden, latent_dim)
        self.data_dim, self.latent_dim = int(data_dim), int(latent_dim)
        self.encoder = _mlp([data_dim, *hidden, 2 * latent_dim])
        self.decoder = _mlp([latent_dim, *reversed(hidden), data_dim])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.flatten(1)
        if x.shape[1] != self.data_dim:
            raise ValueError(f"expected inputs with {self.data_dim} numbers each, got {x.shape[1]}")
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)



class ConvVAE(_VectorLatentVAE):
    r"""The course notes' convolutional VAE (32x32x3 faces, latent dimension 200).

    Encoder: ``num_layers`` blocks of [3x3 convolution with stride 2 and padding 1 -> BatchNorm ->
    LeakyReLU], halving the resolution each time (32 -> 16 -> 8 -> 4 -> 2), then flatten
    (128 x 2 x 2 = 512 numbers) and two dense layers to :math:`\mu` and :math:`\log\sigma^2`.
    Decoder: dense 200 -> 512, BatchNorm, LeakyReLU, reshape to 128 x 2 x 2, ``num_layers`` blocks of
    [3x3 transposed convolution with stride 2 (padding 1, output padding 1) -> BatchNorm -> LeakyReLU]
    doubling the resolution back to 32, and a last 3x3 transposed convolution with stride 1 to
    ``in_channels``. The output is unbounded (apply a sigmoid for images in [0, 1]).
    """

    variational = True

    def __init__(self, in_channels: int = 3, image_size: int = 32, channels: int = 128, num_layers: int = 4,
                 latent_dim: int = 200, negative_slope: float = 0.2):
        super().__init__()
        if num_layers < 1 or image_size % 2**num_layers:
            raise ValueError(f"image_size must be divisible by 2**num_layers = {2 ** num_layers}, got {image_size}")
        if min(in_channels, channels, latent_dim) < 1:
            raise ValueError("in_channels, channels and latent_dim must be positive")
        self.in_channels, self.image_size, self.latent_dim = in_channels, image_size, latent_dim
        self.bottom = (channels, image_size // 2**num_layers, image_size // 2**num_layers)
        flat = channels * self.bottom[1] * self.bottom[2]
        enc: list[nn.Module] = []
        for i in range(num_layers):
            enc += [nn.Conv2d(in_channels if i == 0 else channels, channels, 3, stride=2, padding=1),
                    nn.BatchNorm2d(channels), nn.LeakyReLU(negative_slope)]
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self.to_mu = nn.Linear(flat, latent_dim)
        self.to_logvar = nn.Linear(flat, latent_dim)
        dec: list[nn.Module] = [nn.Linear(latent_dim, flat), nn.BatchNorm1d(flat), nn.LeakyReLU(negative_slope),
                                nn.Unflatten(1, self.bottom)]
        for _ in range(num_layers):
            dec += [nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1, output_padding=1),
                    nn.BatchNorm2d(channels), nn.LeakyReLU(negative_slope)]
        dec.append(nn.ConvTranspose2d(channels, in_channels, 3, stride=1, padding=1))
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images of shape (B, {expected[0]}, {expected[1]}, {expected[2]}), "
                             f"got {tuple(x.shape)}")
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h).clamp(-30.0, 20.0)



def layer_parameters(module: nn.Module, count_statistics: bool = True) -> int:
    """Parameters of one layer; with ``count_statistics`` a BatchNorm layer also counts its running mean and
    variance (as Keras' summaries do: 4 numbers per channel, of which 2 are trained)."""
    n = sum(p.numel() for p in module.parameters(recurse=False))
    if count_statistics and isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
        n += module.running_mean.numel() + module.running_var.numel()
    return n


def layer_table(model: ConvVAE, count_statistics: bool = True) -> dict[str, list[tuple[str, tuple[int, ...], int]]]:
    """The layers of a :class:`ConvVAE` as ``{"encoder": rows, "decoder": rows}``, each row
    ``(layer type, output shape without the batch, parameters)``, measured with forward hooks.

    Shapes are written channels-first as PyTorch holds them; the parameter counts follow
    :func:`layer_parameters` (BatchNorm with its running statistics when ``count_statistics``).
    """
    rows: dict[str, list[tuple[str, tuple[int, ...], int]]] = {"encoder": [], "decoder": []}
    hooks = []

    def watch(part: str, layer: nn.Module, name: str):
        def hook(module, inputs, output):
            rows[part].append((name, tuple(output.shape[1:]), layer_parameters(module, count_statistics)))
        hooks.append(layer.register_forward_hook(hook))

    for layer in model.encoder:
        watch("encoder", layer, type(layer).__name__)
    watch("encoder", model.to_mu, "Linear (mu)")
    watch("encoder", model.to_logvar, "Linear (logvar)")
    for layer in model.decoder:
        watch("decoder", layer, type(layer).__name__)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            x = torch.zeros(1, model.in_channels, model.image_size, model.image_size, device=device)
            mu, _ = model.encode(x)
            model.decode(mu)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return rows
