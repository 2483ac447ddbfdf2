"""What the prose of a notebook claims that its outputs must show: numbers, quoted examples, no history.

Used by ``tests/test_prose.py``; stdlib only, so it also runs on a notebook outside the project's environment.

- Numbers: every number in a markdown cell (decimal comma or point, thin or ordinary spaces between thousands,
  a percentage or the fraction it stands for) must be printed by a code cell of its section or of the header (the
  configuration), or written in that cell's code (a size, a learning rate), at the precision the prose gives or up
  to two digits finer (``1,18`` is backed by a printed ``1.1823``, ``94,5%`` by ``0.9453``); a summary section
  may quote any cell.
  In a formula (``$...$``) only measured numbers are read (:func:`formula_numbers`); a fenced block of code (the
  lecture's), links, headings' numbers, the lecture's cell numbers (``In[13]``) and small counts (0 to 10) are not
  read; years and round powers of ten neither. Inline code is read like prose.
- Quoted examples: a word the prose quotes in italics or in «guillemets» as data (Latin letters, or a Cyrillic
  word from a notebook that prints words) must be printed by a code cell.
- History: the page speaks of what holds now, never of its own earlier versions or the course's targets.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

# A number as prose writes it: thousands separated by a space (ordinary, no-break or thin), a decimal comma
# or point, an optional exponent; a sign is not read (a range "0,46–0,65" is two numbers).
# (A number may follow a range's "..", never a single point or a comma: "3.0e-05..7.8e-05" is two numbers.)
PROSE_NUMBER = re.compile(
    r"(?<![\w,])(?:(?<=\.\.)|(?<!\.))(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,]\d+)?(?:[eE][-+−]?\d+)?(?![\w])"
)
# A number as Python prints it: commas between thousands, a decimal point, an optional exponent.
OUTPUT_NUMBER = re.compile(r"(?<!\w)(?:(?<=\.\.)|(?<!\.))(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")

HISTORY = re.compile(
    r"(?:прошл|прежн|предыдущ|стар|перв)\w* верси\w*|(?:в|из) прошл\w+ (?:запуск|прогон|выполнени)\w*|"
    r"планк\w*|цел\w* задачи|было неверно|раньше (?:здесь|в этой тетради|тетрадь)|теперь исправлен\w*",
    re.IGNORECASE,
)

QUOTED = re.compile(r"(?<![*\w])\*([^*\s][^*]{0,40}?)\*(?![*\w])|«([^»]{1,40})»")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def output_text(cell: dict) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        for key in ("text/plain", "text/markdown", "text/html"):
            parts.append("".join(out.get("data", {}).get(key, "")))
    return "\n".join(parts)


def prose(cell: dict) -> str:
    """A markdown cell's text without what is not a claim in words: formulas, inline code, link targets."""
    text = "".join(cell["source"])
    text = re.sub(r"```.*?```", " ", text, flags=re.S)  # a quoted block of code (the lecture's)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", lambda m: " " + " ".join(formula_numbers(m[0])) + " ", text, flags=re.S)
    text = re.sub(r"`([^`]*)`", r" \1 ", text)  # inline code is read: it quotes code or printed values
    text = re.sub(r"^#+ [\d.]+", " ", text, flags=re.M)  # a heading's number
    text = re.sub(r"\]\([^)]*\)|<[^>]+>", " ", text)
    text = re.sub(r"In\s*\[\d+\]", " ", text)  # the lecture's own cell numbers
    return text


def formula_numbers(formula: str) -> list[str]:
    """The measured numbers a formula states: ``3 \\cdot 10^{-5}`` (3e-05), the exponent of ``10^{-4.36}`` and
    decimals with at least two digits (``0.99``); a formula's symbols and small constants are not read."""
    found = []
    for m in re.finditer(r"(\d+(?:[.,]\d+)?)\s*\\(?:cdot|times)\s*10\^\{?(−|-)?(\d+)\}?", formula):
        found.append(f"{m[1]}e-{m[3]}" if m[2] else f"{m[1]}e{m[3]}")
    formula = re.sub(r"(\d+(?:[.,]\d+)?)\s*\\(?:cdot|times)\s*10\^\{?[−-]?\d+\}?", " ", formula)
    found += re.findall(r"10\^\{[−-]?(\d+[.,]\d+)\}", formula)
    formula = re.sub(r"10\^\{[^}]*\}", " ", formula)
    found += re.findall(r"(?<![\w.,])(\d+[.,]\d{2,})(?![\w])", formula)
    return found


def _decimals(number: str) -> int:
    mantissa = re.split(r"[eE]", number)[0]
    return len(mantissa.split(".")[1]) if "." in mantissa else 0


def _forms(value: float, decimals: int, scientific: bool) -> set[str]:
    """The ways a printed value may be quoted: as printed, or rounded (or cut) by at most two digits, or in
    scientific notation with up to three digits after the point."""
    forms = {f"{value:.{digits}e}" for digits in range(4)}
    if scientific and value:  # 1.06e+03 is also 1060, 7.4e-07 is also 0.00000074
        shown = decimals - math.floor(math.log10(abs(value)))
        forms |= {f"{value:.{max(d, 0)}f}" for d in range(shown - 2, shown + 2)}
    if not scientific:
        for d in range(max(decimals - 2, 0), decimals + 1):
            forms.add(f"{value:.{d}f}")
            forms.add(f"{math.floor(value * 10**d + 1e-9) / 10**d:.{d}f}")
    return forms


HEADING = re.compile(r"^#{1,2} |^#{3} (?=Итоги|Выводы|Что измерено)", re.M)
SUMMARY = re.compile(r"^#{1,3} (Итоги|Выводы|Что измерено)", re.M)


def blocks(all_cells: list[dict]) -> list[tuple[int, int, dict]]:
    """(cell index, section, cell) with each markdown cell cut at its ``#``/``##`` headings: a section runs from
    one such heading to the next, and the code cells in between belong to it. A summary (``Итоги``, ``Выводы``,
    ``Что измерено``, also as a ``###`` heading) is a section of its own, with a negative number."""
    count, section, found = 0, 0, []
    for index, cell in enumerate(all_cells):
        if cell["cell_type"] != "markdown":
            found.append((index, section, cell))
            continue
        text = "".join(cell["source"])
        starts = [m.start() for m in HEADING.finditer(text)]
        pieces = [text[a:b] for a, b in zip([0, *starts], [*starts, len(text)], strict=True) if text[a:b].strip()]
        for piece in pieces:
            if HEADING.match(piece):
                count += 1
                section = -count if SUMMARY.match(piece) else count  # negative: a summary, it may quote any cell
            found.append((index, section, {"cell_type": "markdown", "source": piece}))
    return found


def printed_numbers(all_cells: list[dict]) -> set[str]:
    """Every form in which the numbers these code cells print, or write in their code (a batch of 64, a learning
    rate of 0.05), may appear in prose."""
    forms: set[str] = set()
    for cell in all_cells:
        if cell["cell_type"] != "code":
            continue
        for match in OUTPUT_NUMBER.finditer(output_text(cell) + "\n" + "".join(cell["source"])):
            token = match[0].replace(",", "")
            value, decimals, scientific = float(token), _decimals(token), "e" in token.lower()
            forms |= _forms(value, decimals, scientific)
            if not scientific:  # a fraction quoted as a percentage, or a percentage as a fraction
                forms |= _forms(value * 100, max(decimals - 2, 0), False)
                forms |= _forms(value / 100, decimals + 2, False)
    return forms


def normalise(number: str) -> tuple[str, str]:
    """(the number as written, the form it is looked up in): decimal point, no thousands separators."""
    token = re.sub(r"[ \u00a0\u202f]", "", number).replace(",", ".").replace("−", "-")
    if "e" in token.lower():
        mantissa, exponent = re.split(r"[eE]", token)
        digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return number, f"{float(mantissa) * 10 ** int(exponent):.{digits}e}"
    return number, f"{float(token):.{_decimals(token)}f}"


def _passes(number: str) -> bool:
    """Small counts, years and round powers of ten are read without a printed source."""
    token = re.sub(r"[ \u00a0\u202f]", "", number)
    if not token.isdigit():
        return False
    value = int(token)
    return value <= 10 or 1900 <= value <= 2030 or value in (100, 1000, 10000)


def unprinted_numbers(path: Path) -> list[tuple[int, str]]:
    """(markdown cell index, number as written) for each prose number that no code cell of its section prints
    (a summary section may quote any cell)."""
    pieces = blocks(cells(path))
    code = [(section, cell) for _, section, cell in pieces if cell["cell_type"] == "code"]
    everywhere = printed_numbers([cell for _, cell in code])
    # the header's section (set-up and configuration cells: every size, seed and budget) backs every section
    header = printed_numbers([cell for t, cell in code if t == pieces[0][1]]) if pieces else set()
    near = {s: header | printed_numbers([cell for t, cell in code if t == s]) for s in {t for t, _ in code}}
    missing = []
    for index, section, cell in pieces:
        if cell["cell_type"] != "markdown":
            continue
        printed = everywhere if section < 0 else near.get(section, header)
        for match in PROSE_NUMBER.finditer(prose(cell)):
            written, form = normalise(match[0])
            if not _passes(written) and form not in printed:
                missing.append((index, written.replace("\u00a0", " ").replace("\u202f", " ")))
    return missing


def unprinted_quotes(path: Path) -> list[tuple[int, str]]:
    """(markdown cell index, word) for each quoted data example that no code cell prints.

    A quote counts as a data example when it is one word of Latin letters (an English word from a corpus),
    or, in a notebook that prints Cyrillic words from its data, one Cyrillic word.
    """
    all_cells = cells(path)
    printed = "\n".join(output_text(c) for c in all_cells if c["cell_type"] == "code")
    cyrillic_data = bool(re.search(r"[а-яё]+ -> |\b[а-яё]+, [а-яё]+, [а-яё]+\b", printed))
    missing = []
    for index, cell in enumerate(all_cells):
        if cell["cell_type"] != "markdown":
            continue
        for match in QUOTED.finditer(prose(cell)):
            word = (match[1] or match[2]).strip()
            latin = re.fullmatch(r"[A-Za-z][a-z]*|[A-Z]+|[a-z]+", word)
            russian = cyrillic_data and re.fullmatch(r"[а-яё]+\.?", word)
            if (latin or russian) and not re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", printed):
                missing.append((index, word))
    return missing


def history_words(path: Path) -> list[tuple[int, str]]:
    """(cell index, phrase) where the page speaks of its own earlier versions or of the course's targets."""
    found = []
    for index, cell in enumerate(cells(path)):
        text = "".join(cell["source"]) if cell["cell_type"] == "markdown" else output_text(cell)
        found += [(index, m[0]) for m in HISTORY.finditer(text)]
    return found
