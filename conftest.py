"""Repository-wide pytest settings for the notebooks run by nbval."""

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
