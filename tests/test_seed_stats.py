"""The verdict rule: exact permutation p-values, Holm's adjustment and the verdict table, on hand-computed cases."""

from __future__ import annotations

import pytest

from lecture_utils.seed_stats import MIN_SEEDS, Question, holm, permutation_p, verdict, verdict_table


def test_three_against_three_can_never_reach_below_a_tenth():
    # 2 of the C(6, 3) = 20 splits are as extreme as a complete separation (this one and its mirror)
    assert permutation_p([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1)
    assert permutation_p([4, 5, 6], [1, 2, 3]) == pytest.approx(0.1)


def test_five_against_five_fully_separated():
    assert permutation_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert permutation_p([0.91, 0.92, 0.93, 0.94, 0.95], [0.5, 0.51, 0.52, 0.53, 0.54]) == pytest.approx(2 / 252)


def test_an_overlapping_case_by_hand():
    # pooled 1..6, groups of three: the first group's sum s decides the difference (centre 10.5); observed s = 7,
    # as extreme: s <= 7 ({1,2,3}, {1,2,4}) or s >= 14 ({4,5,6}, {3,5,6}) -> 4 of 20
    assert permutation_p([1, 2, 4], [3, 5, 6]) == pytest.approx(0.2)


def test_unequal_group_sizes_by_hand():
    # pooled {1, 2, 3, 10}, first group of one: differences |x - mean(rest)| are 4, 2.67, 1.33, 8 for x = 1, 2, 3, 10
    assert permutation_p([10], [1, 2, 3]) == pytest.approx(1 / 4)
    assert permutation_p([2], [1, 3, 10]) == pytest.approx(3 / 4)


def test_no_difference_gives_one_and_ties_count_as_extreme():
    assert permutation_p([1, 2, 3], [1, 2, 3]) == 1.0
    assert permutation_p([5, 5, 5], [5, 5, 5]) == 1.0
    # the values need not be integers: rounding in another summation order must not drop a tied split
    assert permutation_p([0.1, 0.2, 0.3], [0.4, 0.5, 0.6]) == pytest.approx(0.1)


def test_permutation_p_refuses_empty_groups_and_unenumerable_sizes():
    with pytest.raises(ValueError, match="both groups"):
        permutation_p([], [1, 2])
    with pytest.raises(ValueError, match="too many"):
        permutation_p(range(20), range(20))


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, 2 * 0.03, max(0.06, 1 * 0.04); returned in the order given
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([0.02]) == pytest.approx([0.02])
    assert holm([]) == []
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])


def test_holm_is_never_below_the_raw_p_nor_above_bonferroni():
    raw = [0.001, 0.2, 0.04, 0.011, 0.5]
    for p, adjusted in zip(raw, holm(raw), strict=True):
        assert p <= adjusted <= min(1.0, len(raw) * p)


def test_verdict_words_follow_the_direction_and_the_threshold():
    accuracy = Question("acc", "?", "A", "B", higher_is_better=True)
    error = Question("err", "?", "A", "B", higher_is_better=False)
    assert verdict(accuracy, 0.9, 0.8, 0.01) == "A лучше B"
    assert verdict(accuracy, 0.8, 0.9, 0.01) == "A хуже B"
    assert verdict(error, 0.9, 0.8, 0.01) == "A хуже B"
    assert verdict(error, 0.8, 0.9, 0.05) == "A лучше B"
    assert verdict(accuracy, 0.9, 0.8, 0.0501) == "нет явной разницы"


def test_verdict_table_adjusts_over_every_declared_question():
    questions = [Question("x", "X лучше Y?", "X", "Y"), Question("z", "X лучше Z?", "X", "Z")]
    separated = ([0.91, 0.92, 0.93, 0.94, 0.95], [0.5, 0.51, 0.52, 0.53, 0.54])
    table = verdict_table(questions, {"x": separated, "z": separated})
    # each raw p is 2/252 = 0.00794; Holm over two questions: 2 * 0.00794 = 0.0159 for both
    assert table.count("p = 0.00794, с поправкой Холма p = 0.0159: X лучше") == 2
    alone = verdict_table(questions[:1], {"x": separated})
    assert "с поправкой Холма p = 0.00794: X лучше Y" in alone
    assert "0.93 [0.91; 0.95], 5 зёрен" in alone


def test_a_difference_that_needs_the_adjustment_is_not_called():
    questions = [Question(k, k, "A", "B") for k in "pqrst"]
    close = ([3, 4, 5, 6, 7.5], [1, 2, 3.5, 4, 5])  # raw p about 0.1: no verdict alone, none after adjustment
    values = {k: close for k in "pqrs"} | {"t": ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])}
    table = verdict_table(questions, values)
    assert table.count("нет явной разницы") == 4
    # 2/252 times 5 questions = 0.0397: still a verdict
    assert "с поправкой Холма p = 0.0397: A хуже B" in table


def test_verdict_table_needs_enough_seeds_and_every_declared_question():
    question = [Question("x", "?", "A", "B")]
    with pytest.raises(ValueError, match=f"at least {MIN_SEEDS}"):
        verdict_table(question, {"x": ([1, 2, 3], [4, 5, 6])})
    with pytest.raises(ValueError, match="declared"):
        verdict_table(question, {})
    with pytest.raises(ValueError, match="declared"):
        verdict_table(question, {"x": ([1] * 5, [2] * 5), "y": ([1] * 5, [2] * 5)})
