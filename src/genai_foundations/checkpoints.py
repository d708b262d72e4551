"""Small trained models shared between chapters and exercises, committed as ``safetensors``.

Some chapters need a model that another part of the course trains: the
diffusion chapters measure their samples with the 8x8 digits classifier, a
later chapter fine-tunes a small GPT, an exercise assembles the student's
functions around a trained denoiser. A chapter never reads another chapter's
output files (notebooks run in parallel, in any order, one at a time for a
student) and never silently trains a weaker substitute. Instead:

* each shared model is a committed checkpoint in ``genai_foundations/checkpoints/``:
  ``<name>.safetensors`` (the weights, loaded without pickle) and ``<name>.json``
  (what rebuilds the model, the metric it reached, the seed, the package version
  and the command that regenerates it);
* :data:`REGISTRY` maps every checkpoint name to the package function that trains
  it deterministically (seeded, on the CPU, with one thread) and to the function
  that measures its metric;
* ``make checkpoints`` (``tools/make_checkpoints.py``) regenerates them all with
  :func:`regenerate`;
* ``tests/unit/test_checkpoints.py`` loads each committed checkpoint and checks
  that it reproduces its recorded metric.

A chapter uses one with ``model = load_checkpoint("digits-classifier", device=run.device)``.

The JSON file (``SCHEMA_VERSION`` 1)::

    {
     "schema_version": 1,
     "name": "digits-classifier",
     "description": "...",
     "model_class": "genai_foundations.architectures.classifiers.DigitsClassifier",
     "model_kwargs": {"num_classes": 10, "feature_dim": 64},
     "seed": 0,
     "training": {"function": "...train_digits_classifier", "kwargs": {"steps": 600, ...},
                  "device": "cpu", "threads": 1},
     "metric": {"test_accuracy": 0.9778, "test_loss": 0.08},
     "metric_tolerance": {"test_accuracy": 1e-06, "test_loss": 1e-05},
     "parameters": 60554,
     "weights_file": "digits-classifier.safetensors",
     "weights_sha256": "...",          (tensors_sha256 of the weights: names, dtypes, shapes, bytes)
     "package_version": "0.1.0",
     "torch_version": "2.x",
     "command": "make checkpoints"
    }
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

SCHEMA_VERSION = 1
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PACKAGE = "genai_foundations"
MAX_FILE_BYTES = 5 * 2**20  # a few MB per checkpoint, tens of MB in all


class CheckpointError(RuntimeError):
    """A checkpoint's files exist but do not describe a loadable model (says what is wrong and how to fix it)."""


@dataclass(frozen=True)
class CheckpointSpec:
    """One shared model: how to train it, how to measure it, and who uses it.

    ``train()`` returns ``(model, config)`` with ``config`` as :func:`save_checkpoint`
    expects it; it must be deterministic: it seeds itself with ``config["seed"]`` and
    :func:`regenerate` calls it on the CPU with one thread. ``evaluate(model)``
    returns the metric dict that the checkpoint records and the test reproduces
    within ``tolerance``.
    """

    name: str
    description: str
    train: Callable[[], tuple[nn.Module, dict[str, Any]]]
    evaluate: Callable[[nn.Module], dict[str, float]]
    tolerance: dict[str, float]
    used_by: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------------------------------------------
# The registered checkpoints
# ---------------------------------------------------------------------------------------------------------------
_DIGITS_TRAINING = {"steps": 600, "seed": 0, "batch_size": 128, "lr": 3e-3}


def _train_digits_classifier() -> tuple[nn.Module, dict[str, Any]]:
    from genai_foundations.architectures.classifiers import train_digits_classifier

    model, _ = train_digits_classifier("cpu", **_DIGITS_TRAINING)
    config = {"model_kwargs": {"num_classes": model.head.out_features, "feature_dim": model.project.out_features},
              "seed": _DIGITS_TRAINING["seed"],
              "training": {"function": f"{train_digits_classifier.__module__}.{train_digits_classifier.__name__}",
                           "kwargs": dict(_DIGITS_TRAINING), "device": "cpu", "threads": 1}}
    return model, config


@torch.no_grad()
def digits_classifier_metrics(model: nn.Module) -> dict[str, float]:
    """Accuracy and mean cross-entropy (nats) on the fixed test split of the 8x8 digits (360 images)."""
    from genai_foundations.data.digits import load_digits

    test = load_digits("test")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        logits = model(test.images.to(device)).float().cpu()
    finally:
        model.train(was_training)
    return {"test_accuracy": float((logits.argmax(dim=1) == test.labels).double().mean()),
            "test_loss": float(torch.nn.functional.cross_entropy(logits.double(), test.labels))}


# Every shared checkpoint, by name. Add an entry here, then run `python tools/make_checkpoints.py NAME`.
REGISTRY: dict[str, CheckpointSpec] = {
    entry.name: entry
    for entry in [
        CheckpointSpec(
            name="digits-classifier",
            description="DigitsClassifier (architectures.classifiers) trained on the 8x8 digits' train split: "
                        "the feature space of the diffusion chapters' Frechet distance and the judge of their "
                        "class-conditional samples. Metric: test split (360 images).",
            train=_train_digits_classifier,
            evaluate=digits_classifier_metrics,
            tolerance={"test_accuracy": 1e-6, "test_loss": 1e-5},
            used_by=("ddpm", "flow-matching"),
        ),
        CheckpointSpec(
            name="digits-pixelcnn",
            description="Chapter 13's binary PixelCNN (architectures.pixelcnn, section 13.12's configuration) "
                        "trained on the binarized 8x8 digits' train split: the autoregressive row of the VAE "
                        "chapter's likelihood table. Metric: test split (360 images), nats and bits/dim.",
            # lazy imports: the training code lives in architectures/pixelcnn.py
            train=lambda: importlib.import_module(f"{_PACKAGE}.architectures.pixelcnn").digits_pixelcnn_checkpoint(),
            evaluate=lambda model: importlib.import_module(f"{_PACKAGE}.architectures.pixelcnn")
            .digits_pixelcnn_metrics(model),
            tolerance={"test_nll_nats": 1e-4, "test_bits_per_dim": 1e-6},
            used_by=("vae",),
        ),
        CheckpointSpec(
            name="mnist-classifier",
            description="MNISTClassifier (architectures.classifiers) trained on the 28x28 MNIST subset's train split "
                        "(data.mnist.load_mnist_split, 4,000 images): the feature space of the 28x28 Frechet "
                        "distance (evaluation.frechet.MNISTFrechet). Metric: test split (1,000 images).",
            train=lambda: importlib.import_module("genai_foundations.architectures.classifiers")
                          .mnist_classifier_checkpoint(),
            evaluate=lambda model: importlib.import_module("genai_foundations.architectures.classifiers")
                                   .mnist_classifier_metrics(model),
            tolerance={"test_accuracy": 1e-6, "test_loss": 1e-5},
            used_by=("latent-diffusion", "vit-dit", "multimodal"),
        ),
        CheckpointSpec(
            name="mnist-autoencoder",
            description="SpatialVAE (algorithms.vae; 1x28x28 -> 4x7x7 latents) trained on the MNIST subset's train "
                        "split as Stable Diffusion's KL-regularised first stage (algorithms.latent_diffusion."
                        "train_mnist_autoencoder): the autoencoder of latent diffusion (chapter 6) and of the DiT "
                        "(chapter 17). Metric: reconstruction of the test split (1,000 images) through the mean "
                        "latent: MSE, PSNR, and the Frechet distance in the mnist-classifier's features.",
            train=lambda: importlib.import_module("genai_foundations.algorithms.latent_diffusion")
                          .mnist_autoencoder_checkpoint(),
            evaluate=lambda model: importlib.import_module("genai_foundations.algorithms.latent_diffusion")
                                   .autoencoder_metrics(model),
            tolerance={"test_mse": 1e-6, "test_psnr": 1e-4, "test_frechet": 1e-3},
            used_by=("latent-diffusion", "vit-dit"),
        ),
        CheckpointSpec(
            name="docs-lstm",
            description="Chapter 15's RecurrentLanguageModel (architectures.recurrent; one LSTM layer, H = 256, "
                        "run by torch.nn.LSTM) trained on the training part of the book's split "
                        "(data.python_docs.python_docs_split) with algorithms.char_lm.train_char_model: the LSTM "
                        "row of chapter 7's table of character models. Metric: the split's validation part, "
                        "char_lm.validation_nats in windows of 128 characters (nats and bits per character).",
            # lazy imports: the training code lives in architectures/recurrent.py
            train=lambda: importlib.import_module(f"{_PACKAGE}.architectures.recurrent").docs_lstm_checkpoint(),
            evaluate=lambda model: importlib.import_module(f"{_PACKAGE}.architectures.recurrent")
            .docs_lstm_metrics(model),
            tolerance={"val_nats_per_char": 1e-5, "val_bits_per_char": 1e-5},
            used_by=("autoregressive", "rnn"),
        ),
        # (rnn chapter's entries go here)
        # (autoregressive chapter's entries go here)
        CheckpointSpec(
            name="docs-gpt",
            description="Chapter 16's GPT (GPT-2 layout, d = 128, 4 heads, 2 blocks, d_ff = 512, context 128; "
                        "algorithms.char_lm.CharGPT) trained on the training part of the book's split with chapter "
                        "7's recipe (algorithms.char_lm.GPT_RECIPE: 1,200 AdamW steps of 32 windows, one-cycle "
                        "learning rate peaking at 6e-3): the GPT row of chapter 7's table, and the pretrained model "
                        "of later chapters. Metric: the split's validation part, char_lm.validation_nats in windows "
                        "of 128 characters (nats and bits per character).",
            # lazy imports: the training code lives in algorithms/char_lm.py
            train=lambda: importlib.import_module(f"{_PACKAGE}.algorithms.char_lm").docs_gpt_checkpoint(),
            evaluate=lambda model: importlib.import_module(f"{_PACKAGE}.algorithms.char_lm").docs_gpt_metrics(model),
            tolerance={"val_nats_per_char": 1e-5, "val_bits_per_char": 1e-5},
            used_by=("autoregressive",),
        ),
        # (fine-tuning chapter's entries go here)
        CheckpointSpec(
            name="gpt-docs-no-examples",
            description="Chapter 16's GPT (d=64, 4 heads, 2 blocks, context 128; algorithms.char_lm.CharGPT) "
                        "trained on the book's training part with every interactive-example line ('>>>', '...') "
                        "removed (algorithms.fine_tuning.pretrain_gpt): the pretrained model that the fine-tuning "
                        "chapter adapts to the examples, and its distillation teacher. Metric: nats/char on the "
                        "validation part and on the validation part's example lines.",
            train=lambda: importlib.import_module(f"{_PACKAGE}.algorithms.fine_tuning").pretrained_gpt_checkpoint(),
            evaluate=lambda model: importlib.import_module(f"{_PACKAGE}.algorithms.fine_tuning")
            .pretrained_gpt_metrics(model),
            tolerance={"val_nats": 1e-4, "examples_val_nats": 1e-4},
            used_by=("fine-tuning",),
        ),
        # (deep-rl chapter's entries go here)
        CheckpointSpec(
            name="cartpole-ppo",
            description="CategoricalPolicy (rl.networks; 4 -> 64 -> 64 -> 2, tanh) trained by PPO-clip (rl.ppo.train_ppo, "
                        "100k CartPole-v1 steps, seed 0): the expert of behaviour cloning and DAgger in chapter 25. "
                        "Metric: greedy returns on 10 episodes seeded 10000..10009 (500 is the maximum).",
            train=lambda: importlib.import_module(f"{_PACKAGE}.rl.ppo").cartpole_ppo_checkpoint(),
            evaluate=lambda model: importlib.import_module(f"{_PACKAGE}.rl.ppo").cartpole_ppo_metrics(model),
            tolerance={"mean_return": 1e-6, "min_return": 1e-6},
            used_by=("deep-rl", "rlhf-imitation"),
        ),
        # (robustness-evaluation chapter's entries go here)
    ]
}


# ---------------------------------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------------------------------
def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"a checkpoint name is lower-case letters, digits and '-', e.g. 'digits-classifier'; got {name!r}")


def _folder(folder: str | os.PathLike | None) -> Path:
    return CHECKPOINT_DIR if folder is None else Path(folder)


def known_checkpoints(folder: str | os.PathLike | None = None) -> list[str]:
    """The names that :func:`load_checkpoint` knows: the registry's and any saved in ``folder``."""
    path = _folder(folder)
    saved = {p.stem for p in path.glob("*.json")} if path.is_dir() else set()
    return sorted(saved | (set(REGISTRY) if folder is None else set()))


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of named tensors (names, dtypes, shapes and bytes, in name order): the weights' fingerprint.

    It does not depend on the order of the safetensors header, which the library does not fix.
    """
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _read_tensors(name: str, weights: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(weights), device="cpu")
    except Exception as error:  # safetensors raises its own error type for a file it cannot parse
        raise CheckpointError(f"checkpoint {name!r}: {weights.name} is not a readable safetensors file "
                              f"(a Git LFS pointer or a truncated file?): {error}; "
                              "run `git lfs pull` or `make checkpoints`") from None


def _jsonable(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON-serialisable with finite numbers: {error}") from None


def save_checkpoint(name: str, model: nn.Module, metric: dict[str, float], config: dict[str, Any], *,
                    folder: str | os.PathLike | None = None, description: str | None = None,
                    tolerance: dict[str, float] | None = None, command: str = "make checkpoints") -> dict[str, Any]:
    """Write ``<name>.safetensors`` (the weights) and ``<name>.json`` (how to rebuild it) and return the JSON dict.

    ``config`` holds ``model_kwargs`` (the keyword arguments that rebuild the
    model: ``type(model)(**model_kwargs)``), ``seed`` (the training seed) and,
    optionally, ``training`` (the training function, its arguments, device and
    threads). ``metric`` maps metric names to the values the model reached.
    The model's class must live in the package, so that loading never imports
    anything else. Files go to the package's ``checkpoints/`` folder unless
    ``folder`` is given.
    """
    from safetensors.torch import save_model

    import genai_foundations

    _check_name(name)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    model_class = f"{type(model).__module__}.{type(model).__qualname__}"
    if not model_class.startswith(_PACKAGE + "."):
        raise ValueError(f"only models defined in the {_PACKAGE} package can be checkpointed, got {model_class}")
    missing = {"model_kwargs", "seed"} - set(config)
    if missing:
        raise ValueError(f"config lacks {sorted(missing)}: it must say how to rebuild the model and which seed trained it")
    if not isinstance(metric, dict) or not metric:
        raise ValueError("metric must be a non-empty dict of name -> value (the number the test reproduces)")
    for key, value in metric.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"metric {key!r} must be a finite number, got {value!r}")
    tolerance = dict(tolerance) if tolerance is not None else {key: 1e-6 for key in metric}
    if set(tolerance) != set(metric):
        raise ValueError(f"tolerance must name the same metrics as metric: {sorted(tolerance)} vs {sorted(metric)}")

    path = _folder(folder)
    path.mkdir(parents=True, exist_ok=True)
    weights = path / f"{name}.safetensors"
    state = model.state_dict()
    save_model(model, str(weights), metadata={"name": name})  # one key: the header's key order is not fixed
    size = weights.stat().st_size
    if size > MAX_FILE_BYTES:
        weights.unlink()
        raise ValueError(f"checkpoint {name!r} would be {size / 2**20:.1f} MB; shared checkpoints stay under "
                         f"{MAX_FILE_BYTES / 2**20:.0f} MB (use a smaller model)")
    info = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "description": description or "",
        "model_class": model_class,
        "model_kwargs": _jsonable(config["model_kwargs"], "config['model_kwargs']"),
        "seed": config["seed"],
        "training": _jsonable(config.get("training", {}), "config['training']"),
        "metric": {k: float(v) for k, v in metric.items()},
        "metric_tolerance": {k: float(v) for k, v in tolerance.items()},
        "parameters": sum(int(v.numel()) for v in state.values()),
        "weights_file": weights.name,
        "weights_sha256": tensors_sha256(_read_tensors(name, weights)),
        "package_version": genai_foundations.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "command": command,
    }
    tmp = path / f"{name}.json.tmp"
    tmp.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path / f"{name}.json")
    return info


def checkpoint_info(name: str, folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """The JSON record of checkpoint ``name`` (recorded metric, seed, training settings...), validated."""
    _check_name(name)
    path = _folder(folder)
    file = path / f"{name}.json"
    if not file.exists():
        known = known_checkpoints(folder)
        if name in REGISTRY and folder is None:
            raise FileNotFoundError(f"checkpoint {name!r} is registered but {file} is missing; "
                                    "run `make checkpoints` to regenerate it")
        raise ValueError(f"unknown checkpoint {name!r}; known checkpoints: {', '.join(known) or '(none)'}")
    info = json.loads(file.read_text(encoding="utf-8"))
    if info.get("schema_version") != SCHEMA_VERSION:
        raise CheckpointError(f"{file}: expected schema_version {SCHEMA_VERSION}, got {info.get('schema_version')!r}")
    missing = {"name", "model_class", "model_kwargs", "seed", "metric", "weights_file", "weights_sha256",
               "package_version", "command"} - set(info)
    if missing:
        raise CheckpointError(f"{file}: missing keys {sorted(missing)}")
    if info["name"] != name:
        raise CheckpointError(f"{file} describes checkpoint {info['name']!r}, not {name!r}")
    return info


def _model_class(path: str) -> type[nn.Module]:
    if not path.startswith(_PACKAGE + "."):
        raise CheckpointError(f"model_class {path!r} is not in the {_PACKAGE} package; refusing to import it")
    module_name, _, attribute = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise CheckpointError(f"model_class {path!r} no longer exists in the package ({error}); "
                              "run `make checkpoints` to regenerate the checkpoint") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise CheckpointError(f"model_class {path!r} is not a torch.nn.Module")
    return cls


def load_checkpoint(name: str, device: str | torch.device = "cpu", *,
                    folder: str | os.PathLike | None = None) -> nn.Module:
    """Rebuild checkpoint ``name`` from its JSON record, load its weights (safetensors, no pickle), return it in eval mode.

    Raises ``ValueError`` for an unknown name (listing the known ones),
    ``FileNotFoundError`` when a registered checkpoint's files are missing, and
    :class:`CheckpointError` when the files do not match (a changed class, a
    weights file that is not the recorded one, such as a Git LFS pointer).
    """
    from safetensors.torch import load_model

    info = checkpoint_info(name, folder)
    weights = _folder(folder) / info["weights_file"]
    if not weights.exists():
        raise FileNotFoundError(f"checkpoint {name!r}: {weights} is missing; run `make checkpoints` to regenerate it")
    digest = tensors_sha256(_read_tensors(name, weights))
    if digest != info["weights_sha256"]:
        raise CheckpointError(f"checkpoint {name!r}: {weights.name} holds other weights than its record describes "
                              f"(sha256 {digest[:12]}... instead of {info['weights_sha256'][:12]}...); "
                              "regenerate both files with `make checkpoints`")
    model = _model_class(info["model_class"])(**info["model_kwargs"])
    try:
        load_model(model, str(weights), strict=True, device="cpu")
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint {name!r} does not fit {info['model_class']}(**{info['model_kwargs']}): "
                              f"{error}; run `make checkpoints` to regenerate it") from None
    return model.to(torch.device(device)).eval()


# ---------------------------------------------------------------------------------------------------------------
# Regenerating and checking
# ---------------------------------------------------------------------------------------------------------------
def spec(name: str) -> CheckpointSpec:
    """The registry entry of ``name`` (a clear error for an unknown name)."""
    _check_name(name)
    if name not in REGISTRY:
        raise ValueError(f"unknown checkpoint {name!r}; registered checkpoints: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def regenerate(name: str, *, folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train checkpoint ``name`` with its registered function (CPU, one thread, seeded), measure it, save it."""
    entry = spec(name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, config = entry.train()  # seeds itself (config["seed"])
        metric = entry.evaluate(model.cpu())
    finally:
        torch.set_num_threads(threads)
    command = f"make checkpoints  (one model: python tools/make_checkpoints.py {name})"
    return save_checkpoint(name, model.cpu(), metric, config, folder=folder, description=entry.description,
                           tolerance=entry.tolerance, command=command)


def measure(name: str, device: str | torch.device = "cpu", *,
            folder: str | os.PathLike | None = None) -> dict[str, tuple[float, float, float]]:
    """Load checkpoint ``name`` and measure its metric again: ``{metric: (recorded, measured, tolerance)}``."""
    info = checkpoint_info(name, folder)
    measured = spec(name).evaluate(load_checkpoint(name, device, folder=folder))
    tolerance = info.get("metric_tolerance", {})
    return {key: (info["metric"][key], measured[key], tolerance.get(key, 1e-6)) for key in info["metric"]}
