"""nbgrader configuration for the course (read by every `nbgrader` command run in this folder).

solutions/ is nbgrader's *source* folder (instructor versions with answers and hidden tests);
exercises/ is its *release* folder (the student versions, generated, committed).
See book/appendices/working-with-exercises.md for the whole workflow.
"""

import os

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "genai-foundations"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# The gradebook: SQLite in the course folder unless GENAI_GRADEBOOK_URL names another
# SQLAlchemy URL (e.g. postgresql://user@host/gradebook).
if os.environ.get("GENAI_GRADEBOOK_URL"):
    c.CourseDirectory.db_url = os.environ["GENAI_GRADEBOOK_URL"]

# A cell that runs longer than this (seconds) is interrupted: it and the tests that need it
# score 0, the rest of the notebook is still graded.
c.ExecutePreprocessor.timeout = int(os.environ.get("GENAI_CELL_TIMEOUT", "120"))

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
