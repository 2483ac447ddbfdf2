"""The prose of each notebook claims only what its outputs show (tests/prose_claims.py says how it is read).

- Every number in a markdown cell is printed by a code cell of its section (a summary section: of the notebook),
  or is listed in ALLOWED with the reason it needs no printed source.
- Every word the prose quotes as a data example is printed by a code cell.
- No cell speaks of the page's own earlier versions or of the course's internal targets.

DEBT lists what the notebooks' own issues still have to print or drop; it may only shrink: a test fails when
an entry is no longer needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prose_claims import history_words, unprinted_numbers, unprinted_quotes

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# a number or quoted word as written -> why the prose may state it without a printed source
ALLOWED: dict[str, dict[str, str]] = {
    "01_rnn_lstm_basics.ipynb": {"residual": "the English term of «residual»-аналогия, not a data example"},
    "02_bidirectional_regressor.ipynb": {
        "0.0375": "the simulator's time step in the formula for the breath (lecture_utils.data.ventilator.DT)",
        "5.6": "the lecture's model's 5,638,901 parameters (printed in section 1), written in millions",
    },
    "03_seq2seq_teacher_forcing.ipynb": {},
    "04_training_deep_rnns.ipynb": {},
    "05_echo_state_networks.ipynb": {},
    "06_lstm_pos_tagger.ipynb": {
        "4.0": "the corpora's licence, CC BY-SA 4.0",
        "256": "the checksum's name, SHA-256",
        "угадать": "an emphasised verb, not a data example",
    },
}

# numbers notebook 06 (its issue, 31) still has to print near the sentence or drop
DEBT: dict[str, set[str]] = {
    "01_rnn_lstm_basics.ipynb": set(),
    "02_bidirectional_regressor.ipynb": set(),
    "03_seq2seq_teacher_forcing.ipynb": set(),
    "04_training_deep_rnns.ipynb": set(),
    "05_echo_state_networks.ipynb": set(),
    "06_lstm_pos_tagger.ipynb": {
        "7281", "3400", "15,5", "3,6", "94,73", "94,66", "90,53", "92,12", "2,5", "3138", "95,11", "78,32", "80,74",
    },
}

def test_every_notebook_has_its_lists():
    assert sorted(ALLOWED) == sorted(DEBT) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_prose_number_and_quoted_example_is_printed(path):
    found = {text: index for index, text in unprinted_numbers(path) + unprinted_quotes(path)}
    new = {text: cell for text, cell in found.items() if text not in ALLOWED[path.name] and text not in DEBT[path.name]}
    assert not new, f"{path.name}: prose states what no cell of its section prints (cell: text): " + ", ".join(
        f"{cell}: {text!r}" for text, cell in new.items())
    paid = DEBT[path.name] - set(found)
    assert not paid, f"{path.name}: printed now, remove from DEBT in tests/test_prose.py: {sorted(paid)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_allowed_entries_are_still_needed(path):
    stated = {text for _, text in unprinted_numbers(path) + unprinted_quotes(path)}
    stale = set(ALLOWED[path.name]) - stated
    assert not stale, f"{path.name}: remove from ALLOWED in tests/test_prose.py (printed now or gone): {sorted(stale)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_page_speaks_of_what_holds_now(path):
    found = history_words(path)
    assert not found, f"{path.name}: its own history or the course's targets on the page: {found}"
