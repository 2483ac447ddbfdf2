"""The graded-assignment pipeline (``make release``, ``make grade``) end to end, and its assertions.

- The grading helpers: right answers pass, wrong ones fail, also after a monkeypatch in the same process.
- ``release``: nbgrader's student versions, byte-identical from run to run, no solutions or hidden tests.
- The fixture assignment (tests/grading/source, two small notebooks) graded for 20 students, copies of
  the prepared submissions in tests/grading/submissions (partial, infinite loop, exception, edited and
  deleted test cells, renamed/missing notebook, monkeypatching, error swallowing, escape attempts) plus
  the reference and the blank release: exact points per exercise, the report in the CSV and in the
  printed summary, no lost or duplicated rows, no student's submission changing another's grade.
- Every numbered notebook in notebooks/, graded in fast mode: the reference scores full marks and the
  blank release exactly zero.
"""

from __future__ import annotations

import builtins
import copy
import csv
import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from lecture_utils import grading
from tools import autograde, sandbox
from tools.assignments import release
from tools.autograde import Execution, exercises, plan_grading

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "grading"
COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FIXTURE_CELL_TIMEOUT = 15
N1, N2 = "01_fixture.ipynb", "02_fixture.ipynb"
ALL_RIGHT = {N1: {"fx01_square": 2, "fx01_unit_norm": 2, "fx01_sorted_unique": 1},
             N2: {"fx02_clip": 1, "fx02_relu": 1}}
EXCEPTION_MESSAGE = "norm is zero; v = [0, 0]; cannot divide | by zero"  # tests/grading/submissions/exception
ZERO = {N1: dict.fromkeys(ALL_RIGHT[N1], 0), N2: dict.fromkeys(ALL_RIGHT[N2], 0)}

# case -> notebook -> (points per exercise, phrases the report must contain, status)
EXPECTED = {
    "reference": {N1: (ALL_RIGHT[N1], []), N2: (ALL_RIGHT[N2], [])},
    "blank": {N1: (ZERO[N1], ["fx01_square failed: NotImplementedError: Exercise not solved yet"]),
              N2: (ZERO[N2], ["fx02_relu failed: NotImplementedError"])},
    "partial": {N1: ({**ZERO[N1], "fx01_square": 2},
                     ["fx01_unit_norm failed: GradingError: unit_norm([3, 4])"]),
                N2: ({**ZERO[N2], "fx02_clip": 1}, ["fx02_relu failed: NotImplementedError"])},
    "infinite_loop": {N1: ({**ALL_RIGHT[N1], "fx01_square": 0},
                           [f"fx01_square_tests timed out after {FIXTURE_CELL_TIMEOUT} s (interrupted)",
                            "fx01_square failed: KeyboardInterrupt"]),
                      N2: (ALL_RIGHT[N2], [])},
    "stubborn_loop": {N1: ({**ALL_RIGHT[N1], "fx01_sorted_unique": 0},
                           ["stopped the kernel (", "skipped; a new kernel replayed the cells before it",
                            "fx01_sorted_unique failed: NameError: name 'sorted_unique' is not defined"]),
                      N2: (ALL_RIGHT[N2], [])},
    # the message holds "; " and "|": the CSV, the summary and the feedback must show it intact
    "exception": {N1: ({**ALL_RIGHT[N1], "fx01_unit_norm": 0},
                       [f"fx01_unit_norm failed: ValueError: {EXCEPTION_MESSAGE}"]),
                  N2: (ALL_RIGHT[N2], [])},
    "edited_test": {N1: ({**ALL_RIGHT[N1], "fx01_square": 0},
                         ["test cell fx01_square_tests was edited: the original ran",
                          "fx01_square failed: GradingError: square([1, -2, 3])"]),
                    N2: (ALL_RIGHT[N2], [])},
    "deleted_test": {N1: ({**ALL_RIGHT[N1], "fx01_unit_norm": 0},
                          ["test cell fx01_unit_norm_tests was deleted: scored 0"]),
                     N2: (ALL_RIGHT[N2], [])},
    "renamed": {N1: (ALL_RIGHT[N1], ["graded 01_fixture (copy).ipynb as 01_fixture.ipynb (file renamed)"]),
                N2: (ZERO[N2], ["not submitted"])},
    "monkeypatch": {N1: (ZERO[N1], ["the submission replaced builtins.sorted, numpy.testing.assert_allclose, "
                                    "torch.allclose, torch.testing.assert_close, "
                                    "lecture_utils.grading.assert_close, lecture_utils.grading.assert_true, "
                                    "assert_close, assert_true (restored before the tests)"]),
                    N2: (ALL_RIGHT[N2], [])},
    "swallow_errors": {N1: (ALL_RIGHT[N1], []),
                       N2: (ZERO[N2], ["IPython custom exception handler", "IPython shell.showtraceback",
                                       "fx02_clip failed: GradingError: clip([-3, 0.5, 2], 1)",
                                       "fx02_relu_tests: the grader's check before it did not run"])},
    "escape": {N1: (ALL_RIGHT[N1], []), N2: (ALL_RIGHT[N2], [])},
    # os._exit in the second answer: only that exercise is lost, the kernel restarts for the third
    "kernel_killer": {N1: ({**ALL_RIGHT[N1], "fx01_unit_norm": 0},
                           ["stopped the kernel (", "skipped; a new kernel replayed the cells before it",
                            "fx01_unit_norm failed: NameError: name 'unit_norm' is not defined"]),
                      N2: (ALL_RIGHT[N2], [])},
    # searches the kernel's whole file system for the reference notebooks and hidden tests (none there)
    "disk_search": {N1: (ZERO[N1], ["fx01_square failed: TypeError: 'NoneType' object is not callable"]),
                    N2: (ZERO[N2], ["fx02_clip failed: TypeError: 'NoneType' object is not callable"])},
}
CASES = list(EXPECTED)
STUDENTS = {f"s{i:02d}_{CASES[i % len(CASES)]}": CASES[i % len(CASES)] for i in range(20)}


def grade_cli(submissions: Path, source: Path, out: Path, *args: str) -> str:
    """Run the same command ``make grade`` runs; return what it printed."""
    unsandboxed = ["--allow-unsandboxed"] if sandbox.isolation_level() != "namespaces" else []
    command = [sys.executable, "-m", "tools.assignments", "grade", str(submissions), "--source", str(source),
               "--out", str(out), "--jobs", "2", *unsandboxed, *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def notes_of(row: dict) -> list[str]:
    """A CSV row's report entries other than failed exercises (``<exercise> failed: ...``)."""
    failed = tuple(f"{name} failed: " for points in ALL_RIGHT.values() for name in points)
    course = re.compile(r"^nb\d\d_\w+ failed: ")
    return [line for line in row["report"].splitlines() if not line.startswith(failed) and not course.match(line)]


def read_rows(out: Path) -> list[dict]:
    with open(out / "grades.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------- helpers, no kernel

def test_assert_close_passes_and_fails_with_what_differs() -> None:
    grading.assert_close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-7]), "v")
    grading.assert_close([0.5, 1.5], np.array([0.5, 1.5]), "list against array")
    with pytest.raises(grading.GradingError, match=r"v: expected shape \(2,\), got \(3,\)"):
        grading.assert_close(torch.zeros(3), torch.zeros(2), "v")
    with pytest.raises(grading.GradingError, match="v: expected a torch.Tensor, got list"):
        grading.assert_close([0.0, 0.0], torch.zeros(2), "v")
    with pytest.raises(grading.GradingError, match="values differ"):
        grading.assert_close(torch.tensor([float("nan")]), torch.tensor([float("nan")]), "nan")
    with pytest.raises(ValueError, match="atol: expected a non-negative number"):
        grading.assert_close(torch.zeros(1), torch.zeros(1), "v", atol=-1.0)
    with pytest.raises(ValueError, match="what: expected a non-empty str"):
        grading.assert_close(torch.zeros(1), torch.zeros(1), "")


def test_assert_true_accepts_only_true() -> None:
    grading.assert_true(True, "bool")
    grading.assert_true(np.bool_(True), "numpy bool")
    grading.assert_true(torch.tensor(True), "one-element bool tensor")
    for value in ([1], 1, torch.tensor([True, True]), torch.tensor(1.0), "yes", np.bool_(False)):
        with pytest.raises(grading.GradingError, match="the claim"):
            grading.assert_true(value, "the claim")


def test_helpers_ignore_monkeypatching_and_tensor_subclasses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "asarray", lambda *a, **k: np.zeros(2))
    with pytest.raises(grading.GradingError, match="values differ"):
        grading.assert_close(torch.ones(2), torch.zeros(2), "patched")

    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return True

    with pytest.raises(grading.GradingError, match="values differ"):
        grading.assert_close(torch.ones(2).as_subclass(Liar), torch.zeros(2), "subclass")


def _step(x, h, w_ih, w_hh):
    return torch.tanh(x @ w_ih.T + h @ w_hh.T)


def _by_hand(dh_next, x, h, w_ih, w_hh):
    """The backward pass of _step written out: what call_without_autograd must let through."""
    with torch.no_grad():  # switching a mode is not differentiating
        da = dh_next * (1 - _step(x, h, w_ih, w_hh) ** 2)
        return da @ w_ih, da @ w_hh, da.T @ x, da.T @ h


def _by_autograd_grad(dh_next, x, h, w_ih, w_hh):
    leaves = [t.detach().requires_grad_(True) for t in (x, h, w_ih, w_hh)]
    with torch.enable_grad():
        return torch.autograd.grad((_step(*leaves) * dh_next).sum(), leaves)


def _by_backward(dh_next, x, h, w_ih, w_hh):
    leaves = [t.detach().requires_grad_(True) for t in (x, h, w_ih, w_hh)]
    with torch.enable_grad():
        (_step(*leaves) * dh_next).sum().backward()
    return tuple(t.grad for t in leaves)


def _by_functional_vjp(dh_next, x, h, w_ih, w_hh):
    return torch.autograd.functional.vjp(_step, (x, h, w_ih, w_hh), dh_next)[1]


def _by_func_vjp(dh_next, x, h, w_ih, w_hh):
    return _vjp_imported_earlier(_step, x, h, w_ih, w_hh)[1](dh_next)


_vjp_imported_earlier = torch.func.vjp  # an alias taken before the check starts is the same code


def _by_func_grad(dh_next, x, h, w_ih, w_hh):
    return torch.func.grad(lambda *a: (_step(*a) * dh_next).sum(), argnums=(0, 1, 2, 3))(x, h, w_ih, w_hh)


def _by_jacrev(dh_next, x, h, w_ih, w_hh):
    jacobian = torch.func.jacrev(_step, argnums=0)(x, h, w_ih, w_hh)  # (batch, hidden, batch, input)
    return (torch.einsum("bk,bkci->ci", dh_next, jacobian),)


def _by_forward_mode(dh_next, x, h, w_ih, w_hh):
    return (torch.func.jvp(lambda v: _step(v, h, w_ih, w_hh), (x,), (torch.ones_like(x),))[1],)


def _by_dual_numbers(dh_next, x, h, w_ih, w_hh):
    import torch.autograd.forward_ad as fwad

    with fwad.dual_level():
        out = _step(fwad.make_dual(x, torch.ones_like(x)), h, w_ih, w_hh)
        return (fwad.unpack_dual(out).tangent,)


def _by_the_engine(dh_next, x, h, w_ih, w_hh):
    leaf = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = (_step(leaf, h, w_ih, w_hh) * dh_next).sum()
    engine = torch.autograd.Variable._execution_engine
    return engine.run_backward((out,), (torch.ones_like(out),), False, False, (leaf,), False, False)


def _switching_the_watch_off(dh_next, x, h, w_ih, w_hh):
    hook = sys.getprofile()
    sys.setprofile(None)
    try:
        return _by_autograd_grad(dh_next, x, h, w_ih, w_hh)
    finally:
        sys.setprofile(hook)


def _in_another_thread(dh_next, x, h, w_ih, w_hh):
    import threading

    result = []
    worker = threading.Thread(target=lambda: result.append(_by_autograd_grad(dh_next, x, h, w_ih, w_hh)))
    worker.start()
    worker.join()
    return result[0]


@pytest.mark.parametrize("dodge", [_by_autograd_grad, _by_backward, _by_functional_vjp, _by_func_vjp, _by_func_grad,
                                   _by_jacrev, _by_forward_mode, _by_dual_numbers, _by_the_engine,
                                   _switching_the_watch_off, _in_another_thread], ids=lambda f: f.__name__[1:])
def test_call_without_autograd_rejects_every_route_into_autograd(dodge) -> None:
    g = torch.Generator().manual_seed(0)
    args = [torch.randn(shape, generator=g, dtype=torch.float64) for shape in [(3, 4), (3, 2), (3, 4), (4, 2), (4, 4)]]
    dodge(*args)  # each dodge works outside the check
    with pytest.raises(grading.GradingError, match="step_backward: used autograd or hid its work"):
        grading.call_without_autograd(dodge, *args, what="step_backward")
    assert sys.getprofile() is None  # the watch is gone after the call


def test_call_without_autograd_passes_a_backward_by_hand_and_its_errors() -> None:
    g = torch.Generator().manual_seed(0)
    dh_next, x, h, w_ih, w_hh = (torch.randn(s, generator=g, dtype=torch.float64)
                                 for s in [(3, 4), (3, 2), (3, 4), (4, 2), (4, 4)])
    ours = grading.call_without_autograd(_by_hand, dh_next, x, h, w_ih, w_hh, what="step_backward")
    theirs = _by_autograd_grad(dh_next, x, h, w_ih, w_hh)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(ZeroDivisionError):  # the function's own error comes through unchanged
        grading.call_without_autograd(lambda: 1 / 0, what="f")
    assert sys.getprofile() is None
    with pytest.raises(ValueError, match="what: expected a non-empty str"):
        grading.call_without_autograd(_by_hand, what="")


def test_guard_restores_patched_functions_and_hooks() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    guard = grading.Guard(shell)
    original_allclose, original_sorted = torch.allclose, builtins.sorted
    try:
        torch.allclose = lambda *a, **k: True
        builtins.sorted = lambda items: [1, 2, 3]
        shell.input_transformers_cleanup.append(lambda lines: [])
        shell.set_custom_exc((BaseException,), lambda *a, **k: None)
        shell.user_ns["assert_close"] = lambda *a, **k: None
        restored = guard._restore()
    finally:
        torch.allclose, builtins.sorted = original_allclose, original_sorted
    assert torch.allclose is original_allclose and builtins.sorted is original_sorted
    assert shell.user_ns["assert_close"] is grading.assert_close
    assert {"torch.allclose", "builtins.sorted", "IPython input_transformers_cleanup",
            "IPython custom exception handler", "assert_close"} <= set(restored)
    assert guard._restore() == []
    original_seed = torch.manual_seed
    try:  # a library's own wrapper (torch._dynamo wraps torch.manual_seed on import) is not a patch
        torch.manual_seed = torch._disable_dynamo(original_seed)
        assert "torch.manual_seed" not in guard._restore()
    finally:
        torch.manual_seed = original_seed


def test_plan_restores_test_cells_and_reports_edits_and_deletions() -> None:
    reference = nbformat.read(FIXTURE / "source" / N1, as_version=4)
    submission = nbformat.read(FIXTURE / "submissions" / "edited_test" / N1, as_version=4)
    plan = plan_grading(reference, submission)
    assert plan.notes == ["test cell fx01_square_tests was edited: the original ran"]
    test = plan.notebook.cells[plan.tests["fx01_square_tests"]]
    assert "BEGIN HIDDEN TESTS" in test.source and "the test was too strict" not in test.source
    deleted = nbformat.read(FIXTURE / "submissions" / "deleted_test" / N1, as_version=4)
    assert plan_grading(reference, deleted).notes == ["test cell fx01_unit_norm_tests was deleted: scored 0"]
    assert [e.points for e in exercises(reference)] == [2, 2, 1]


def test_plan_uses_nbgraders_checksum_for_edits() -> None:
    """An edit is what changes nbgrader's checksum of the cell (source, type, role, grade_id, points);
    trailing whitespace is not an edit, the hidden tests cut out (the released cell) are none either."""
    reference = nbformat.read(FIXTURE / "source" / N1, as_version=4)
    assert plan_grading(reference, reference).notes == []
    released = autograde.released_cells(reference)
    assert "BEGIN HIDDEN TESTS" not in released["fx01_square_tests"].source
    submission = copy.deepcopy(reference)
    test = next(c for c in submission.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "fx01_square_tests")
    test.source = released["fx01_square_tests"].source.replace("\n", "  \n") + "\n\n"
    assert plan_grading(reference, submission).notes == []
    test.metadata.nbgrader["points"] = 20  # the source unchanged, the points raised
    assert plan_grading(reference, submission).notes == ["test cell fx01_square_tests was edited: the original ran"]


def _executed(plan: autograde.Plan, stderr: str = "") -> Execution:
    """The plan as if every cell had run to its end: guards and markers printed, replies "ok"."""
    run = Execution()
    for index, cell in enumerate(plan.notebook.cells):
        if cell.cell_type != "code":
            continue
        run.status[index] = "ok"
        nonce = plan.nonces.get(index)
        text = ""
        if index in plan.guards.values():
            text = autograde.GUARD_LINE.format(nonce=nonce) + "ok\n"
        elif index in plan.tests.values():
            text = autograde.MARKER_LINE.format(nonce=nonce) + "\n"
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)] if text else []
        if stderr and index == plan.tests.get("fx01_unit_norm_tests"):
            cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=stderr))
    return run


def test_score_follows_nbgraders_verdict_on_the_outputs() -> None:
    """A test cell that ran to its end scores what nbgrader's ``determine_grade`` gives it: full points,
    or 0 when it wrote to stderr (with the text, one line, in the reason)."""
    reference = nbformat.read(FIXTURE / "source" / N1, as_version=4)
    plan = plan_grading(reference, reference)
    result = autograde.score(reference, plan, _executed(plan), cell_timeout=15)
    assert result["points"] == {"fx01_square_tests": 2, "fx01_unit_norm_tests": 2, "fx01_sorted_unique_tests": 1}
    assert result["notes"] == [] and result["failures"] == {}
    plan = plan_grading(reference, reference)
    result = autograde.score(reference, plan, _executed(plan, stderr="UserWarning: a; b\nsecond line"), 15)
    assert result["points"]["fx01_unit_norm_tests"] == 0 and result["points"]["fx01_square_tests"] == 2
    assert result["failures"] == {"fx01_unit_norm_tests": "wrote to stderr: UserWarning: a; b second line"}


def test_report_entries_stay_whole_in_csv_summary_and_feedback(tmp_path: Path) -> None:
    """Report entries travel as lists and dicts, never joined and split again: a note and a failure reason
    holding "; ", "|", "," and a line break come out whole (one per CSV line, one per summary line, one
    per feedback bullet; the line break becomes a space)."""
    from tools import assignments

    reference = nbformat.read(FIXTURE / "source" / N1, as_version=4)
    reason = "ValueError: a; b | c, d"
    note = "test cell fx01_square_tests was edited; really | twice,\nsecond line"
    points = {e.test_id: 0.0 for e in exercises(reference)}
    result = {"points": points, "notes": [note], "failures": {"fx01_unit_norm_tests": reason},
              "status": "graded", "seconds": 1.0, "cpu_seconds": 1.0}
    task = assignments.Task("ivanova", N1, N1, {}, [])
    rows = assignments._write_outputs(tmp_path, {N1: reference}, [task], [result])
    assert read_rows(tmp_path)[0]["report"].splitlines() == [
        "test cell fx01_square_tests was edited; really | twice, second line", f"fx01_unit_norm failed: {reason}"]
    printed = assignments.summary(rows, [], level="namespaces", seconds=1.0, jobs=1, fast=True, notes=[[note]])
    assert "  01_fixture.ipynb: test cell fx01_square_tests was edited; really | twice, second line" in printed
    assert f"{reason}</code>" in html.unescape((tmp_path / "summary.html").read_text(encoding="utf-8"))
    plan = plan_grading(reference, reference)
    page = autograde.feedback_notebook(reference, plan, result, "01 — ivanova")
    rendered = html.unescape(autograde.HTMLExporter().from_notebook_node(page)[0])
    assert f"<td>{reason}</td>" in rendered
    assert "<li>test cell fx01_square_tests was edited; really | twice, second line</li>" in rendered


def test_kernel_caches_stay_in_the_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch writes the inductor cache's path into os.environ when torch._inductor is first imported (by
    torch.use_deterministic_algorithms, which every notebook's setup calls): a path inherited from the
    grader's process lies outside the sandbox, where the kernel cannot create it."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/tmp/torchinductor_grader")
    env = sandbox.kernel_env(tmp_path, fast=True)
    for key in ("HOME", "TMPDIR", "MPLCONFIGDIR", "IPYTHONDIR", "TORCHINDUCTOR_CACHE_DIR"):
        assert Path(env[key]).is_relative_to(tmp_path), (key, env[key])


def test_grading_kernels_talk_over_unix_sockets_in_their_own_folder(tmp_path: Path) -> None:
    """No TCP port is ever chosen for a grading kernel (so none can collide with another kernel's between
    choice and bind): every channel is a Unix socket inside that kernel's own scratch folder."""
    import json

    endpoints = []
    for name in ("a", "b"):
        scratch = tmp_path / name
        scratch.mkdir()
        km = autograde.kernel_manager(scratch, sandbox.isolation_level())
        km.write_connection_file()
        info = json.loads(Path(km.connection_file).read_text(encoding="utf-8"))
        assert info["transport"] == "ipc" and info["ip"] == str(scratch / "kernel"), info
        mine = [f"{info['ip']}-{info[f'{channel}_port']}" for channel in ("shell", "iopub", "stdin", "control", "hb")]
        assert len(set(mine)) == 5 and all(Path(e).parent == scratch for e in mine), mine
        endpoints += mine
    assert len(set(endpoints)) == 10


@pytest.mark.grading
def test_a_send_cannot_hide_a_reply_that_has_arrived() -> None:
    """The grading-stall mechanism, forced: while nbclient waits for a cell's reply, the loop is blocked
    as the reply comes in and the grader then sends on the shell socket (jupyter_client writes on a plain
    shadow socket, draining pyzmq's wake-up). With jupyter_client's stock client the reply then sits
    unread, the kernel idle, until the cell's timeout (60 s here); the grader's client sees it at once."""
    import asyncio
    import time

    async def run() -> float:
        scratch = sandbox.make_scratch()
        try:
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(1)")])
            client = autograde.GradingClient(nb, km=autograde.kernel_manager(scratch, "none"), timeout=60,
                                             interrupt_on_timeout=True, allow_errors=True)
            async with client.async_setup_kernel(env=sandbox.kernel_env(scratch, fast=True), cwd=str(scratch),
                                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL):
                async def send_at_the_wrong_moment() -> None:
                    await asyncio.sleep(0.2)  # the request is out (the cell sleeps 1 s); nbclient waits for the reply
                    time.sleep(2.0)  # the loop is blocked while the kernel replies
                    client.kc.kernel_info()  # a send before the loop has seen the reply
                meddler = asyncio.ensure_future(send_at_the_wrong_moment())
                start = time.perf_counter()
                await client.async_execute_cell(nb.cells[0], 0)
                meddler.cancel()
                return time.perf_counter() - start
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    assert asyncio.run(run()) < 30


def test_grade_refuses_without_isolation_unless_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    from tools import assignments

    (tmp_path / "submissions" / "ivanova").mkdir(parents=True)
    monkeypatch.setattr(sandbox, "isolation_level", lambda: "network")
    argv = ["grade", str(tmp_path / "submissions"), "--source", str(FIXTURE / "source"), "--out", str(tmp_path / "out")]
    assert assignments.main(argv) == 2
    assert "refused" in capsys.readouterr().err and not (tmp_path / "out").exists()
    ran = []
    monkeypatch.setattr(assignments, "_run_worker", lambda task, reference, options: ran.append(task) or
                        {"points": {e.test_id: 0.0 for e in exercises(reference)}, "notes": [], "failures": {},
                         "status": "graded"})
    assert assignments.main([*argv, "--allow-unsandboxed"]) == 0
    assert len(ran) == 2 and "kernel isolation: network" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ release

@pytest.mark.grading
def test_release_is_deterministic_and_keeps_solutions_private(tmp_path: Path) -> None:
    first = release(FIXTURE / "source", tmp_path / "a")
    second = release(FIXTURE / "source", tmp_path / "b")
    assert [p.name for p in first] == [N1, N2]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
        text = a.read_text(encoding="utf-8")
        for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "clamp(-limit, limit)", "square(torch.zeros(2, 3))"):
            assert secret not in text
        nb = nbformat.read(a, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        stubs = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert stubs and all("raise NotImplementedError(\"Exercise not solved yet" in c.source for c in stubs)


# ---------------------------------------------------------------------- 20 students on the fixture


def fixture_submissions(tmp: Path) -> Path:
    """``tmp/submissions/<student>/``: the reference, the blank release or a prepared case per student."""
    blank = release(FIXTURE / "source", tmp / "release")
    submissions = tmp / "submissions"
    for student, case in STUDENTS.items():
        target = submissions / student
        if case == "reference":
            shutil.copytree(FIXTURE / "source", target)
        elif case == "blank":
            target.mkdir(parents=True)
            for path in blank:
                shutil.copy(path, target / path.name)
        else:
            shutil.copytree(FIXTURE / "submissions" / case, target)
    return submissions


@pytest.fixture(scope="module")
def fixture_grades(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], str, Path]:
    tmp = tmp_path_factory.mktemp("fixture")
    submissions = fixture_submissions(tmp)
    out = tmp / "out"
    printed = grade_cli(submissions, FIXTURE / "source", out, "--cell-timeout", str(FIXTURE_CELL_TIMEOUT))
    return read_rows(out), printed, out


@pytest.mark.grading
def test_every_student_and_notebook_has_exactly_one_row(fixture_grades: tuple) -> None:
    rows, printed, _ = fixture_grades
    pairs = [(r["student"], r["notebook"]) for r in rows]
    assert sorted(pairs) == sorted((s, n) for s in STUDENTS for n in (N1, N2))
    assert "graded 40 notebook(s) of 20 student(s)" in printed


@pytest.mark.grading
@pytest.mark.parametrize("case", CASES)
def test_case_scores_and_report(fixture_grades: tuple, case: str) -> None:
    rows, printed, _ = fixture_grades
    students = [s for s, c in STUDENTS.items() if c == case]
    for student in students:
        totals = {}
        for notebook, (points, phrases) in EXPECTED[case].items():
            row = next(r for r in rows if r["student"] == student and r["notebook"] == notebook)
            assert {k: float(row[k]) for k in points} == points, (student, notebook, row["report"])
            assert float(row["score"]) == sum(points.values())
            lines = row["report"].splitlines()  # one entry per line
            for phrase in phrases:
                assert any(phrase in line for line in lines), (student, notebook, row["report"])
            if not phrases or case == "blank":
                assert notes_of(row) == [], (student, notebook, row["report"])
            totals[notebook] = row
        head = f"{student}: {sum(float(r['score']) for r in totals.values()):g}/7 ("
        lines = printed.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(head))
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
        block = lines[start + 1:end]
        for notebook, (_, phrases) in EXPECTED[case].items():
            problems = [p for p in phrases if " failed: " not in p and p != "not submitted"]
            mine = [b for b in block if b.startswith(f"  {notebook}: ")]  # one line per note
            assert all(any(p in line for line in mine) for p in problems), (student, notebook, block)
            assert bool(mine) == bool(problems), (student, notebook, block)


@pytest.mark.grading
def test_exception_message_with_separators_stays_intact(fixture_grades: tuple) -> None:
    """A student's exception message holding "; " and "|" reads back whole from the CSV (its own line),
    the summary page and the feedback page (the score table's cell)."""
    rows, _, out = fixture_grades
    line = f"fx01_unit_norm failed: ValueError: {EXCEPTION_MESSAGE}"
    for student in (s for s, c in STUDENTS.items() if c == "exception"):
        row = next(r for r in rows if r["student"] == student and r["notebook"] == N1)
        assert line in row["report"].splitlines(), row["report"]
        page = html.unescape((out / "feedback" / student / "01_fixture.html").read_text(encoding="utf-8"))
        assert f"<td>ValueError: {EXCEPTION_MESSAGE}</td>" in page
    summary_page = html.unescape((out / "summary.html").read_text(encoding="utf-8"))
    assert f"<code>ValueError: {EXCEPTION_MESSAGE}</code>" in summary_page


@pytest.mark.grading
def test_missing_and_renamed_notebooks_in_csv(fixture_grades: tuple) -> None:
    rows, _, _ = fixture_grades
    student = next(s for s, c in STUDENTS.items() if c == "renamed")
    by_notebook = {r["notebook"]: r for r in rows if r["student"] == student}
    assert by_notebook[N1]["file"] == "01_fixture (copy).ipynb" and by_notebook[N1]["status"] == "graded"
    assert by_notebook[N2]["status"] == "missing" and by_notebook[N2]["report"] == "not submitted"


@pytest.mark.grading
def test_feedback_shows_scores_but_no_hidden_tests(fixture_grades: tuple) -> None:
    _, _, out = fixture_grades
    pages = sorted((out / "feedback").glob("*/*.html"))
    assert len(pages) == 39  # 40 pairs, one notebook not submitted
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "Упражнение (exercise)" in text
        for secret in ("HIDDEN TESTS", "square of zeros", "grading guard", "grading marker"):
            assert secret not in text, (page, secret)


@pytest.mark.grading
@pytest.mark.skipif(sandbox.isolation_level() != "namespaces", reason="needs root and util-linux unshare")
def test_escape_attempts_fail_and_change_no_other_grade(fixture_grades: tuple) -> None:
    _, _, out = fixture_grades
    assert not (ROOT / "build" / "escape-canary.txt").exists()
    assert not (ROOT / "lecture_utils" / "escape_canary.py").exists()
    for student in (s for s, c in STUDENTS.items() if c == "escape"):
        text = html.unescape((out / "feedback" / student / "01_fixture.html").read_text(encoding="utf-8"))
        for blocked in ("'escape-canary.txt': 'OSError'", "'escape_canary.py': 'OSError'",
                        "\"other kernels' folders written\": 0", "'processes visible': 1",
                        "'network': 'OSError'"):
            assert blocked in text, blocked
    # every other student's exact scores are asserted by test_case_scores_and_report


@pytest.mark.grading
@pytest.mark.skipif(sandbox.isolation_level() != "namespaces", reason="needs root and util-linux unshare")
def test_disk_search_finds_no_solution_and_no_hidden_test(fixture_grades: tuple) -> None:
    """A submission walks every folder the kernel can see, reading every notebook (for nbgrader's solution
    and hidden-test markers) and every text file (for a hidden test's text): it must find nothing. Without
    the allowlisted root it finds the references that ``release`` copies into the temporary folder."""
    rows, _, out = fixture_grades
    student = next(s for s, c in STUDENTS.items() if c == "disk_search")
    assert sum(float(r["score"]) for r in rows if r["student"] == student) == 0
    for notebook in (N1, N2):
        text = html.unescape((out / "feedback" / student / notebook.replace(".ipynb", ".html"))
                             .read_text(encoding="utf-8"))
        assert "'notebooks with solutions or hidden tests': []" in text, notebook
        assert "'files with hidden-test text': []" in text, notebook
        files_read = int(re.search(r"'files read': (\d+)", text).group(1))
        assert files_read > 1000, files_read  # the search did run (the Python installation's files)


@pytest.mark.grading
def test_gradebook_has_one_row_per_student(fixture_grades: tuple) -> None:
    rows, _, out = fixture_grades
    with open(out / "gradebook.csv", encoding="utf-8", newline="") as f:
        book = list(csv.reader(f))
    assert book[0] == ["student", "total", "01_fixture", "02_fixture"]
    assert [line[0] for line in book[1:]] == sorted(STUDENTS)
    for student, total, *scores in book[1:]:
        mine = {r["notebook"]: float(r["score"]) for r in rows if r["student"] == student}
        assert [float(x) for x in scores] == [mine[N1], mine[N2]] and float(total) == sum(mine.values())


@pytest.mark.grading
def test_summary_page_shows_pass_rates_and_frequent_failures(fixture_grades: tuple) -> None:
    rows, _, out = fixture_grades
    page = html.unescape((out / "summary.html").read_text(encoding="utf-8"))
    for notebook, points in ALL_RIGHT.items():
        graded = [r for r in rows if r["notebook"] == notebook and r["status"] == "graded"]
        for name, full in points.items():
            passed = sum(float(r[name]) == full for r in graded)
            assert f"<code>{name}</code></td><td>{full:g}</td><td>{passed}/{len(graded)} (" in page, name
    square = page.split("<code>fx01_square</code>", 1)[1].split("</tr>", 1)[0]
    assert "× <code>NotImplementedError: Exercise not solved yet" in square  # the blank submissions


# ----------------------------------------------------------------- the course notebooks, fast mode

@pytest.fixture(scope="module")
def course_grades(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("course")
    source = tmp / "source"
    source.mkdir()
    for path in COURSE_NOTEBOOKS:
        shutil.copy(path, source / path.name)
    released = release(source, tmp / "build")
    (tmp / "submissions" / "reference").mkdir(parents=True)
    (tmp / "submissions" / "blank").mkdir()
    for path in COURSE_NOTEBOOKS:
        shutil.copy(path, tmp / "submissions" / "reference" / path.name)
    for path in released:
        shutil.copy(path, tmp / "submissions" / "blank" / path.name)
    grade_cli(tmp / "submissions", source, tmp / "out", "--cell-timeout", "300")  # fast mode, the default
    return read_rows(tmp / "out")


@pytest.mark.grading
@pytest.mark.parametrize("notebook", [p.name for p in COURSE_NOTEBOOKS])
def test_reference_scores_full_marks_and_blank_release_zero(course_grades: list[dict], notebook: str) -> None:
    reference = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    graded = exercises(reference)
    assert len(graded) >= 2, f"{notebook}: expected at least two graded exercises"
    prefix = f"nb{notebook[:2]}_"
    assert all(e.test_id.startswith(prefix) for e in graded), [e.test_id for e in graded]
    rows = {r["student"]: r for r in course_grades if r["notebook"] == notebook}
    full = rows["reference"]
    assert full["status"] == "graded" and full["score"] == full["max_score"], full["report"]
    assert full["report"] == "", full["report"]
    blank = rows["blank"]
    assert blank["status"] == "graded" and float(blank["score"]) == 0, blank["report"]
    assert notes_of(blank) == [], blank["report"]
