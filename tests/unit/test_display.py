"""display.source_without_docstring: the chapters' code listings show a function without its docstring."""

from genai_foundations.display import source_without_docstring


def _plain(x):
    """A docstring."""
    return x + 1


def _raw(x):
    r"""A raw docstring with \sigma in it."""
    return x * 2


def _single(x):
    '''Single-quoted docstring.'''
    return x


def _none(x):
    return x - 1


def test_docstrings_are_removed_whatever_their_quotes_or_prefix():
    assert source_without_docstring(_plain) == "def _plain(x):\n    return x + 1"
    assert source_without_docstring(_raw) == "def _raw(x):\n    return x * 2"
    assert source_without_docstring(_single) == "def _single(x):\n    return x"
    assert source_without_docstring(_none) == "def _none(x):\n    return x - 1"
