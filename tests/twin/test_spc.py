"""SPC limits and run rules, on sequences worked by hand (centre 0, sigma 1 unless stated)."""

from __future__ import annotations

import pytest

from twin.spc import (
    ALL_RULES,
    check_rules,
    flagged_points,
    individuals_limits,
    subgroups_of,
    xbar_r_limits,
)


def hits(values: list[float], rule: str) -> list[tuple[int, int]]:
    return [(v.index, v.first) for v in check_rules(values, 0.0, 1.0, [rule])]


def test_individuals_limits_match_textbook_constants() -> None:
    chart = individuals_limits([1, 3, 2, 4])
    # moving ranges 2, 1, 2 -> MRbar 5/3; mean 2.5; I limits mean +- 2.66 MRbar; MR UCL 3.267 MRbar
    assert chart.moving_ranges == (None, 2.0, 1.0, 2.0)
    assert chart.individuals.centre == pytest.approx(2.5)
    assert chart.individuals.ucl == pytest.approx(2.5 + 2.66 * 5 / 3, rel=1e-3)
    assert chart.individuals.lcl == pytest.approx(2.5 - 2.66 * 5 / 3, rel=1e-3)
    assert chart.individuals.sigma == pytest.approx((5 / 3) / 1.128)
    assert chart.moving_range.centre == pytest.approx(5 / 3)
    assert chart.moving_range.ucl == pytest.approx(3.267 * 5 / 3)
    assert chart.moving_range.lcl == 0.0


def test_xbar_r_limits_for_subgroups_of_three() -> None:
    chart = xbar_r_limits([[1, 2, 3], [2, 4, 6]])
    # means 2, 4 -> 3; ranges 2, 4 -> Rbar 3; A2(3) = 1.023, D4(3) = 2.574
    assert chart.means == (2.0, 4.0)
    assert chart.ranges == (2.0, 4.0)
    assert chart.xbar.centre == pytest.approx(3.0)
    assert chart.xbar.ucl == pytest.approx(3 + 1.023 * 3)
    assert chart.xbar.lcl == pytest.approx(3 - 1.023 * 3)
    # 3 sigma of a mean = 3 Rbar / (d2 sqrt n) agrees with A2 Rbar to table precision
    assert 3 * chart.xbar.sigma == pytest.approx(1.023 * 3, rel=2e-3)
    assert chart.range.centre == pytest.approx(3.0)
    assert chart.range.ucl == pytest.approx(2.574 * 3)
    assert chart.range.lcl == 0.0


def test_limits_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        individuals_limits([1.0])
    with pytest.raises(ValueError, match="same size"):
        xbar_r_limits([[1, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match=r"2\.\.10"):
        xbar_r_limits([[1] * 11, [2] * 11])
    with pytest.raises(ValueError, match="not finite"):
        individuals_limits([1.0, float("nan")])


def test_subgroups_drop_incomplete_tail() -> None:
    assert subgroups_of([1, 2, 3, 4, 5, 6, 7], 3) == [[1, 2, 3], [4, 5, 6]]


def test_rule_1_beyond_three_sigma_is_strict() -> None:
    seq = [0, 3.5, -3.1, 3.0]
    assert hits(seq, "we1") == [(1, 1), (2, 2)]
    assert hits(seq, "nelson1") == hits(seq, "we1")


def test_two_of_three_beyond_two_sigma_same_side() -> None:
    assert hits([2.5, 0, 2.1], "we2") == [(2, 0)]
    assert hits([2.5, -2.5, 0], "we2") == []  # opposite sides
    assert hits([2.5, 0, 0, 2.1], "we2") == []  # 4 apart: not within 3
    assert hits([2.5, 2.1, 0], "we2") == [(1, 0)]  # reported where the pattern completes
    assert hits([-2.2, -2.9, 0.0], "nelson5") == hits([-2.2, -2.9, 0.0], "we2") == [(1, 0)]


def test_four_of_five_beyond_one_sigma_same_side() -> None:
    assert hits([1.5, 1.5, 0, 1.5, 1.5], "we3") == [(4, 0)]
    assert hits([1.5, 1.5, 0, 0, 1.5], "we3") == []
    assert hits([-1.2, -1.2, -1.2, -1.2], "nelson6") == [(3, 0)]


def test_eight_in_a_row_is_we4_but_nelson2_needs_nine() -> None:
    eight = [0.5] * 8
    assert hits(eight, "we4") == [(7, 0)]
    assert hits(eight, "nelson2") == []
    nine = [-0.5] * 9
    assert hits(nine, "we4") == [(7, 0), (8, 1)]
    assert hits(nine, "nelson2") == [(8, 0)]
    broken = [0.5] * 4 + [0.0] + [0.5] * 4  # a point on the centre line breaks the run
    assert hits(broken, "we4") == []


def test_nelson3_six_rising_or_falling_and_ties_break_it() -> None:
    assert hits([0, 0.1, 0.2, 0.3, 0.4, 0.5], "nelson3") == [(5, 0)]
    assert hits([0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1], "nelson3") == [(5, 0), (6, 1)]
    assert hits([0, 0.1, 0.2, 0.2, 0.3, 0.4, 0.5], "nelson3") == []
    assert hits([0, 0.1, 0.2, 0.3, 0.4], "nelson3") == []


def test_nelson4_fourteen_alternating() -> None:
    assert hits([0.5, -0.5] * 7, "nelson4") == [(13, 0)]
    assert hits([0.5, -0.5] * 6 + [0.5], "nelson4") == []
    tie = [0.5, -0.5] * 3 + [-0.5] + [0.5, -0.5] * 4  # a repeated value restarts the count
    assert hits(tie, "nelson4") == []


def test_nelson7_fifteen_hugging_the_centre() -> None:
    seq = [0.5, -0.5, 0.2] * 5
    assert hits(seq, "nelson7") == [(14, 0)]
    assert hits(seq[:14], "nelson7") == []
    assert hits([0.5] * 7 + [1.0] + [0.5] * 7, "nelson7") == []  # exactly 1 sigma is not within


def test_nelson8_eight_avoiding_zone_c_on_both_sides() -> None:
    seq = [1.5, -1.5] * 4
    assert hits(seq, "nelson8") == [(7, 0)]
    assert hits(seq, "we4") == []
    assert hits(seq[:7], "nelson8") == []


def test_check_rules_scales_by_centre_and_sigma_and_sorts() -> None:
    # centre 10, sigma 2: 17 is 3.5 sigma (rule 1); the rest are on the centre line
    found = check_rules([10, 10, 17, 10], 10.0, 2.0, ALL_RULES)
    assert [(v.rule, v.index) for v in found] == [("we1", 2), ("nelson1", 2)]
    assert flagged_points(found) == {2: ("we1", "nelson1")}


def test_check_rules_rejects_unknown_rule_and_bad_sigma() -> None:
    with pytest.raises(ValueError, match="unknown SPC rule"):
        check_rules([0.0], 0.0, 1.0, ["we9"])
    with pytest.raises(ValueError, match="sigma"):
        check_rules([0.0], 0.0, 0.0)


def test_in_control_sequence_fires_nothing() -> None:
    seq = [0.3, -0.8, 1.2, -0.4, 0.9, -1.5, 0.1, 0.7, -0.2, -1.1, 0.6, 1.4, -0.6, 0.2, -0.9, 1.7]
    assert check_rules(seq, 0.0, 1.0) == []
