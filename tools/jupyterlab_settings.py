"""Write JupyterLab settings overrides into a virtual environment: no news or update pop-ups.

Usage: ``python -m tools.jupyterlab_settings VENV``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def write_overrides(venv: Path) -> Path:
    """Create ``<venv>/share/jupyter/lab/settings/overrides.json`` and return its path."""
    path = venv / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(OVERRIDES, indent=2) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tools.jupyterlab_settings VENV")
    write_overrides(Path(sys.argv[1]))
