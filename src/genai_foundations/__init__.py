"""Reference package for *Generative AI Foundations: Algorithms and Architectures*.

Every chapter of the book imports from here. The layout mirrors the book:

* :mod:`genai_foundations.algorithms`: generative methods (DDPM, flows, ...),
* :mod:`genai_foundations.architectures`: networks and how they are trained,
* :mod:`genai_foundations.evaluation`: sample-quality metrics,

plus the helpers every chapter shares: :mod:`~genai_foundations.runtime`
(device, seeding, QUICK mode), :mod:`~genai_foundations.data`,
:mod:`~genai_foundations.training`, :mod:`~genai_foundations.plotting`,
:mod:`~genai_foundations.display`, :mod:`~genai_foundations.results` and
:mod:`~genai_foundations.checkpoints`. The package knows nothing about grading:
that lives in the separate ``genai_grading`` package.
"""

from genai_foundations.runtime import RunConfig, autocast, get_device, is_quick, seed_everything, setup

__all__ = ["RunConfig", "autocast", "get_device", "is_quick", "seed_everything", "setup"]
__version__ = "0.1.0"
