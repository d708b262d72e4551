"""Part II of the book: network architectures and how they are trained (one module per topic)."""
