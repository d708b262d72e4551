"""Grading for the course's nbgrader exercises, kept apart from the reference package.

The reference package (``genai_foundations``) knows nothing about grading.
This package holds everything that grading needs:

* :mod:`~genai_grading.tasks`: how an exercise's graded tasks are described
  (the student's function, the reference, the random inputs, the forbidden
  shortcuts); one module per assignment in :mod:`genai_grading.assignments`;
* :mod:`~genai_grading.harness`: the code that runs *inside* the student's
  sandboxed kernel: it calls the student's function on the grader's inputs and
  sends the outputs back as plain arrays; it decides nothing;
* :mod:`~genai_grading.sandbox` and :mod:`~genai_grading.launch`: the
  bubblewrap sandbox with cgroup limits the kernel runs in;
* :mod:`~genai_grading.execute`: one submission, start to verdict (runs in a
  worker process, outside the sandbox);
* :mod:`~genai_grading.verdict`: the comparison with the reference, outside
  the student's reach;
* :mod:`~genai_grading.grader`: the instructor's ``grade`` command: sanitises
  submissions, grades them in parallel (Dask), writes the gradebook from one
  process, resumes after an interruption.
"""

__all__: list[str] = []
