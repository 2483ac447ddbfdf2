"""Helpers shared by the notebooks of lecture 6 ("RNN-сети").

The notebooks import the few names below; everything else lives in the submodules
(``lecture_utils.cells``, ``lecture_utils.data.*``, ``lecture_utils.models.*``, ...).
"""

from lecture_utils.checks import CheckFailed, check, check_close
from lecture_utils.repro import fast_mode, pick_device, seed_everything, setup
from lecture_utils.training import History, fit

__all__ = [
    "CheckFailed",
    "History",
    "check",
    "check_close",
    "fast_mode",
    "fit",
    "pick_device",
    "seed_everything",
    "setup",
]
