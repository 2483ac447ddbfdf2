"""Grade one student's copy of one notebook against the reference notebook, in a sandboxed kernel.

Run by ``tools/assignments.py`` as a worker process (``python -m tools.autograde``): a JSON request on
stdin, a JSON result on stdout. What it does, in order:

1. Rebuild the notebook to run: the student's cells in the student's order, but every test cell and
   locked cell taken from the reference by its nbgrader ``grade_id`` (hidden tests included). An edited
   test cell is reported and its original runs; a deleted one is reported and scores 0; a cell with an
   unknown or repeated ``grade_id`` runs as an ordinary cell.
2. Insert the grader's own cells: first of all (before any student code) one that installs
   :class:`lecture_utils.grading.Guard`, and before every test cell one that restores whatever the
   submission replaced (comparison helpers, ``builtins``, ``torch``/``numpy`` functions, IPython's
   execution hooks) and prints what it restored. Each test cell gets a last line that prints a marker
   with a random nonce.
3. Execute in a sandboxed kernel (``tools/sandbox.py``) with a per-cell timeout: a cell that runs too
   long is interrupted and the rest still runs; a cell that stops the kernel (crash, ``os._exit``, an
   ignored interrupt) is skipped and reported, a new kernel replays the cells before it and execution
   goes on after it. A watchdog nudges a kernel that has not picked up a request or whose reply is
   missing (docs/instructors.md, "Stalls").
4. A test cell earns its points only when the kernel's execute reply says "ok", its marker was printed
   (the cell ran to its end), the guard before it ran and nbgrader's own verdict on its outputs
   (``nbgrader.utils.determine_grade``: no error output, nothing written to stderr) gives full points.
5. Feedback: the executed notebook with the grader's cells removed, test cells shown as released
   (hidden tests stay private, their tracebacks cut to the error line) and a score table on top.

nbgrader's public pieces are used where they exist: ``is_grade``/``is_solution``/``is_locked`` to read the
cells' roles, ``compute_checksum`` to tell an edited protected cell, ``determine_grade`` for a test cell's
points and the ``ClearHiddenTests`` preprocessor for the released test cells. The result keeps its parts
apart (``notes``: what the grader noticed; ``failures``: exercise -> reason) so that no text a submission
controls (an exception message) is ever split or parsed again.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import resource
import secrets
import shutil
import string
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import compute_checksum, determine_grade, is_grade, is_locked, is_solution

from tools import sandbox

INSTALL_GUARD = """\
import lecture_utils.grading as _grading_module
__grading_guard__ = _grading_module.install_guard()
del _grading_module
__grading_guard__.check("{nonce}")"""
CHECK_GUARD = '__grading_guard__.check("{nonce}")'
# the kernel's CPU time, for the grading-time report (informational: the submission could fake it)
CPU_CLOCK = """import resource as _resource
_usage = _resource.getrusage(_resource.RUSAGE_SELF)
print("[grading cpu {nonce}]", _usage.ru_utime + _usage.ru_stime)"""
GUARD_LINE = "[grading guard {nonce}] "
MARKER_LINE = "[grading marker {nonce}]"
ROLE = "grading_role"  # metadata key for the cells the grader adds


@dataclass(frozen=True)
class Exercise:
    """One graded test cell of the reference notebook."""

    test_id: str
    points: float

    @property
    def name(self) -> str:
        return self.test_id.removesuffix("_tests")


def nbgrader_meta(cell: NotebookNode) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_test(cell: NotebookNode) -> bool:
    """An autograded test cell: a code cell that nbgrader grades and that holds no solution."""
    return cell.cell_type == "code" and bool(is_grade(cell)) and not is_solution(cell)


def exercises(reference: NotebookNode) -> list[Exercise]:
    """The reference notebook's graded test cells, in order."""
    return [Exercise(nbgrader_meta(c)["grade_id"], float(nbgrader_meta(c)["points"]))
            for c in reference.cells if is_test(c)]


def released_cells(reference: NotebookNode) -> dict[str, NotebookNode]:
    """The reference's graded and locked cells as nbgrader releases them (grade_id -> cell): nbgrader's
    ``ClearHiddenTests`` preprocessor run on a copy of the notebook removes the hidden-test regions (and
    refuses a hidden-test region outside a grade cell, as ``generate_assignment`` does)."""
    released, _ = ClearHiddenTests().preprocess(copy.deepcopy(reference), {})
    return {nbgrader_meta(c)["grade_id"]: c for c in released.cells
            if nbgrader_meta(c).get("grade_id") and is_locked(c)}


def _normalized(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _checksum(cell: NotebookNode) -> str | None:
    """nbgrader's checksum of a cell (source, type, role flags, grade_id, points), the source compared
    without trailing whitespace; None for a cell whose nbgrader metadata nbgrader cannot read."""
    normalized = copy.deepcopy(cell)
    normalized.source = _normalized(cell.get("source", ""))
    try:
        return compute_checksum(normalized)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


@dataclass
class Plan:
    """The notebook to execute and where the grader's cells are in it."""

    notebook: NotebookNode
    tests: dict[str, int] = field(default_factory=dict)  # test grade_id -> cell index
    guards: dict[str, int] = field(default_factory=dict)  # test grade_id -> index of the guard before it
    nonces: dict[int, str] = field(default_factory=dict)  # cell index -> nonce it must print
    notes: list[str] = field(default_factory=list)  # what the grader noticed while merging


def _grader_cell(source: str, role: str) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata[ROLE] = role
    return cell


def plan_grading(reference: NotebookNode, submission: NotebookNode) -> Plan:
    """Merge the submission with the reference's protected cells and add the grader's cells."""
    protected = {nbgrader_meta(c)["grade_id"]: c for c in reference.cells
                 if nbgrader_meta(c).get("grade_id") and is_locked(c)}
    solutions = {nbgrader_meta(c)["grade_id"]: c for c in reference.cells
                 if nbgrader_meta(c).get("grade_id") and is_solution(c)}
    released = released_cells(reference)
    plan = Plan(nbformat.v4.new_notebook(metadata=copy.deepcopy(reference.metadata)))
    cells = plan.notebook.cells
    nonce = secrets.token_hex(8)
    cells.append(_grader_cell(INSTALL_GUARD.format(nonce=nonce), "guard"))
    plan.nonces[0] = nonce
    seen: set[str] = set()
    for cell in submission.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type not in ("code", "markdown", "raw"):
            continue
        if grade_id in protected and grade_id not in seen:
            original = protected[grade_id]
            accepted = {_checksum(original), _checksum(released[grade_id])} - {None}
            if _checksum(cell) not in accepted:
                kind = "test" if is_test(original) else "locked"
                plan.notes.append(f"{kind} cell {grade_id} was edited: the original ran")
            new = copy.deepcopy(original)
        elif grade_id in solutions and grade_id not in seen:
            new = copy.deepcopy(solutions[grade_id])
            new.source = cell.source if cell.cell_type == "code" else ""
        else:
            if grade_id in seen:
                plan.notes.append(f"cell {grade_id} appears more than once: only the first one is graded")
            new = copy.deepcopy(cell)
            new.metadata.pop("nbgrader", None)
        if grade_id is not None:
            seen.add(grade_id)
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        if is_test(new):
            nonce, marker = secrets.token_hex(8), secrets.token_hex(8)
            plan.guards[grade_id] = len(cells)
            plan.nonces[len(cells)] = nonce
            cells.append(_grader_cell(CHECK_GUARD.format(nonce=nonce), "guard"))
            plan.tests[grade_id] = len(cells)
            plan.nonces[len(cells)] = marker
            new.source = new.source.rstrip() + f'\nprint("{MARKER_LINE.format(nonce=marker)}")'
        cells.append(new)
    plan.nonces[len(cells)] = nonce = secrets.token_hex(8)
    cells.append(_grader_cell(CPU_CLOCK.format(nonce=nonce), "clock"))
    for grade_id, original in protected.items():
        if grade_id not in seen:
            kind, detail = ("test", "scored 0") if is_test(original) else ("locked", "not run")
            plan.notes.append(f"{kind} cell {grade_id} was deleted: {detail}")
    for grade_id in solutions:
        if grade_id not in seen:
            plan.notes.append(f"answer cell {grade_id} was deleted")
    return plan


class RearmedChannel(AsyncZMQSocketChannel):
    """A channel whose sends cannot hide a message that has come in.

    jupyter_client's ``Session.send`` writes on a plain (blocking) shadow of the asyncio socket. That write
    also reads the socket's pending notifications, which drains the edge-triggered file descriptor that
    pyzmq's event-loop handler waits on, and pyzmq never hears of it: a reply that had just arrived then
    stays unread while the request waiting for it sleeps until its timeout, the kernel idle meanwhile
    (reproduced: a 1 s cell with one such send at the wrong moment took the whole 20 s timeout). Reading
    ``EVENTS`` through the asyncio socket after each send lets pyzmq see what is waiting and wake the
    waiter (the same fix ipykernel 7.4 made on the kernel's side, for its shell socket).
    """

    def send(self, msg: dict) -> None:
        super().send(msg)
        self.socket.get(zmq.EVENTS)


class GradingKernelClient(AsyncKernelClient):
    """nbclient's kernel client with :class:`RearmedChannel` for the channels the grader sends on."""

    shell_channel_class = RearmedChannel
    control_channel_class = RearmedChannel
    stdin_channel_class = RearmedChannel


NUDGE_AFTER = 5.0  # seconds without any message about a request before the grader nudges the kernel
IOPUB_WAIT = 60  # seconds nbclient waits, after a cell's reply, for its last outputs (its default: 4)


class GradingClient(NotebookClient):
    """nbclient's client, noting which cells ran into their timeout (nbclient then interrupted the kernel).

    The grader keeps no clock of its own per cell: nbclient's ``record_timing`` writes the kernel's
    timestamps of each request's busy and idle status and of its reply into the cell's metadata
    (``metadata.execution``); the watchdog and the diagnostics read them there.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, record_timing=True, **kwargs)
        self.timed_out: set[int] = set()  # id() of the cells whose timeout fired

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> None | dict:
        if cell is not None:
            self.timed_out.add(id(cell))
        return await super()._async_handle_timeout(timeout, cell)

    async def watch(self, cell: NotebookNode, cell_index: int) -> None:
        """Run beside each cell (cancelled when it ends). While the kernel has published nothing about the
        cell's request, or has published its end but its reply has not come, for ``NUDGE_AFTER`` seconds:

        1. Look at the grader's own shell and IOPub sockets. A message already waiting there while nbclient
           still waits means the grader's event loop missed the socket's (edge-triggered) wake-up; reading
           the socket's ``EVENTS`` makes pyzmq hand the message to the waiting request at once. Logged as
           ``waiting unread in the grader's ... socket``.
        2. Otherwise send the kernel a harmless request (``kernel_info``): a request or reply stranded in
           the kernel behind a missed wake-up of its event loop is read with the new one. Logged as
           ``nudged the kernel``.

        Both go to ``GRADING_LOG``; ``python -m tests.grading.load_check`` counts them (docs/instructors.md,
        "Stalls"). Which of the two fires tells on which side a stall sits."""
        nudges, log = 0, logging.getLogger("grading")
        while True:
            await asyncio.sleep(NUDGE_AFTER)
            marks = _timing(cell)
            if "busy" not in marks:
                why = "no message about the request"
            elif "idle" in marks and "reply" not in marks and time.time() - marks["idle"] >= NUDGE_AFTER:
                why = "the kernel went idle but its reply has not come"
            else:
                continue
            # nbclient waits on the shell socket for the reply, and on IOPub until the request's idle status
            channels = [("shell", self.kc.shell_channel)] + ([("IOPub", self.kc.iopub_channel)]
                                                            if "idle" not in marks else [])
            unread = [name for name, channel in channels
                      if channel.socket.get(zmq.EVENTS) & zmq.POLLIN]  # reading EVENTS also re-arms pyzmq
            if unread:
                log.warning("cell %d: %s: a message was waiting unread in the grader's %s socket (woken)",
                            cell_index, why, " and ".join(unread))
                continue
            self.kc.kernel_info()  # on a RearmedChannel: this send cannot itself hide a reply
            nudges += 1
            log.warning("cell %d: %s: nudged the kernel (%d)", cell_index, why, nudges)


def _timing(cell: NotebookNode) -> dict[str, float]:
    """The kernel's timestamps (seconds since the epoch) of a request's busy and idle status and of its
    reply, as nbclient recorded them in the cell's metadata; a key is absent until its message came."""
    marks = {}
    for key, name in (("iopub.status.busy", "busy"), ("iopub.status.idle", "idle"),
                      ("shell.execute_reply", "reply")):
        stamp = cell.get("metadata", {}).get("execution", {}).get(key)
        if stamp:
            marks[name] = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return marks


@dataclass
class Execution:
    """What the kernel said about each executed cell."""

    status: dict[int, str] = field(default_factory=dict)  # cell index -> execute reply status
    timed_out: set[int] = field(default_factory=set)  # cells whose timeout fired (nbclient interrupted them)
    killers: list[int] = field(default_factory=list)  # cells that stopped the kernel (skipped)
    restarts: list[str] = field(default_factory=list)  # report lines: a killer skipped, the kernel restarted
    stopped: str | None = None  # why execution stopped early, if it did


MAX_RESTARTS = 3  # kernels a notebook may stop (crash, os._exit, ignored interrupt) before grading gives up


async def execute(plan: Plan, *, cell_timeout: float, level: str, masked: list[str] | tuple[str, ...] = (),
                  fast: bool) -> Execution:
    """Run the planned notebook cell by cell in a fresh sandboxed kernel.

    A cell that stops the kernel (it crashes, calls ``os._exit``, or ignores the interrupt after a timeout)
    is skipped and reported: a new kernel replays the cells before it (those that ran to their end; their
    outputs and statuses from the first run are kept) and execution goes on after it, so it costs only its
    own exercise. After ``MAX_RESTARTS`` such cells the remaining ones are not run.
    """
    result = Execution()
    first = 0
    while True:
        killer = await _run_kernel(plan, result, first, cell_timeout=cell_timeout, level=level, masked=masked,
                                   fast=fast)
        if killer is None:
            return result
        index, error = killer
        result.killers.append(index)
        if len(result.killers) > MAX_RESTARTS:
            result.stopped = f"cell {index} stopped the kernel ({error}); {MAX_RESTARTS} restarts already: " \
                             "the cells after it were not run"
            return result
        result.restarts.append(f"cell {index} stopped the kernel ({error}): skipped; a new kernel replayed the "
                               "cells before it and went on")
        first = index + 1


def _replayable(plan: Plan, result: Execution, index: int) -> bool:
    """Whether a cell that ran before a killer is run again in the new kernel (it ran to its end)."""
    cell = plan.notebook.cells[index]
    return (cell.cell_type == "code" and index not in result.killers and index in result.status
            and index not in result.timed_out)


def kernel_manager(scratch: Path, level: str, masked: list[str] | tuple[str, ...] = ()) -> AsyncKernelManager:
    """The manager of one grading kernel. Its five channels are Unix sockets (ZeroMQ ``ipc``) named
    ``kernel-<n>`` inside its own fresh scratch folder, never TCP ports: no other kernel on the machine (a
    second grading worker's, nbval's, JupyterLab's) can be offered or take the same endpoint between the
    moment the grader picks it and the moment the sandboxed kernel binds it."""
    specs = sandbox.SandboxSpecs(sandbox.kernel_argv(level, scratch, masked))
    km = AsyncKernelManager(kernel_name="sandbox", transport="ipc", ip=str(scratch / "kernel"),
                            kernel_spec_manager=specs, client_factory=GradingKernelClient)
    km.connection_file = str(scratch / "kernel.json")
    return km


async def _run_kernel(plan: Plan, result: Execution, first: int, *, cell_timeout: float, level: str,
                      masked: list[str] | tuple[str, ...], fast: bool) -> tuple[int, str] | None:
    """One kernel: replay the cells before ``first`` that ran, then run the cells from ``first`` on.

    Returns ``(index, reason)`` of a cell that stopped the kernel, or None when every cell ran.
    """
    scratch = sandbox.make_scratch()
    replay = [i for i in range(first) if _replayable(plan, result, i)]
    recording = {"on": False}
    try:
        km = kernel_manager(scratch, level, masked)

        def on_executed(cell: NotebookNode, cell_index: int, execute_reply: dict) -> None:
            if recording["on"]:
                result.status[cell_index] = execute_reply["content"]["status"]

        client = GradingClient(
            plan.notebook, km=km, timeout=cell_timeout, interrupt_on_timeout=True, allow_errors=True,
            iopub_timeout=IOPUB_WAIT,
            startup_timeout=max(60, cell_timeout), resources={"metadata": {"path": str(scratch)}},
            on_cell_executed=on_executed, shutdown_kernel="immediate",
            # the grader's first cell imports torch: on a busy machine that alone can take a while
            timeout_func=lambda cell: max(cell_timeout, 300) if cell.metadata.get(ROLE) else cell_timeout,
        )
        quiet = subprocess.DEVNULL
        env = sandbox.kernel_env(scratch, fast=fast, level=level)
        async with client.async_setup_kernel(env=env, cwd=str(scratch), stdin=quiet, stdout=quiet, stderr=quiet):
            for index in replay:  # into copies: the first run's outputs and statuses are what is graded
                try:
                    await asyncio.wait_for(client.async_execute_cell(copy.deepcopy(plan.notebook.cells[index]),
                                                                     index), 2 * cell_timeout + 30)
                except Exception as error:  # a replayed cell stopped this kernel too: give up on it
                    return index, f"on replay: {type(error).__name__}"
            recording["on"] = True
            for index in range(first, len(plan.notebook.cells)):
                cell = plan.notebook.cells[index]
                if cell.cell_type != "code":
                    continue
                sent = time.time()  # the kernel stamps its messages with this clock too
                nudger = asyncio.ensure_future(client.watch(cell, index))
                try:
                    await asyncio.wait_for(client.async_execute_cell(cell, index), 2 * cell_timeout + 30)
                except Exception as error:  # the kernel died or ignored the interrupt
                    return index, type(error).__name__
                finally:
                    nudger.cancel()
                    if id(cell) in client.timed_out:
                        result.timed_out.add(index)
                    _log_wait(cell, index, sent)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return None


def _log_wait(cell: NotebookNode, index: int, sent: float) -> None:
    """Log a cell the grader waited for much longer than the kernel worked on it (to ``GRADING_LOG``).

    nbclient records the kernel's own timestamps of the request's busy and idle status messages and of
    its reply: they tell a stuck request (no busy for a long time) from a lost reply or a slow client.
    """
    waited = time.time() - sent
    marks = {name: stamp - sent for name, stamp in _timing(cell).items()}
    worked = marks["idle"] - marks["busy"] if {"busy", "idle"} <= marks.keys() else None
    if waited > 10 and (worked is None or waited > worked + 10):
        logging.getLogger("grading").warning(
            "cell %d: waited %.1f s, the kernel worked %s s; after the request: %s", index, waited,
            "?" if worked is None else f"{worked:.1f}", ", ".join(f"{k} at +{v:.1f} s" for k, v in marks.items()))


def _stdout(cell: NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.get("name") == "stdout")


def _error(cell: NotebookNode) -> dict | None:
    return next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)


def _one_line(text: str, limit: int = 160) -> str:
    """``text`` on one line (line breaks become spaces), cut to ``limit`` characters; nothing else changes."""
    text = " ".join(text.splitlines()).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _error_text(error: dict) -> str:
    return _one_line(f"{error.get('ename', 'Error')}: {error.get('evalue', '')}".strip().rstrip(":"))


def _verdict(cell: NotebookNode, points: float) -> tuple[float, str | None]:
    """nbgrader's own verdict on an executed test cell (``determine_grade``: an error output or anything
    written to stderr scores 0) as (points, reason for less than full points)."""
    earned, _ = determine_grade(cell)
    earned = 0.0 if earned is None else float(earned)
    if earned >= points:
        return points, None
    stderr = "".join(o.get("text", "") for o in cell.get("outputs", [])
                     if o.output_type == "stream" and o.get("name") == "stderr")
    return earned, ("wrote to stderr: " + _one_line(stderr) if stderr.strip() else "nbgrader's verdict on its output")


def score(reference: NotebookNode, plan: Plan, run: Execution, cell_timeout: float) -> dict:
    """Points per exercise, the grader's notes and each failed exercise's reason, kept apart (``notes``: a
    list of lines; ``failures``: test grade_id -> one line), from the executed notebook and the replies."""
    cells, report = plan.notebook.cells, list(plan.notes)
    restored: list[str] = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        error = _error(cell)
        if index in run.timed_out and error is not None and error.get("ename") == "KeyboardInterrupt":
            role = nbgrader_meta(cell).get("grade_id") or f"cell {index}"
            report.append(f"{role} timed out after {cell_timeout:g} s (interrupted)")
        if cell.metadata.get(ROLE) == "guard":
            line = next((ln for ln in _stdout(cell).splitlines()
                         if ln.startswith(GUARD_LINE.format(nonce=plan.nonces[index]))), None)
            if line and "restored: " in line:
                restored += [n for n in line.split("restored: ", 1)[1].split(", ") if n not in restored]
    if restored:
        report.append("the submission replaced " + ", ".join(restored) + " (restored before the tests)")
    report += run.restarts
    if run.stopped:
        report.append(run.stopped)
    points, failures = {}, {}
    for exercise in exercises(reference):
        test = plan.tests.get(exercise.test_id)
        points[exercise.test_id] = 0.0
        if test is None:
            failures[exercise.test_id] = "test cell deleted"
            continue
        guard = plan.guards[exercise.test_id]
        guard_ran = GUARD_LINE.format(nonce=plan.nonces[guard]) in _stdout(cells[guard])
        cell, error = cells[test], _error(cells[test])
        if test in run.killers:
            failures[exercise.test_id] = "the test cell stopped the kernel"
        elif test not in run.status:
            failures[exercise.test_id] = "not run: " + (run.stopped or "execution stopped")
        elif not guard_ran and (guard in run.status or guard in run.killers):
            failures[exercise.test_id] = "the grader's check before the tests did not run"
            report.append(f"{exercise.test_id}: the grader's check before it did not run "
                          "(the submission interfered with execution): scored 0")
        elif error is not None or run.status[test] != "ok":
            failures[exercise.test_id] = _error_text(error) if error else "the kernel reported an error"
        elif MARKER_LINE.format(nonce=plan.nonces[test]) not in _stdout(cell):
            failures[exercise.test_id] = "did not run to its end"
            report.append(f"{exercise.test_id} did not run to its end (output suppressed?): scored 0")
        else:
            points[exercise.test_id], reason = _verdict(cell, exercise.points)
            if reason is not None:
                failures[exercise.test_id] = reason
    clock = len(cells) - 1
    reading = _stdout(cells[clock]).split(f"[grading cpu {plan.nonces[clock]}]")
    kernel_cpu = float(reading[1].split()[0]) if len(reading) == 2 else 0.0
    return {"points": points, "notes": report, "failures": failures, "kernel_cpu_seconds": kernel_cpu}


def _literal(text: str) -> str:
    """``text`` for a markdown cell, shown exactly as it is: every ASCII punctuation character becomes a
    numeric character reference, so no ``|``, ``*``, backtick or ``<`` in an exception message can end a
    table cell, start emphasis or inject HTML."""
    return "".join(f"&#{ord(ch)};" if ch in string.punctuation else ch for ch in text)


def feedback_notebook(reference: NotebookNode, plan: Plan, result: dict, title: str) -> NotebookNode:
    """The executed notebook as the student sees it back: no grader cells, no hidden tests, scores on top."""
    released = {grade_id: c.source for grade_id, c in released_cells(reference).items() if is_test(c)}
    markers = set(plan.nonces.values())
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(plan.notebook.metadata))
    rows = ["| Упражнение (exercise) | Баллы (points) | Комментарий |", "|---|---|---|"]
    for exercise in exercises(reference):
        earned = result["points"][exercise.test_id]
        rows.append(f"| {exercise.name} | {earned:g} / {exercise.points:g} | "
                    f"{_literal(_one_line(result['failures'].get(exercise.test_id, 'ok'), 10_000))} |")
    notes = "\n".join(f"- {_literal(_one_line(line, 10_000))}" for line in result["notes"])
    head = f"# {title}\n\n" + "\n".join(rows) + ("\n\n" + notes if notes else "")
    nb.cells.append(nbformat.v4.new_markdown_cell(head))
    for cell in plan.notebook.cells:
        if cell.metadata.get(ROLE):
            continue
        cell = copy.deepcopy(cell)
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in released:
            cell.source = released[grade_id]
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [_error_text(output)]
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                output.text = "".join(line for line in output.text.splitlines(keepends=True)
                                      if not any(m in line for m in markers))
        nb.cells.append(cell)
    return nb


def grade_notebook(request: dict) -> dict:
    """Grade one (student, notebook) pair; ``request`` is what tools/assignments.py sends."""
    start = time.perf_counter()
    reference = nbformat.from_dict(request["reference"])
    submission = nbformat.from_dict(request["submission"])
    plan = plan_grading(reference, submission)
    run = asyncio.run(execute(plan, cell_timeout=request["cell_timeout"], level=request["isolation"],
                              masked=request.get("masked", ()), fast=request["fast"]))
    result = score(reference, plan, run, request["cell_timeout"])
    feedback = feedback_notebook(reference, plan, result, request["title"])
    result["feedback_html"] = HTMLExporter().from_notebook_node(feedback)[0]
    result["seconds"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = result.pop("kernel_cpu_seconds") + usage.ru_utime + usage.ru_stime
    return result


def main() -> int:
    log = os.environ.get("GRADING_LOG")  # where the worker's warnings go (nbclient's, jupyter_client's)
    if log:
        logging.basicConfig(filename=log, level=logging.WARNING,
                            format=f"%(asctime)s worker {os.getpid()} %(name)s %(levelname)s %(message)s")
    request = json.load(sys.stdin)
    json.dump(grade_notebook(request), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
