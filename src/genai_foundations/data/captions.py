"""Captioned digits: the 8x8 digits paired with short English captions, for the multimodal chapter.

Every image of :func:`genai_foundations.data.digits.load_digits` gets a caption
built from a *template* and the digit's number word, e.g. ``"a handwritten seven"``
from ``"a handwritten {}"``. The templates come in two fixed groups:

* :data:`TRAIN_TEMPLATES` (six templates) caption the training images;
* :data:`TEST_TEMPLATES` (three templates) are held out: no training caption
  uses them, but every word they contain occurs in the training captions
  (:func:`check_vocabulary_covered` asserts it), so a model that has learned
  what the words mean can read them.

The splits are fixed and documented:

* ``"train"``: the digits' training split (1,437 images), each image with one
  training template drawn by a generator seeded with ``seed`` (default 0);
  the template index is returned, so the pairing is reproducible;
* ``"test"``: the digits' test split (360 images), each image with one
  held-out template (drawn the same way): the pairs that zero-shot
  classification and retrieval are measured on.

Captions are plain strings; :class:`genai_foundations.architectures.clip.WordTokenizer`
turns them into token ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genai_foundations.data.digits import load_digits

NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

TRAIN_TEMPLATES: tuple[str, ...] = (
    "a handwritten {}",
    "the digit {}",
    "a photo of the number {}",
    "an image of the digit {}",
    "a blurry {}",
    "a small drawing of the digit {}",
)

TEST_TEMPLATES: tuple[str, ...] = (
    "a photo of the digit {}",
    "an image of a handwritten {}",
    "a blurry drawing of the number {}",
)


def caption(label: int, template: str) -> str:
    """The caption of a digit ``label`` (0..9) with ``template`` (a string with one ``{}``)."""
    if not 0 <= int(label) <= 9:
        raise ValueError(f"label must be a digit 0..9, got {label}")
    if template.count("{}") != 1:
        raise ValueError(f"a template has exactly one '{{}}' for the number word, got {template!r}")
    return template.format(NUMBER_WORDS[int(label)])


def class_prompts(template: str) -> list[str]:
    """The ten captions of one template, one per class (0..9): the prompts of zero-shot classification."""
    return [caption(label, template) for label in range(10)]


def template_words(templates: tuple[str, ...] | list[str]) -> set[str]:
    """Every word the captions of ``templates`` can contain (the templates' words plus the ten number words)."""
    words = set(NUMBER_WORDS)
    for template in templates:
        words.update(template.replace("{}", " ").split())
    return words


def check_vocabulary_covered() -> None:
    """Raise ``AssertionError`` unless every word of the held-out templates occurs in a training template."""
    missing = template_words(TEST_TEMPLATES) - template_words(TRAIN_TEMPLATES)
    overlap = set(TRAIN_TEMPLATES) & set(TEST_TEMPLATES)
    assert not missing, f"held-out words never seen in training: {sorted(missing)}"
    assert not overlap, f"templates in both groups: {sorted(overlap)}"


@dataclass(frozen=True)
class CaptionedDigits:
    """One split: images (N, 1, 8, 8) in [-1, 1], labels (N,), captions (N strings), template index per image (N,)."""

    images: torch.Tensor
    labels: torch.Tensor
    captions: list[str]
    template_index: torch.Tensor
    templates: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


def load_captioned_digits(split: str = "train", seed: int = 0) -> CaptionedDigits:
    """The captioned digits of ``split`` (``"train"`` or ``"test"``), see the module docstring.

    ``"train"`` pairs the digits' training images with :data:`TRAIN_TEMPLATES`,
    ``"test"`` pairs the test images with the held-out :data:`TEST_TEMPLATES`;
    the template of each image is drawn uniformly with a generator seeded
    with ``seed``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    digits = load_digits(split)
    templates = TRAIN_TEMPLATES if split == "train" else TEST_TEMPLATES
    generator = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
    index = torch.randint(0, len(templates), (len(digits),), generator=generator)
    captions = [caption(int(y), templates[int(k)]) for y, k in zip(digits.labels, index)]
    return CaptionedDigits(digits.images, digits.labels, captions, index, templates)
