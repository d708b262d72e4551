"""Part I of the book: generative algorithms (one module per method, e.g. :mod:`.ddpm`)."""
