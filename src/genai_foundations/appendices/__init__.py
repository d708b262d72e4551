"""Part III of the book: appendices (one module per topic)."""
