"""Repository-wide pytest settings: nbval's output timeout for the notebooks, a fixture for the unit tests."""

from __future__ import annotations

import pytest

# nbval waits a fixed 5 s for each further output message of a cell after the kernel's reply; on a
# busy 2-core machine (two xdist workers, each with a kernel, plus the grader) that gap can be longer,
# and a correct notebook then fails with "Timeout of 5 seconds exceeded waiting for output".
NBVAL_OUTPUT_TIMEOUT_SECONDS = 120


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's IPyNbCell
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_SECONDS


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
