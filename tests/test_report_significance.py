"""lipbench.report.significance: which rows are not significantly worse than the best,
checked on hand-made seeds where the answer is known."""

import math

import numpy as np
import pytest
from scipy import stats

from lipbench.report.significance import check_alpha, rule_text, tied_with_best, worse_p_value

BEST = [1.0, 1.1, 0.9, 1.05, 0.95]


def _welch_one_sided(best, other):
    """Welch's one-sided p for "other has the larger mean", from its textbook formula."""
    a, b = np.asarray(best, float), np.asarray(other, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (b.mean() - a.mean()) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return stats.t.sf(t, dof)


def test_clearly_separated_groups_only_the_best_is_marked():
    far = [5.0, 5.1, 4.9, 5.05, 4.95]
    m = tied_with_best([far, BEST], "lower")
    assert m.tied == [False, True] and m.best == 1 and m.tested
    assert m.p[0] < 1e-6 and math.isnan(m.p[1])
    # the same for "higher is better", mirrored
    m = tied_with_best([[-v for v in far], [-v for v in BEST]], "higher")
    assert m.tied == [False, True]


def test_groups_from_the_same_distribution_are_both_marked():
    same = [0.95, 1.05, 1.0, 0.9, 1.1]  # the same values as BEST, other seeds' order
    assert tied_with_best([BEST, same], "lower").tied == [True, True]
    overlapping = [1.02, 1.12, 0.92, 1.07, 0.97]  # shifted by 0.02, well within the seed spread
    m = tied_with_best([BEST, overlapping, [5.0, 5.2, 4.8]], "lower")
    assert m.tied == [True, True, False]
    assert m.p[1] == pytest.approx(_welch_one_sided(BEST, overlapping))
    assert m.p[1] > 0.3


def test_p_value_matches_the_welch_formula_and_direction():
    other = [1.2, 1.4, 1.1, 1.3]  # unequal n and spread
    assert worse_p_value(BEST, other, "lower") == pytest.approx(_welch_one_sided(BEST, other))
    # higher is better: "worse" is now the smaller mean, so swap signs
    neg = worse_p_value([-v for v in BEST], [-v for v in other], "higher")
    assert neg == pytest.approx(_welch_one_sided(BEST, other))
    # a row that is better than the reference is never "significantly worse"
    assert worse_p_value(other, BEST, "lower") == pytest.approx(1 - _welch_one_sided(BEST, other))
    assert worse_p_value(other, BEST, "lower") > 0.95


def test_alpha_decides_borderline_cases():
    a, b = [1.0, 1.2, 1.4], [1.4, 1.6, 1.8]  # one-sided p about 0.035
    p = worse_p_value(a, b, "lower")
    assert 0.01 < p < 0.05
    assert tied_with_best([a, b], "lower", alpha=0.05).tied == [True, False]
    assert tied_with_best([a, b], "lower", alpha=0.01).tied == [True, True]


def test_single_seeds_cannot_be_tested():
    # the best mean rests on one seed: a winner by noise, nothing is marked
    m = tied_with_best([[0.1], BEST], "lower")
    assert m.tied == [False, False] and m.best == 0 and not m.tested
    # the best has seeds to test against, the other row has one: untested, not marked
    m = tied_with_best([BEST, [1.0]], "lower")
    assert m.tied == [True, False] and m.tested and math.isnan(m.p[1])
    assert math.isnan(worse_p_value(BEST, [1.0], "lower"))
    # NaN seeds are dropped first; a row without any value is never marked
    m = tied_with_best([BEST + [float("nan")], [], [float("nan")]], "lower")
    assert m.tied == [True, False, False]
    assert tied_with_best([BEST, BEST], None).tied == [False, False]  # no direction, no bold


def test_seeds_without_spread():
    assert tied_with_best([[8.0, 8.0, 8.0], [8.0, 8.0]], "higher").tied == [True, True]
    assert tied_with_best([[8.0, 8.0, 8.0], [7.0, 7.0]], "higher").tied == [True, False]


def test_check_alpha_and_rule_text():
    assert check_alpha("0.1") == 0.1
    for bad in (0, 1, 1.5, -0.1, "x", None, float("nan")):
        with pytest.raises(ValueError, match="alpha must be a number in \\(0, 1\\)"):
            check_alpha(bad)
    text = rule_text(0.05, (3, 5))
    assert "Welch" in text and "α = 0.05" in text and "n = 3–5 seeds per row" in text
    assert "fewer than 2" in text
    assert "n = 5 seeds per row" in rule_text(0.01, (5, 5)) and "α = 0.01" in rule_text(0.01, (5, 5))
