"""The notebooks' narrative keeps to docs/glossary.md: no rejected variant of a term in any markdown cell."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def rejected_variants() -> list[tuple[re.Pattern, str]]:
    """(pattern, word to use instead) for each row of the glossary's table of rejected variants."""
    section = GLOSSARY.read_text(encoding="utf-8").split("## Отклонённые варианты", 1)[1]
    rows = re.findall(r"^\| `((?:[^`])+)` \| ([^|]+) \|", section, re.M)
    return [(re.compile(pattern.replace(r"\|", "|"), re.IGNORECASE), instead.strip()) for pattern, instead in rows]


def test_the_glossary_lists_rejected_variants_that_catch_the_old_words():
    variants = rejected_variants()
    assert len(variants) >= 10, "docs/glossary.md: the table of rejected variants was not found"
    for old in ("forget-гейта", "по пачке", "Базовая линия", "сиды", "по трём сидам", "кодировщик-декодировщик",
                "позиции выравнивания", "на 32 единицы", "вложения слов"):
        assert any(p.search(old) for p, _ in variants), f"no rejected variant catches {old!r}"
    for fine in ("единицы, десятки, сотни", "единица времени", "зёрна", "сидит", "вентиль забывания", "декодер"):
        assert not any(p.search(fine) for p, _ in variants), f"a rejected variant wrongly catches {fine!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_narrative_uses_the_glossary_terms(path):
    found = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "markdown":
            continue
        for pattern, instead in rejected_variants():
            for match in pattern.finditer(cell.source):
                found.append(f"cell {index}: {match[0]!r} -> {instead}")
    assert not found, f"{path.name} (docs/glossary.md):\n" + "\n".join(found)
