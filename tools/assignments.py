"""Release the notebooks as nbgrader assignments and grade students' submissions (``make release``/``grade``).

``python -m tools.assignments release [--source notebooks] [--out build]``
    Copies the numbered notebooks into nbgrader's course layout (``build/nbgrader/source/lecture06``),
    runs ``nbgrader generate_assignment`` (solutions become ``raise NotImplementedError(...)``, hidden
    tests and outputs are removed) and writes the publishable student tree to ``build/release/``
    (``notebooks/`` pointing at the student repository, the package, a README; tools/student_release.py).

``python -m tools.assignments grade SUBMISSIONS [--source notebooks] [--out build] [--jobs N]
[--cell-timeout S]``
    ``SUBMISSIONS`` holds one folder per student with any subset of the notebooks. Every (student,
    notebook) pair is graded by its own worker process (``tools/autograde.py``), at most ``--jobs`` at a
    time, each in a sandboxed kernel (``tools/sandbox.py``; refused without isolation unless
    ``--allow-unsandboxed``). Writes ``build/grades.csv`` (one row per student and notebook: points per
    exercise, total, report: one line per note or failed exercise), ``build/gradebook.csv`` (one row per
    student: total and per-notebook points, for Moodle or a spreadsheet), ``build/summary.html`` (per
    exercise: share passed, frequent failures) and ``build/feedback/<student>/<notebook>.html``, and prints a summary.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools import sandbox, student_release
from tools.autograde import exercises, nbgrader_meta

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "lecture06"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
STUDENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_NOTEBOOK_BYTES = 20 << 20
DEFAULT_CELL_TIMEOUT = 600.0
NOT_SUBMITTED = "not submitted"


def reference_notebooks(source: Path) -> dict[str, nbformat.NotebookNode]:
    """The numbered notebooks of ``source`` (file name -> notebook), read once, before any kernel runs."""
    paths = sorted(source.glob(NOTEBOOK_GLOB))
    if not paths:
        raise ValueError(f"{source}: expected numbered notebooks ({NOTEBOOK_GLOB}), found none")
    return {p.name: nbformat.read(p, as_version=4) for p in paths}


# ------------------------------------------------------------------------------------------- release

def release(source: Path, out: Path) -> list[Path]:
    """Generate the student versions of ``source``'s notebooks with nbgrader and write the student tree
    (``out/release``: ``notebooks/``, the package, a README); return the tree's notebooks."""
    names = list(reference_notebooks(source))
    course = out / "nbgrader"
    assignment_source = course / "source" / ASSIGNMENT
    shutil.rmtree(course, ignore_errors=True)
    assignment_source.mkdir(parents=True)
    for name in names:
        shutil.copy(source / name, assignment_source / name)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force", "--no-db",
               f"--CourseDirectory.root={course.resolve()}", "--log-level=WARN"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{done.stdout}\n{done.stderr}")
    # the publishable student tree (tools/student_release.py): notebooks/, the package, README.md
    return student_release.write_tree([course / "release" / ASSIGNMENT / name for name in names], out / "release")


# --------------------------------------------------------------------------------------------- grade

@dataclass
class Task:
    """One (student, notebook) pair to grade."""

    student: str
    notebook: str
    file: str  # the submitted file's name, "" when missing
    submission: dict | None
    notes: list[str]  # what collecting noticed (not submitted, renamed, unreadable)


def collect(submissions: Path, notebooks: dict[str, nbformat.NotebookNode]) -> tuple[list[Task], list[str]]:
    """Read every student's notebooks into memory; match renamed files by their exercises' ids."""
    if not submissions.is_dir():
        raise ValueError(f"SUBMISSIONS: expected a folder with one folder per student, got {submissions}")
    tasks, skipped = [], []
    ids = {name: {nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}
           for name, nb in notebooks.items()}
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir()):
        student = folder.name
        if not STUDENT_NAME.match(student):
            skipped.append(f"{student!r}: not a valid student folder name (letters, digits, . _ -)")
            continue
        found: dict[str, tuple[str, dict | None, list[str]]] = {}
        strays: list[tuple[str, dict]] = []
        for path in sorted(folder.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts or path.is_symlink():
                continue
            relative = path.relative_to(folder).as_posix()
            try:
                if path.stat().st_size > MAX_NOTEBOOK_BYTES:
                    raise ValueError(f"larger than {MAX_NOTEBOOK_BYTES >> 20} MiB")
                nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
            except Exception as error:  # any unreadable file is reported, never fatal
                found.setdefault(path.name, (relative, None, [f"{relative} could not be read: {error}"]))
                continue
            if path.name in notebooks and path.name not in found:
                found[path.name] = (relative, dict(nb), [])
            else:
                strays.append((relative, dict(nb)))
        for relative, nb in strays:
            cell_ids = {nbgrader_meta(nbformat.from_dict(c)).get("grade_id") for c in nb["cells"]} - {None}
            match = max((n for n in notebooks if n not in found), key=lambda n: len(ids[n] & cell_ids),
                        default=None)
            if match and ids[match] & cell_ids:
                found[match] = (relative, nb, [f"graded {relative} as {match} (file renamed)"])
        for name in notebooks:
            relative, nb, notes = found.get(name, ("", None, [NOT_SUBMITTED]))
            tasks.append(Task(student, name, relative, nb, notes))
    return tasks, skipped


def _run_worker(task: Task, reference: nbformat.NotebookNode, options: dict) -> dict:
    if task.submission is None:
        return {"points": {e.test_id: 0.0 for e in exercises(reference)}, "notes": list(task.notes),
                "failures": {}, "status": "missing" if task.notes == [NOT_SUBMITTED] else "unreadable"}
    request = {"reference": reference, "submission": task.submission,
               "title": f"{task.notebook} — {task.student}", **options}
    try:
        done = subprocess.run([sys.executable, "-m", "tools.autograde"], input=json.dumps(request), cwd=ROOT,
                              capture_output=True, text=True, timeout=options["worker_timeout"],
                              start_new_session=True, check=True)
        result = json.loads(done.stdout)
        result["status"] = "graded"
    except Exception as error:  # a worker that crashed or hung costs this pair only
        stderr = getattr(error, "stderr", None)
        detail = (stderr.strip().splitlines() or [""])[-1] if isinstance(stderr, str) else str(error)
        result = {"points": {e.test_id: 0.0 for e in exercises(reference)}, "status": "error", "failures": {},
                  "notes": [f"grading failed: {type(error).__name__}: {detail}"]}
    result["notes"] = task.notes + result["notes"]
    return result


def report_lines(reference: nbformat.NotebookNode, result: dict) -> list[str]:
    """A graded pair's report, one entry per line: the notes, then ``<exercise> failed: <reason>`` per failed
    exercise. Each entry is kept on one line (a line break inside one becomes a space) and nothing else of
    it changes, so a reason holding any separator ("; ", "|", ",") reads back intact (``splitlines()``)."""
    failures = result.get("failures", {})
    lines = list(result["notes"]) + [f"{e.name} failed: {failures[e.test_id]}" for e in exercises(reference)
                                     if e.test_id in failures]
    return [" ".join(line.splitlines()) for line in lines]


class UnsandboxedError(RuntimeError):
    """The kernels could not be isolated here and the instructor did not accept that explicitly."""


def grade(submissions: Path, source: Path, out: Path, *, jobs: int, cell_timeout: float,
          fast: bool = True, allow_unsandboxed: bool = False) -> list[dict]:
    """Grade every student's notebooks; write the CSV and the feedback; return the CSV rows.

    ``fast`` runs the notebooks in their fast mode (``LECTURE_FAST=1``): the exercises and their tests are
    the same in both modes, only training is shorter, so the points are the same and grading is quicker.
    Below the ``"namespaces"`` isolation level (no root, no util-linux) a submission could read the
    reference notebooks and other students' work: grading then raises :class:`UnsandboxedError` unless
    ``allow_unsandboxed``.
    """
    level = sandbox.isolation_level()
    if level != "namespaces" and not allow_unsandboxed:
        raise UnsandboxedError(
            f"kernel isolation available here: {level!r}, not 'namespaces' (needs root and util-linux "
            "unshare, setpriv, prlimit, pivot_root): a submission could read the reference solutions, the "
            "hidden tests and other students' files. Grade on a machine where you are root (a container or "
            "VM is fine), or accept the risk with --allow-unsandboxed (make grade GRADE_FLAGS=--allow-unsandboxed)")
    if jobs < 1:
        raise ValueError(f"jobs: expected a positive int, got {jobs}")
    if cell_timeout <= 0:
        raise ValueError(f"cell_timeout: expected a positive number of seconds, got {cell_timeout}")
    notebooks = reference_notebooks(source)
    tasks, skipped = collect(submissions, notebooks)
    start = time.perf_counter()

    masked = list(sandbox.masked_paths()) if level == "namespaces" else []  # scanned once, not per kernel

    def work(task: Task) -> dict:
        reference = notebooks[task.notebook]
        code_cells = sum(c.cell_type == "code" for c in reference.cells)
        options = {"cell_timeout": cell_timeout, "isolation": level, "masked": masked, "fast": fast,
                   "worker_timeout": cell_timeout * (2 * code_cells + 10) + 120}
        return _run_worker(task, reference, options)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(work, tasks))
    seconds = time.perf_counter() - start
    # Everything below runs after every kernel has been stopped: nothing a submission did can race it.
    rows = _write_outputs(out, notebooks, tasks, results)
    print(summary(rows, skipped, level=level, seconds=seconds, jobs=jobs, fast=fast,
                  notes=[r["notes"] for r in results]))
    return rows


def _write_outputs(out: Path, notebooks: dict, tasks: list[Task], results: list[dict]) -> list[dict]:
    columns = [e.test_id.removesuffix("_tests") for nb in notebooks.values() for e in exercises(nb)]
    rows = []
    feedback_root = out / "feedback"
    shutil.rmtree(feedback_root, ignore_errors=True)
    for task, result in zip(tasks, results, strict=True):
        reference = notebooks[task.notebook]
        row = {"student": task.student, "notebook": task.notebook, "file": task.file,
               "status": result["status"]}
        row.update({c: "" for c in columns})
        for exercise in exercises(reference):
            row[exercise.name] = f"{result['points'][exercise.test_id]:g}"
        row["score"] = f"{sum(result['points'].values()):g}"
        row["max_score"] = f"{sum(e.points for e in exercises(reference)):g}"
        row["seconds"] = f"{result.get('seconds', 0.0):.1f}"
        row["cpu_seconds"] = f"{result.get('cpu_seconds', 0.0):.1f}"
        row["report"] = "\n".join(report_lines(reference, result))
        rows.append(row)
        if "feedback_html" in result:
            target = feedback_root / task.student / task.notebook.replace(".ipynb", ".html")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(result["feedback_html"], encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["student", "notebook", "file", "status", *columns, "score",
                                               "max_score", "seconds", "cpu_seconds",
                                               "report"])
        writer.writeheader()
        writer.writerows(rows)
    write_gradebook(out / "gradebook.csv", notebooks, rows)
    failures = [result.get("failures", {}) for result in results]
    (out / "summary.html").write_text(summary_html(notebooks, rows, failures), encoding="utf-8")
    return rows


def write_gradebook(path: Path, notebooks: dict, rows: list[dict]) -> None:
    """One row per student: ``student, total, <notebook>...`` (points; a notebook not submitted is 0).

    Plain comma-separated UTF-8 with one header row and ``.`` decimals, every column but ``student`` a
    grade: Moodle's "Import grades from CSV" (map ``student`` to the user field that holds these ids, each
    notebook column to a grade item) and spreadsheets read it as it is. The maxima are the notebooks'
    ``max_score`` in grades.csv (and in the printed summary).
    """
    names = [n.removesuffix(".ipynb") for n in notebooks]
    students = sorted({r["student"] for r in rows})
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "total", *names])
        for student in students:
            scores = {r["notebook"].removesuffix(".ipynb"): float(r["score"]) for r in rows
                      if r["student"] == student}
            writer.writerow([student, f"{sum(scores.values()):g}", *(f"{scores.get(n, 0.0):g}" for n in names)])


def summary_html(notebooks: dict, rows: list[dict], failures: list[dict]) -> str:
    """One page for the instructor: per exercise, the share of graded submissions that passed (a bar) and
    the most frequent failure lines, so that a badly worded exercise shows at a glance."""
    parts = ["<!DOCTYPE html><html lang='ru'><head><meta charset='utf-8'><title>Итоги проверки</title><style>",
             "body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em;"
             "vertical-align:top;text-align:left}.bar{background:#4c72b0;height:1em}"
             ".track{background:#e5e5e5;width:12em}small{color:#555}</style></head><body>",
             "<h1>Итоги проверки (grading summary)</h1>",
             f"<p>{len({r['student'] for r in rows})} студентов, {len(rows)} пар (студент, тетрадь). Доля — среди "
             "сданных тетрадей (status <code>graded</code>).</p>"]
    for name, nb in notebooks.items():
        mine = [(r, f) for r, f in zip(rows, failures, strict=True) if r["notebook"] == name]
        graded = [(r, f) for r, f in mine if r["status"] == "graded"]
        parts.append(f"<h2>{html.escape(name)}</h2><p><small>сдано {len(graded)} из {len(mine)}</small></p>"
                     "<table><tr><th>упражнение</th><th>баллы</th><th>прошли</th><th></th>"
                     "<th>частые причины неудачи</th></tr>")
        for exercise in exercises(nb):
            passed = sum(float(r[exercise.name]) == exercise.points for r, _ in graded)
            share = passed / len(graded) if graded else 0.0
            reasons = Counter(f[exercise.test_id] for _, f in graded if exercise.test_id in f).most_common(3)
            listed = "<br>".join(f"{count}× <code>{html.escape(reason)}</code>" for reason, count in reasons)
            parts.append(f"<tr><td><code>{html.escape(exercise.name)}</code></td><td>{exercise.points:g}</td>"
                         f"<td>{passed}/{len(graded)} ({share:.0%})</td><td><div class='track'><div class='bar' "
                         f"style='width:{100 * share:.0f}%'></div></div></td><td>{listed}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def summary(rows: list[dict], skipped: list[str], *, level: str, seconds: float, jobs: int,
            fast: bool, notes: list[list[str]] | None = None) -> str:
    """The printed summary: one line per student (and, indented, one line per note of a notebook: what the
    grader noticed besides failed exercises; ``notes`` is parallel to ``rows``), then what was skipped and
    how long it took."""
    notes = notes if notes is not None else [[] for _ in rows]
    lines = []
    students = sorted({r["student"] for r in rows})
    for student in students:
        mine = [(r, n) for r, n in zip(rows, notes, strict=True) if r["student"] == student]
        total, best = sum(float(r["score"]) for r, _ in mine), sum(float(r["max_score"]) for r, _ in mine)
        parts = [f"{r['notebook'].removesuffix('.ipynb')} {r['score']}/{r['max_score']}"
                 + ("" if r["status"] == "graded" else f" ({r['status']})") for r, _ in mine]
        lines.append(f"{student}: {total:g}/{best:g} ({', '.join(parts)})")
        for r, problems in mine:
            if problems and problems != [NOT_SUBMITTED]:
                lines += [f"  {r['notebook']}: " + " ".join(p.splitlines()) for p in problems]
    lines += [f"skipped {s}" for s in skipped]
    count = max(len(students), 1)
    per_student = sum(float(r["seconds"]) for r in rows) / count
    cpu = sum(float(r["cpu_seconds"]) for r in rows) / count
    lines.append(f"graded {len(rows)} notebook(s) of {len(students)} student(s) in {seconds:.1f} s "
                 f"({jobs} job(s) in parallel, {'fast' if fast else 'full'} mode); per student on average "
                 f"{per_student:.1f} s of grading, {cpu:.1f} s of CPU; kernel isolation: {level}")
    if level != "namespaces":
        lines.append("warning: kernels are not fully sandboxed here (see docs/instructors.md)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.assignments", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("release", "grade"):
        p = sub.add_parser(name)
        p.add_argument("--source", type=Path, default=ROOT / "notebooks", help="reference notebooks")
        p.add_argument("--out", type=Path, default=ROOT / "build", help="output folder")
        if name == "grade":
            p.add_argument("submissions", type=Path, help="one folder per student")
            p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
            p.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT,
                           help="seconds per cell")
            p.add_argument("--full", action="store_true", help="run in full mode, not fast mode")
            p.add_argument("--allow-unsandboxed", action="store_true",
                           help="grade even where kernels cannot be isolated (no root): submissions could "
                                "read the solutions")
    args = parser.parse_args(argv)
    if args.command == "release":
        for path in release(args.source, args.out):
            print(f"released {path}")
        return 0
    try:
        rows = grade(args.submissions, args.source, args.out, jobs=args.jobs, cell_timeout=args.cell_timeout,
                     fast=not args.full, allow_unsandboxed=args.allow_unsandboxed)
    except UnsandboxedError as error:
        print(f"make grade: refused: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out / 'grades.csv'} ({len(rows)} rows) and {args.out / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
