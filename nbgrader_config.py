"""nbgrader's configuration, read from the repository root by ``make release`` (see docs/instructors.md).

The course layout lives under the ignored ``build/nbgrader`` (``source/lecture06`` holds copies of
``notebooks/NN_*.ipynb``; ``release/lecture06`` the student versions); the notebooks stay in ``notebooks/``.
No database: ``generate_assignment`` runs with ``--no-db`` and ``make grade`` writes ``build/grades.csv``
(tools/assignments.py), so no ``db_url`` is configured.
"""

from pathlib import Path

c = get_config()  # noqa: F821  (injected by nbgrader's config loader)
build = Path(__file__).resolve().parent / "build" / "nbgrader"

c.CourseDirectory.course_id = "lecture06-rnn"
c.CourseDirectory.root = str(build)
STUB = 'raise NotImplementedError("Exercise not solved yet: replace this line with your code")'
c.ClearSolutions.code_stub = {"python": f"# YOUR CODE HERE\n{STUB}"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
