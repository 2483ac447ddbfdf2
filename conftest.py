"""Repository-wide pytest settings: nbval's output timeout for the notebooks, the time each test file took,
a fixture for the unit tests."""

from __future__ import annotations

from collections import defaultdict

import pytest

# nbval waits a fixed 5 s for each further output message of a cell after the kernel's reply; on a
# busy 2-core machine (two xdist workers, each with a kernel, plus the grader) that gap can be longer,
# and a correct notebook then fails with "Timeout of 5 seconds exceeded waiting for output".
NBVAL_OUTPUT_TIMEOUT_SECONDS = 120


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's IPyNbCell
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_SECONDS


# Seconds of test time per file (setup, call and teardown of each test; for a notebook, of its cells), summed in
# the main process from the reports of every xdist worker, and printed at the end of the run.
SECONDS_PER_FILE: defaultdict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    SECONDS_PER_FILE[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if not SECONDS_PER_FILE:
        return
    terminalreporter.write_sep("-", "seconds of test time per file (the workers run side by side)")
    for path, seconds in sorted(SECONDS_PER_FILE.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{seconds:8.1f}  {path}")
    terminalreporter.write_line(f"{sum(SECONDS_PER_FILE.values()):8.1f}  in all")


@pytest.fixture
def record_bars(monkeypatch):
    """``bars = record_bars(module)``: every ``tqdm`` bar ``module`` creates during the test, in order."""

    def record(module) -> list:
        bars = []

        class Bar(module.tqdm):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                bars.append(self)

        monkeypatch.setattr(module, "tqdm", Bar)
        return bars

    return record
