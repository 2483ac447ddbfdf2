"""JupyterLab as a student meets it, in a real browser: Debian's Chromium driven by Playwright.

A JupyterLab from the project's venv serves a copy of the notebooks (outputs cleared) in fast mode
(``LECTURE_FAST=1``) on a free loopback port with a token, as a first-time user (empty user settings and
workspaces; the venv's settings overrides apply). Each notebook is opened in headless Chromium and run
with Run > Run All Cells; the test checks that no pop-up shows, the course kernel is selected, every
code cell ran without an error (except cells tagged ``raises-exception``), every cell tagged ``widget``
renders its widgets, moving a slider changes what its cell shows, and progress bars are widgets.
Screenshots and timings land in ``build/screenshots/``. The server is stopped by its PID (and any
kernel that outlives it by its own PID) in the fixture's teardown, also when a test fails or the run
gets SIGTERM. Run it through ``make test``, which sets ``LECTURE_DATA_DIR`` for the tagger notebook.
Skipped, with a message, where ``/usr/bin/chromium`` is absent (``apt-get install -y chromium``; never
``playwright install``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import nbformat
import psutil
import pytest
from jupyterlab.commands import get_app_dir

ROOT = Path(__file__).resolve().parents[1]
from tools.execute_notebooks import KERNELSPEC
from tools.lab_environment import KERNEL_ENV, OVERRIDES, write_overrides

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--disable-sync"]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
SCREENSHOTS = ROOT / "build" / "screenshots"
SERVER_START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 900  # one notebook in fast mode, Run All to the last cell (a loaded 2-core machine is slow)
WIDGET_TIMEOUT_S = 60
TQDM_TEXT = re.compile(r"\d+%\|")  # tqdm's text bar, "train:  40%|####      | 8/20 [...]"
POPUPS = ".jp-Dialog, .Toastify__toast"


@dataclass
class Lab:
    """A running JupyterLab: its base URL, token, the folder it serves and its process."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cleared_copy(path: Path, folder: Path) -> Path:
    """The notebook without outputs, so that everything the browser shows comes from this run."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    target = folder / path.name
    nbformat.write(nb, target)
    return target


def stop(process: subprocess.Popen) -> None:
    """Stop the server by its PID, then any kernel it started that outlived it (kernels run in their
    own sessions, so they are found as the server's children, by PID, before it is stopped)."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.terminate()  # the server shuts its kernels down on SIGTERM
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def _exit_on_sigterm(signum, frame):  # a CI timeout sends SIGTERM: run the teardown, then exit
    raise SystemExit(128 + signum)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.skip(f"real-browser test skipped: Debian's Chromium ({CHROMIUM}) is absent; "
                    "install it with `apt-get install -y chromium` (CI's .ci/run does)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing: make venv")
    return CHROMIUM


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory) -> Lab:
    jupyter = Path(sys.executable).parent / "jupyter"
    if not jupyter.is_file():
        pytest.skip(f"no {jupyter}: run the tests with the project's venv (make test)")
    home = tmp_path_factory.mktemp("lab")
    served = home / "notebooks"
    served.mkdir()
    for path in NOTEBOOKS:
        cleared_copy(path, served)
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # Agg would hide the figures
    env.update(LECTURE_FAST="1", **KERNEL_ENV,
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={served}",
         f"--LabApp.user_settings_dir={home / 'user-settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}"],
        cwd=served, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    server = Lab(f"http://127.0.0.1:{port}", token, served, process)
    previous_handler = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (home / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"JupyterLab did not start (exit code {process.poll()}):\n{tail}")
            try:
                server.api("/api/status")
                break
            except OSError:
                time.sleep(0.3)
        yield server
    finally:
        stop(process)
        log.close()
        signal.signal(signal.SIGTERM, previous_handler)


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    # Screenshots otherwise wait for document.fonts.ready, which a notebook with formulas (MathJax fonts
    # that never finish loading offline) can keep pending forever, past the screenshot's own timeout.
    os.environ.setdefault("PW_TEST_SCREENSHOT_NO_FONTS_READY", "1")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def timings():
    """Seconds per notebook, written to build/screenshots/timings.json when the module ends."""
    table: dict[str, dict[str, float]] = {}
    (SCREENSHOTS / "timings.json").unlink(missing_ok=True)
    yield table
    if table:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        total = round(sum(t["total_s"] for t in table.values()), 1)
        (SCREENSHOTS / "timings.json").write_text(json.dumps({"notebooks": table, "total_s": total}, indent=2))


def test_settings_overrides_are_valid_jupyterlab_settings(tmp_path):
    path = write_overrides(tmp_path)
    assert json.loads(path.read_text()) == OVERRIDES
    schemas = Path(get_app_dir()) / "schemas"
    for plugin, values in OVERRIDES.items():
        package, _, name = plugin.partition(":")
        schema = json.loads((schemas / package / f"{name}.json").read_text())
        assert set(values) <= set(schema["properties"]), f"{plugin}: unknown setting in {sorted(values)}"
        jsonschema.validate(values, schema)


@pytest.mark.browser
def test_lab_serves_the_course_kernel_from_the_venv(lab):
    specs = lab.api("/api/kernelspecs")
    spec = specs["kernelspecs"][KERNELSPEC["name"]]["spec"]
    assert spec["display_name"] == KERNELSPEC["display_name"]
    assert Path(spec["argv"][0]).parent == Path(sys.executable).parent, f"the kernel runs {spec['argv'][0]}"


def run_state(page) -> dict:
    """How many code cells show an execution count ([n]), and which cells (by index) show a traceback."""
    return page.evaluate("""() => {
        const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
        const numbered = cells.filter(c => c.classList.contains('jp-CodeCell') &&
            /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').textContent)).length;
        const failed = cells.map((c, i) => [c, i]).filter(([c]) => [...c.querySelectorAll(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
            .some(o => o.textContent.includes('Traceback (most recent call last)'))).map(([c, i]) => i);
        return {numbered, failed};
    }""")


def run_all_cells(page, lab: Lab, path: Path, expected: int, may_fail: set[int]) -> None:
    """Run > Run All Cells; wait until ``expected`` cells show a count, or until a cell not meant to
    fail shows a traceback (JupyterLab then skips the rest) and the kernel is idle."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        state = run_state(page)
        if state["numbered"] >= expected:
            return
        if set(state["failed"]) - may_fail and all(k["execution_state"] == "idle" for k in lab.api("/api/kernels")):
            return
        page.wait_for_timeout(500)
    pytest.fail(f"{path.name}: {run_state(page)['numbered']} of {expected} cells ran in {RUN_TIMEOUT_S} s")


def save(page, path: Path) -> nbformat.NotebookNode:
    """Save the notebook from the browser (Ctrl+S) and read back what JupyterLab wrote."""
    before = path.stat().st_mtime_ns
    page.locator('.jp-NotebookPanel-toolbar [data-command="docmanager:save"]').first.click()
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == before:
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name}: JupyterLab did not save the notebook")
        time.sleep(0.2)
    time.sleep(0.5)
    return nbformat.read(path, as_version=4)


def output_signature(cell) -> str:
    """What a cell's output area shows: images and texts, without the sliders' own readouts."""
    return cell.evaluate("""el => JSON.stringify([
        [...el.querySelectorAll('.jp-OutputArea img')].map(i => i.src),
        [...el.querySelectorAll('.jp-OutputArea .jp-RenderedText, .jp-OutputArea .jp-RenderedHTMLCommon,'
                                + ' .jp-OutputArea .widget-html-content, .jp-OutputArea svg')]
            .map(e => e.textContent)])""")


def move_slider(page, cell, name: str, index: int) -> None:
    """Press an arrow key on the cell's first slider; what the cell shows must change."""
    handle = cell.locator(".noUi-handle").first
    before = output_signature(cell)
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.focus()
    page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
    deadline = time.monotonic() + WIDGET_TIMEOUT_S
    while output_signature(cell) == before:
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: cell {index}: moving the slider did not change what the cell shows")
        page.wait_for_timeout(250)
    page.wait_for_timeout(500)  # let a redrawn figure settle before the screenshot


def kernel_cpu_seconds(lab: Lab) -> float:
    """CPU time (user + system) of the kernels the server runs now: the current notebook's kernel."""
    total = 0.0
    for child in psutil.Process(lab.process.pid).children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def is_tqdm_widget(output: nbformat.NotebookNode) -> bool:
    data = output.get("data", {})
    return "application/vnd.jupyter.widget-view+json" in data and bool(TQDM_TEXT.search(data.get("text/plain", "")))


def check_outputs(nb: nbformat.NotebookNode, name: str) -> None:
    """Every code cell ran; errors only where meant; progress bars are widgets, never text."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        where = f"{name}: cell {index} ({cell.source.splitlines()[0][:60]!r})"
        assert cell.execution_count is not None, f"{where} did not run (an earlier cell failed?)"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" not in cell.metadata.get("tags", []):
            assert not errors, f"{where} shows an error: {errors[0].ename}: {errors[0].evalue}"
        text = [o.text for o in cell.outputs if o.output_type == "stream"]
        assert not any(TQDM_TEXT.search(t) for t in text), f"{where} prints a text progress bar, not a widget"


@pytest.mark.browser
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_working_widgets_in_jupyterlab(lab, browser, timings, path):
    name, started = path.stem, time.monotonic()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob(f"{name}*.png"):
        old.unlink()
    served = lab.root / path.name
    in_file = nbformat.read(served, as_version=4)
    assert in_file.metadata.get("kernelspec") == KERNELSPEC, f"{name}: not the course kernel (make execute)"
    cells_in_file = in_file.cells
    code_cells = sum(c.cell_type == "code" and bool(c.source.strip()) for c in cells_in_file)
    may_fail = {i for i, c in enumerate(cells_in_file) if "raises-exception" in c.metadata.get("tags", [])}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WIDGET_TIMEOUT_S * 1000)
    try:
        page.goto(f"{lab.url}/lab/workspaces/{name}/tree/{path.name}?reset&token={lab.token}")
        cells = page.locator(".jp-Notebook .jp-Cell")
        kernel = page.locator(".jp-Toolbar-kernelName").first
        page.wait_for_function(
            "([n, k]) => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n"
            " && [...document.querySelectorAll('.jp-Toolbar-kernelName')].some(e => e.innerText.trim() === k)",
            arg=[len(cells_in_file), KERNELSPEC["display_name"]], timeout=60_000,
        )
        assert kernel.inner_text().strip() == KERNELSPEC["display_name"]
        page.wait_for_timeout(1000)  # pop-ups (news, kernel choice) show within a moment of loading
        assert page.locator(POPUPS).count() == 0, f"{name}: a pop-up: {page.locator(POPUPS).all_inner_texts()}"
        loaded = time.monotonic()

        run_all_cells(page, lab, path, code_cells, may_fail)
        ran = time.monotonic()
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        nb = save(page, served)
        check_outputs(nb, name)

        bars = 0
        for index, cell_model in enumerate(nb.cells):
            cell = cells.nth(index)
            tqdm_outputs = sum(map(is_tqdm_widget, cell_model.get("outputs", [])))
            if tqdm_outputs:
                cell.locator(".widget-hprogress .progress-bar").first.wait_for(timeout=WIDGET_TIMEOUT_S * 1000)
                bars += tqdm_outputs
            if "widget" not in cell_model.metadata.get("tags", []):
                continue
            cell.scroll_into_view_if_needed()
            cell.locator(".jp-Cell-outputArea .jupyter-widgets").first.wait_for(timeout=WIDGET_TIMEOUT_S * 1000)
            shown = cell.locator(".jp-Cell-outputArea").inner_text()
            assert "Error displaying widget" not in shown and "Loading widget" not in shown, f"{name}: cell {index}"
            cell.screenshot(path=str(SCREENSHOTS / f"{name}-cell{index:02d}-widget.png"))
            if cell.locator(".noUi-handle").count():
                move_slider(page, cell, name, index)
                cell.screenshot(path=str(SCREENSHOTS / f"{name}-cell{index:02d}-slider-moved.png"))
        assert page.locator(POPUPS).count() == 0, f"{name}: a pop-up: {page.locator(POPUPS).all_inner_texts()}"
        timings[name] = {"load_s": round(loaded - started, 1), "run_all_s": round(ran - loaded, 1),
                         "widget_checks_s": round(time.monotonic() - ran, 1),
                         "total_s": round(time.monotonic() - started, 1), "progress_bars": bars,
                         "kernel_cpu_s": round(kernel_cpu_seconds(lab), 1)}
    except BaseException:
        page.screenshot(path=str(SCREENSHOTS / f"{name}-failure.png"), timeout=15_000)
        raise
    finally:
        page.close()
        for session in lab.api("/api/sessions"):  # one kernel at a time on a small machine
            lab.api(f"/api/sessions/{session['id']}", method="DELETE")
