"""Sphinx extension that renders the results page (placeholder until written)."""


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
