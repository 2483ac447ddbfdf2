"""How long a dependency each recurrent cell learns on the adding problem within a fixed budget.

Run from the repository root with one thread (``make bench`` does):
``python benchmarks/bench_long_memory.py``.
Writes ``build/bench/long_memory.json``.

Protocol: for each cell (``rnn``, ``lstm``, ``gru``; one layer of 32 units, LSTM forget bias 1), train
:func:`lecture_utils.models.long_memory.train_adding` for ``STEPS`` Adam steps (batch 64, lr 1e-2,
clipping at norm 1, seed 0) at the lags 10, 20, 40, 80, 160, ... and stop at the first lag it does not
solve (test MSE on 1,000 fresh sequences below 10% of the chance level 1/6), or at ``MAX_LAG``.
Recorded per cell: ``largest_lag`` (the longest solved lag, 0 if none), ``seconds_at_largest_lag`` (CPU
seconds, ``time.process_time``, of training at that lag), ``seconds_total`` and every lag's test MSE.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lecture_utils import seed_everything  # noqa: E402
from lecture_utils.data.long_memory import ADDING_CHANCE_MSE  # noqa: E402
from lecture_utils.models.long_memory import train_adding  # noqa: E402

STEPS = int(os.environ.get("BENCH_LONG_MEMORY_STEPS", "800"))
FIRST_LAG, MAX_LAG = 10, 320
CELLS = ("rnn", "lstm", "gru")


def sweep(cell: str) -> dict:
    """Double the lag until ``cell`` fails; what it solved, at what cost."""
    lag, largest, seconds_at_largest, rows = FIRST_LAG, 0, 0.0, []
    while lag <= MAX_LAG:
        result = train_adding(cell, lag, steps=STEPS, progress=False)
        rows.append({"lag": lag, "test_mse": round(result.test_mse, 5), "solved": result.solved,
                     "seconds": round(result.seconds, 2)})
        share = result.test_mse / ADDING_CHANCE_MSE
        print(f"{cell:>5} T={lag:<4} test MSE {result.test_mse:.4f} ({share:.3f} of chance) "
              f"{'solved' if result.solved else 'not solved'} in {result.seconds:.1f} s", flush=True)
        if not result.solved:
            break
        largest, seconds_at_largest = lag, result.seconds
        lag *= 2
    return {"largest_lag": largest, "seconds_at_largest_lag": round(seconds_at_largest, 2),
            "seconds_total": round(sum(r["seconds"] for r in rows), 2), "runs": rows}


def main() -> None:
    seed_everything(0, threads=1)
    results = {"steps": STEPS, "batch": 64, "hidden": 32, "max_lag": MAX_LAG,
               "solved_means": "test MSE < 0.1 * 1/6", **{cell: sweep(cell) for cell in CELLS}}
    out = ROOT / "build" / "bench" / "long_memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print("largest lag solved:", {c: results[c]["largest_lag"] for c in CELLS}, f"-> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
