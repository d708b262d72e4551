"""Sample-quality metrics shared by the chapters (e.g. :mod:`.frechet`)."""
