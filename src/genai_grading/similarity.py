"""How close a student's code is to the model answer and to other students' code.

The measure is documented so that an instructor can judge a flag: each
solution is turned into Python tokens with names, numbers and strings
replaced by placeholders (renaming variables changes nothing; attribute names such as
``torch.exp`` and builtins keep their spelling), the tokens are
cut into overlapping runs of ``K`` tokens, and the similarity of two
solutions is the Jaccard index of their sets of runs (shared runs / all
runs). 1.0 means the same code up to renaming; unrelated correct answers to
the same task typically share well under half of their runs. Pairs above
``THRESHOLD`` are listed in ``similarity-report.csv`` for the instructor to
look at; nothing is decided automatically.
"""

from __future__ import annotations

import io
import keyword
import tokenize

K = 8
THRESHOLD = 0.8
MIN_RUNS = 12  # solutions shorter than this are too short to compare meaningfully
# Module names and builtins keep their spelling: they say *what* the code computes.
KEPT_NAMES = {"torch", "math", "np", "numpy", "F", "nn", "range", "len", "sum", "min", "max", "abs", "zip",
              "enumerate", "float", "int", "isinstance", "tuple", "list", "dict"}


def fingerprint(code: str) -> set[tuple[str, ...]]:
    """The set of K-token runs of ``code`` with identifiers and literals normalised."""
    tokens: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                            tokenize.ENDMARKER):
                continue
            after_dot = bool(tokens) and tokens[-1] == "."
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string) and not after_dot \
                    and tok.string not in KEPT_NAMES:
                tokens.append("NAME")
            elif tok.type == tokenize.NUMBER:
                tokens.append("NUM")
            elif tok.type == tokenize.STRING:
                tokens.append("STR")
            else:
                tokens.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        tokens = code.split()
    return {tuple(tokens[i:i + K]) for i in range(max(0, len(tokens) - K + 1))}


def similarity(a: set, b: set) -> float | None:
    if len(a) < MIN_RUNS or len(b) < MIN_RUNS:
        return None
    return len(a & b) / len(a | b)
