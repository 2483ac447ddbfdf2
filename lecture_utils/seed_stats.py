"""Results over seeds, without torch: per-seed values, their summary, and the course's separation rule.

A comparison between two settings is stated only when their per-seed values do not overlap
(:func:`separated`); otherwise the notebooks say "no clear difference", whatever the means say.
"""

from __future__ import annotations


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
    lines = [f"{'regime':<20}{'seed':>5}" + "".join(f"{c:>{max(9, len(c) + 1)}}" for c in columns)]
    for regime in regimes:
        for row in table:
            if row["regime"] == regime and row["step"] == step and all(c in row for c in columns):
                cells = "".join(f"{float(row[c]):>{max(9, len(c) + 1)}.3f}" for c in columns)
                lines.append(f"{regime:<20}{row['seed']:>5}{cells}")
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
    lines = [f"{'regime':<20}{'mean':>8}{'min':>8}{'max':>8}{'spread':>8}"]
    lines += [
        f"{regime:<20}" + "".join(f"{row[k]:>8.3f}" for k in ("mean", "min", "max", "spread"))
        for regime, row in summary.items()
    ]
    return "\n".join(lines)


def separated(a, b) -> bool:
    """True when two sets of per-seed values do not overlap: every value of one beats every value of the other."""
    return bool(min(a) > max(b) or min(b) > max(a))
