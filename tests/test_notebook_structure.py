"""The committed notebooks follow docs/authoring.md: executed in order, exercises marked for nbgrader."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_the_six_notebooks_are_numbered_in_the_lecture_order():
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == ["01", "02", "03", "04", "05", "06"], f"expected notebooks 01-06, found {numbers}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_test_harness_on_the_page(path):
    """nbval markers are cell tags and lint exceptions live in pyproject.toml (docs/authoring.md)."""
    for cell in code_cells(path):
        assert "NBVAL_" not in cell.source, f"{path.name}: an NBVAL_ comment (use a cell tag): {cell.source[:60]!r}"
        assert "# noqa" not in cell.source, f"{path.name}: a noqa comment (use per-file-ignores): {cell.source[:60]!r}"


# a check(...) whose claim mentions a clock: it would fail on a slower or busier machine
TIMING_CHECK = re.compile(
    r"check\((?:[^()]|\([^()]*\))*(process_time|perf_counter|_seconds|seconds|faster|slower|budget|cost|_s\b)", re.S
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_check_depends_on_the_machine_speed(path):
    for cell in code_cells(path):
        match = TIMING_CHECK.search(cell.source)
        assert not match, f"{path.name}: a timing claim inside check(...) (move it to benchmarks/): {match[0][:80]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_with_outputs_from_one_top_to_bottom_run(path):
    counts = [c.execution_count for c in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: re-run top to bottom (make execute)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_errors_only_where_a_cell_is_meant_to_fail(path):
    for cell in code_cells(path):
        meant = "raises-exception" in cell.metadata.get("tags", [])
        has_error = any(o.output_type == "error" for o in cell.outputs)
        assert has_error == meant, f"{path.name}: cell {cell.source[:60]!r} error={has_error}, tagged={meant}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_local_paths_in_sources_or_outputs(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"/(root|work|tmp|home|Users)/[\w.-]+/", text), f"{path.name} shows a local path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_carry_nbgrader_metadata(path):
    prefix = f"nb{path.name[:2]}_"
    cells = code_cells(path)
    solutions = [c for c in cells if c.metadata.get("nbgrader", {}).get("solution")]
    graded = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(solutions) >= 2 and len(graded) >= 2, f"{path.name}: at least two exercises with tests"
    ids = [c.metadata["nbgrader"]["grade_id"] for c in solutions + graded]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate grade_id"
    assert all(i.startswith(prefix) for i in ids), f"{path.name}: grade_ids must start with {prefix}"
    for cell in cells:
        marked = "### BEGIN SOLUTION" in cell.source
        assert marked == bool(cell.metadata.get("nbgrader", {}).get("solution")), (
            f"{path.name}: BEGIN SOLUTION and solution metadata must go together: {cell.source[:60]!r}"
        )
    for cell in solutions:
        assert "### END SOLUTION" in cell.source
    for cell in graded:
        meta = cell.metadata["nbgrader"]
        assert meta.get("points", 0) > 0 and meta.get("locked"), f"{path.name}: {meta['grade_id']} needs points"
        visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
        assert "assert" in visible, f"{path.name}: {meta['grade_id']} has no visible test"
        assert hidden and "### END HIDDEN TESTS" in hidden, f"{path.name}: {meta['grade_id']} has no hidden tests"
