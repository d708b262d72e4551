"""Shortcut answers per exercise: ``<slug>.py`` defines ``SHORTCUTS`` and ``EXPECTED_ZERO``.

``SHORTCUTS`` maps a solution cell's grade_id to the source a lazy or hostile
student would hand in for it (a library one-liner, a package helper, the
naive formula of a "stable" task, an alias such as ``torch._VF``);
``EXPECTED_ZERO`` lists the test cells (grade_ids) that must score 0 when one
submission carries all of them. ``tests/test_exercises.py`` grades that
submission in the same run as the model answer.
"""
