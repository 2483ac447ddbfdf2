"""Results over seeds, without torch: per-seed values, their summary, and the course's verdict rule.

The verdict rule (docs/authoring.md, "Verdicts"): a notebook declares, before its experiments, the few
questions it answers with a verdict (:class:`Question`, in its configuration cell). Each is answered from
per-seed values, at least :data:`MIN_SEEDS` per arm, by the exact permutation p-value of the difference in
means (:func:`permutation_p`), Holm-adjusted over the notebook's questions (:func:`holm`); the words
"лучше"/"хуже" need an adjusted p of at most :data:`ALPHA`, otherwise "нет явной разницы"
(:func:`verdict_table`). Everything else is described (means, ranges) without verdict words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb

ALPHA = 0.05
# Three seeds against three can never reach p < 0.1 (2 of the C(6, 3) = 20 splits are as extreme as a
# complete separation); five against five can reach 2 / C(10, 5) = 2/252, about 0.008.
MIN_SEEDS = 5


def seed_values(table: list[dict], regime: str, column: str, step: int) -> list[float]:
    """The per-seed values of ``column`` for ``regime`` at ``step`` (rows of :func:`results_table`; rows
    without ``column``, such as earlier checkpoints for final-only columns, are skipped)."""
    columns = {key for row in table for key in row}
    if table and column not in columns:
        raise ValueError(f"column: expected one of {sorted(columns)}, got {column!r}")
    return [float(row[column]) for row in table if row["regime"] == regime and row["step"] == step and column in row]


def format_seed_table(table: list[dict], columns: list[str], step: int, regimes: list[str] | None = None) -> str:
    """Every seed's value of each of ``columns`` at ``step``, one line per regime and seed (3 decimals)."""
    regimes = regimes or list(dict.fromkeys(row["regime"] for row in table))
    lines = [f"{'режим':<20}{'зерно':>6}" + "".join(f"{c:>{max(9, len(c) + 1)}}" for c in columns)]
    for regime in regimes:
        for row in table:
            if row["regime"] == regime and row["step"] == step and all(c in row for c in columns):
                cells = "".join(f"{float(row[c]):>{max(9, len(c) + 1)}.3f}" for c in columns)
                lines.append(f"{regime:<20}{row['seed']:>6}{cells}")
    return "\n".join(lines)


def seed_summary(table: list[dict], column: str, step: int) -> dict[str, dict[str, float]]:
    """Per regime (in table order): mean, min, max and spread (max - min over seeds) of ``column`` at ``step``."""
    summary = {}
    for regime in dict.fromkeys(row["regime"] for row in table):
        values = seed_values(table, regime, column, step)
        if values:
            summary[regime] = {
                "mean": sum(values) / len(values),
                "min": min(values),
                "max": max(values),
                "spread": max(values) - min(values),
            }
    return summary


def format_summary(summary: dict[str, dict[str, float]]) -> str:
    """:func:`seed_summary` as an aligned text table with 3 decimals."""
    lines = [f"{'режим':<20}{'среднее':>9}{'мин':>9}{'макс':>9}{'разброс':>9}"]
    lines += [
        f"{regime:<20}" + "".join(f"{row[k]:>9.3f}" for k in ("mean", "min", "max", "spread"))
        for regime, row in summary.items()
    ]
    return "\n".join(lines)


def separated(a, b) -> bool:
    """True when two sets of per-seed values do not overlap: every value of one beats every value of the other."""
    return bool(min(a) > max(b) or min(b) > max(a))


def permutation_p(a: Sequence[float], b: Sequence[float]) -> float:
    """The exact two-sided permutation p-value of ``mean(a) - mean(b)``: every way of splitting the pooled
    values into groups of ``len(a)`` and ``len(b)`` is enumerated, and the p-value is the share of splits
    whose difference in means is at least as large in absolute value as the observed one.

    ``permutation_p([1, 2, 3], [4, 5, 6]) == 0.1``: 2 of the 20 splits are as extreme.
    """
    a, b = [float(v) for v in a], [float(v) for v in b]
    if not a or not b:
        raise ValueError(f"permutation_p: both groups need values, got {len(a)} and {len(b)}")
    if comb(len(a) + len(b), len(a)) > 2_000_000:
        raise ValueError(f"permutation_p: {len(a)} against {len(b)} values is too many splits to enumerate")
    pooled = a + b
    # For fixed group sizes the difference in means is a linear function of the first group's sum, so the
    # splits are compared by |sum - centre|, the centre being the sum that makes the means equal.
    centre = sum(pooled) * len(a) / len(pooled)
    observed = abs(sum(a) - centre)
    tolerance = 1e-9 * max(1.0, sum(abs(v) for v in pooled))  # the same split summed in another order
    extreme = sum(
        abs(sum(pooled[i] for i in chosen) - centre) >= observed - tolerance
        for chosen in combinations(range(len(pooled)), len(a))
    )
    return extreme / comb(len(pooled), len(a))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (one per question), in the order given.

    The smallest p is multiplied by the number of questions m, the next by m - 1, and so on; each adjusted
    value is at least the one before it in that order and at most 1.
    """
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        if not 0.0 <= pvalues[i] <= 1.0:
            raise ValueError(f"holm: p-values lie in [0, 1], got {pvalues[i]!r}")
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Question:
    """One question a notebook answers with a verdict: is arm ``a`` better than arm ``b`` on a measure?

    ``text`` is the question as the page asks it (Russian); ``a`` and ``b`` name the arms; ``higher_is_better``
    says which direction of the measure is "лучше" (accuracy: True, error: False).
    """

    key: str
    text: str
    a: str
    b: str
    higher_is_better: bool = True


def verdict(question: Question, mean_a: float, mean_b: float, p_adjusted: float) -> str:
    """"<a> лучше <b>", "<a> хуже <b>" (adjusted p at most :data:`ALPHA`) or "нет явной разницы"."""
    if p_adjusted > ALPHA or mean_a == mean_b:
        return "нет явной разницы"
    better = (mean_a > mean_b) == question.higher_is_better
    return f"{question.a} {'лучше' if better else 'хуже'} {question.b}"


def verdict_table(questions: Sequence[Question], values: dict[str, tuple[Sequence[float], Sequence[float]]]) -> str:
    """Answer every declared question from its per-seed values ``values[key] = (arm a, arm b)``.

    One line per question: the arms' means and ranges, the raw and the Holm-adjusted p (adjusted over all
    the questions given) and the verdict. A question without values, or with fewer than :data:`MIN_SEEDS`
    per arm, is an error: a declared question must be answered, and it cannot be with fewer seeds.
    """
    keys = [q.key for q in questions]
    if sorted(keys) != sorted(values):
        raise ValueError(f"verdict_table: values for {sorted(values)}, but the declared questions are {keys}")
    for q in questions:
        a, b = values[q.key]
        if min(len(a), len(b)) < MIN_SEEDS:
            raise ValueError(f"{q.key}: {len(a)} and {len(b)} seeds; a verdict needs at least {MIN_SEEDS} per arm")
    raw = [permutation_p(*values[q.key]) for q in questions]
    lines = []
    for q, p, p_adj in zip(questions, raw, holm(raw), strict=True):
        a, b = values[q.key]
        mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
        lines.append(
            f"{q.text}\n"
            f"  {q.a}: {mean_a:.4g} [{min(a):.4g}; {max(a):.4g}], {len(a)} зёрен;"
            f" {q.b}: {mean_b:.4g} [{min(b):.4g}; {max(b):.4g}], {len(b)} зёрен\n"
            f"  p = {p:.3g}, с поправкой Холма p = {p_adj:.3g}: {verdict(q, mean_a, mean_b, p_adj)}"
        )
    return "\n".join(lines)
