"""The course's command line (release, grade, check); the code lives in the separate ``genai_grading`` package.

    python -m genai_foundations.course release
    python -m genai_foundations.course grade
    python -m genai_foundations.course check exercises/<slug>/<slug>.ipynb

The reference package itself knows nothing about grading; this module only
forwards to :mod:`genai_grading.cli` so that the commands keep their names.
"""

from __future__ import annotations

import sys

from genai_grading.cli import main
from genai_grading.grader import PROBLEM_FILE, CourseError, Outcome, grade, release  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
