"""One module per assignment, named after its slug (``-`` written as ``_``), each defining ``TASKS``."""
