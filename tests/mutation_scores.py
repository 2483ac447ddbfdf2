"""Per-module mutation score of the last ``make mutate`` (not a test: pytest collects only ``test_*.py``).

Reads mutmut's ``mutants/**/*.py.meta`` files. A mutant is *killed* when a selected test failed, errored or
timed out with it; *survived* when every test passed; *no tests* when no selected test calls its function
(a gap as real as a survivor). Score = killed / (killed + survived + no tests); mutants not checked yet
are listed apart. Run: ``python tests/mutation_scores.py [mutants]``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def scores(root: Path) -> list[tuple[str, Counter]]:
    rows = []
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"].values()
        statuses = Counter(status_by_exit_code[code] for code in codes)
        rows.append((str(meta.relative_to(root))[: -len(".meta")], statuses))
    return rows


def main(root: Path) -> None:
    print(f"{'module':44s} {'killed':>6s} {'judged':>6s} {'score':>6s}  survived, no tests, not checked")
    for module, s in scores(root):
        killed = sum(n for status, n in s.items() if status in KILLED)
        judged = killed + s["survived"] + s["no tests"]
        score = f"{killed / judged:.0%}" if judged else "-"
        print(f"{module:44s} {killed:6d} {judged:6d} {score:>6s}  {s['survived']}, {s['no tests']}, {s['not checked']}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "mutants"))
