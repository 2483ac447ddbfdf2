"""Grade the 20-student fixture of tests/test_grading.py N times in a row, optionally under load; report per run.

``python -m tests.grading.load_check [--runs 10] [--load 1]`` (from the repository root, ``.venv/bin/python``).
``--load K`` starts K CPU-burning processes for the whole measurement (another job on the machine).
Per run: wall seconds, the slowest pair whose submission neither loops nor kills its kernel, every score
that differs from tests/test_grading.py's EXPECTED, every "timed out" or "stopped the kernel" report line
where the submission does not loop or kill, and the counts of the workers' warnings (``GRADING_LOG``):
nudges (a request or reply stranded in the kernel), messages found waiting unread in the grader's own
sockets (a wake-up missed on the grader's side), cells waited for 10 s longer than the kernel worked,
nbclient's reply and IOPub timeouts (the reply timeouts of the two looping submissions are expected).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.test_grading import EXPECTED, FIXTURE, FIXTURE_CELL_TIMEOUT, STUDENTS, fixture_submissions  # noqa: E402


def burn() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--load", type=int, default=1)
    args = parser.parse_args()
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.load)]
    for b in burners:
        b.start()
    tmp = Path(tempfile.mkdtemp(prefix="load-check-"))
    failures = 0
    try:
        submissions = fixture_submissions(tmp)
        for run in range(1, args.runs + 1):
            out = tmp / f"out{run}"
            out.mkdir()
            env = dict(os.environ, GRADING_LOG=str(out / "worker.log"))
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "tools.assignments", "grade", str(submissions), "--source",
                                   str(FIXTURE / "source"), "--out", str(out), "--jobs", "2", "--cell-timeout",
                                   str(FIXTURE_CELL_TIMEOUT)], cwd=ROOT, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                print(f"run {run}: grading failed: {done.stderr[-2000:]}", flush=True)
                failures += 1
                continue
            with open(out / "grades.csv", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            problems, slowest = [], (0.0, "")
            for row in rows:
                case = STUDENTS[row["student"]]
                points, phrases = EXPECTED[case][row["notebook"]]
                if {k: float(row[k]) for k in points} != points:
                    problems.append(f"{row['student']}/{row['notebook']}: scores {row['report']}")
                for event in ("timed out", "stopped the kernel"):  # only where the submission loops or kills
                    if event in row["report"] and not any(event in p for p in phrases):
                        problems.append(f"{row['student']}/{row['notebook']}: {row['report']}")
                if not any("timed out" in p or "stopped the kernel" in p for p in phrases):
                    slowest = max(slowest, (float(row["seconds"]), f"{row['student']}/{row['notebook']}"))
            log = (out / "worker.log").read_text() if (out / "worker.log").exists() else ""
            counts = {"nudges": log.count("nudged the kernel"),
                      "grader-side wake-ups": log.count("waiting unread in the grader's"),
                      "long waits": log.count(" waited "),
                      "iopub timeouts": log.count("Timeout waiting for IOPub"),
                      "reply timeouts": log.count("Timeout waiting for execute reply")}
            failures += bool(problems)
            notes = [line.split(" grading WARNING ", 1)[1] for line in log.splitlines() if " grading WARNING " in line]
            print(f"run {run}: {seconds:.1f} s; slowest pair that neither loops nor kills {slowest[0]:.1f} s "
                  f"({slowest[1]}); worker log {counts}; problems: {problems or 'none'}"
                  + "".join(f"\n    {note}" for note in notes[:8]), flush=True)
    finally:
        for b in burners:
            b.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
