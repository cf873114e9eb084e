"""PSI (D8) and KS against values worked out by hand, and KS against scipy."""

import math

import numpy as np
import pytest
from scipy import stats

from monitoring import drift
from monitoring.drift import EmptySampleError, Severity

EPS = 1e-6
TEN = np.arange(1.0, 11.0)  # baseline 1..10: deciles 1.9, 2.8, ..., 9.1, one value per bin


def test_deciles_of_one_to_ten_and_one_value_per_bin():
    # Linear interpolation at positions 0.9, 1.8, ..., 8.1 of the sorted sample.
    assert drift.deciles(TEN) == pytest.approx([1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1])
    edges, tied = drift.quantile_bins(TEN)
    assert not tied.any()
    assert drift.bin_counts(TEN, edges, tied).tolist() == [1] * 10


def test_psi_of_a_sample_piled_into_the_lower_half():
    current = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]  # bins 0-4 hold 0.2 each, bins 5-9 nothing
    # 5 bins: (0.2 - 0.1) ln 2;  5 bins: (1e-6 - 0.1) ln(1e-6 / 0.1)
    by_hand = 5 * 0.1 * math.log(2) + 5 * (0.1 - EPS) * math.log(0.1 / EPS)
    assert by_hand == pytest.approx(6.1029795, abs=1e-6)
    assert drift.psi(TEN, current) == pytest.approx(by_hand, rel=1e-12)


def test_psi_of_one_value_moved_from_the_ninth_bin_to_the_top():
    current = [1, 2, 3, 4, 5, 6, 7, 8, 10, 10]  # [8.2, 9.1) empties, [9.1, inf) doubles
    by_hand = (0.2 - 0.1) * math.log(2) + (0.1 - EPS) * math.log(0.1 / EPS)
    assert by_hand == pytest.approx(1.2205957, abs=1e-6)
    assert drift.psi(TEN, current) == pytest.approx(by_hand, rel=1e-12)


def test_psi_bins_hold_their_lower_edge_and_the_outer_bins_are_open():
    baseline = np.arange(0.0, 11.0)  # deciles exactly 1, 2, ..., 9
    edges, tied = drift.quantile_bins(baseline)
    assert edges.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    # 1 is in [1, 2), not in (-inf, 1); -50 and 50 fall in the open outer bins.
    counts = drift.bin_counts(np.sort(np.array([-50.0, 1.0, 1.5, 9.0, 50.0])), edges, tied)
    assert counts.tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]


def test_identical_samples_have_zero_psi():
    sample = np.random.default_rng(1).normal(size=1000)
    assert drift.psi(sample, sample) == 0.0
    assert drift.psi(sample, sample[::-1]) == 0.0


def test_a_constant_baseline_gives_below_at_and_above_bins():
    baseline = np.full(10, 5.0)
    edges, tied = drift.quantile_bins(baseline)
    assert edges.tolist() == [5.0] and tied.tolist() == [True]
    assert drift.psi(baseline, [5.0] * 4) == 0.0
    # Bins (-inf, 5), {5}, (5, inf): baseline [0, 1, 0] -> [1e-6, 1, 1e-6];
    # current [5, 5, 5, 5, 6] -> [0, 0.8, 0.2] -> [1e-6, 0.8, 0.2].
    by_hand = (0.8 - 1) * math.log(0.8) + (0.2 - EPS) * math.log(0.2 / EPS)
    assert by_hand == pytest.approx(2.4858310, abs=1e-6)
    assert drift.psi(baseline, [5, 5, 5, 5, 6]) == pytest.approx(by_hand, rel=1e-12)
    # A completeness-like drop below a constant 1.0 is seen, not lumped in with it.
    assert drift.psi(np.ones(100), [0.95] * 100) > 10


def test_a_value_holding_many_deciles_becomes_its_own_bin():
    baseline = np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4.0])  # door fraction: 60 % zeros
    # Deciles: 0, 0, 0, 0, 0, 0.4, 1.3, 2.2, 3.1 -> 0 is tied.
    edges, tied = drift.quantile_bins(baseline)
    assert edges == pytest.approx([0, 0.4, 1.3, 2.2, 3.1])
    assert tied.tolist() == [True, False, False, False, False]
    # Bins: (-inf, 0), {0}, (0, 0.4), [0.4, 1.3), [1.3, 2.2), [2.2, 3.1), [3.1, inf)
    assert drift.bin_counts(baseline, edges, tied).tolist() == [0, 6, 0, 1, 1, 1, 1]
    # All zeros now: {0} 0.6 -> 1.0; four bins 0.1 -> 1e-6; empty bins add nothing.
    by_hand = (1 - 0.6) * math.log(1 / 0.6) + 4 * (0.1 - EPS) * math.log(0.1 / EPS)
    assert drift.psi(baseline, np.zeros(10)) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(4.8094545, abs=1e-6)


def test_nulls_are_dropped_before_binning():
    with_nulls = [1, np.nan, 1, 2, 2, 3, 3, np.nan, 4, 4, 5, 5]
    assert drift.psi(TEN, with_nulls) == drift.psi(TEN, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    assert drift.ks(TEN, with_nulls) == drift.ks(TEN, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])


@pytest.mark.parametrize("current", [[], [np.nan, np.nan]])
def test_an_empty_current_sample_is_a_clear_error(current):
    with pytest.raises(EmptySampleError, match="current sample with at least one non-null"):
        drift.psi(TEN, current)
    with pytest.raises(EmptySampleError, match="no non-null values"):
        drift.ks(TEN, current)


def test_an_empty_baseline_is_a_clear_error():
    with pytest.raises(EmptySampleError, match="baseline with at least one non-null"):
        drift.psi([np.nan], TEN)


@pytest.mark.parametrize(
    ("value", "severity"),
    [
        (0.0, Severity.NONE),
        (0.0999999, Severity.NONE),
        (0.1, Severity.MODERATE),
        (0.1000001, Severity.MODERATE),
        (0.15, Severity.MODERATE),
        (0.2, Severity.MODERATE),
        (0.2000001, Severity.SIGNIFICANT),
        (3.0, Severity.SIGNIFICANT),
        (float("nan"), Severity.NO_DATA),
    ],
)
def test_psi_severity_cut_offs(value, severity):
    assert drift.psi_severity(value) is severity


def test_ks_of_a_sample_shifted_by_half_its_range():
    current = TEN + 5  # 6..15
    # ECDFs part most at x = 5..6: F_base = 0.5, F_cur = 0, so D = 0.5.
    # Exact p for n = m = 10, D = h/n with h = 5 (paths leaving the band, reflection):
    # 2 * (C(20, 5) - C(20, 0)) / C(20, 10) = 2 * 15503 / 184756.
    statistic, p_value = drift.ks(TEN, current)
    assert statistic == 0.5
    assert p_value == pytest.approx(2 * (math.comb(20, 5) - 1) / math.comb(20, 10), rel=1e-12)
    assert p_value == pytest.approx(0.1678213, abs=1e-7)


def test_ks_with_ties_by_hand():
    # F_base at 1, 2, 3: 0.4, 0.8, 1.0; F_cur: 0.0, 0.2, 1.0 -> largest gap 0.6 at 2.
    statistic, _ = drift.ks([1, 1, 2, 2, 3], [2, 3, 3, 3, 3])
    assert statistic == pytest.approx(0.6, abs=1e-15)


@pytest.mark.parametrize(
    ("n1", "n2", "shift", "decimals"),
    [
        (10, 10, 0.0, 8),
        (37, 50, 0.5, 1),
        (800, 300, 0.1, 8),
        (9000, 4000, 0.05, 2),  # exact branch, heavy ties
        (12000, 6000, 0.03, 8),  # asymptotic, the 2*smirnov series
        (60000, 20000, 0.0, 3),  # asymptotic, Pelz-Good / Durbin branch
        (60000, 20000, 0.5, 8),  # p underflows to 0
    ],
)
def test_ks_equals_scipy_ks_2samp(n1, n2, shift, decimals):
    rng = np.random.default_rng(n1 + n2)
    a = np.round(rng.normal(size=n1), decimals)
    b = np.round(rng.normal(shift, size=n2), decimals)
    reference = stats.ks_2samp(a, b)
    statistic, p_value = drift.ks(a, b)
    assert abs(statistic - reference.statistic) <= 1e-12
    assert abs(p_value - reference.pvalue) <= 1e-9


@pytest.mark.parametrize("n", [141, 500, 4167, 66667, 133333])
def test_kstwo_sf_equals_scipy_on_its_slow_branch_and_around_it(n):
    # n d^2 from 2.0 (scipy's own branch) through 2.2 .. 370 (the series) to 400 (zero).
    for nd2 in (0.5, 2.0, 2.2, 2.5, 5, 10, 40, 100, 369, 400):
        d = math.sqrt(nd2 / n)
        assert drift.kstwo_sf(d, n) == pytest.approx(stats.kstwo.sf(d, n), abs=1e-9, rel=1e-9)


def test_one_window_breaches_ks_only_above_point_one_and_under_one_percent():
    assert drift.ks_exceeded(0.1001, 0.0099)
    assert not drift.ks_exceeded(0.1, 0.001)  # the statistic must be > 0.1
    assert not drift.ks_exceeded(0.5, 0.01)  # the p-value must be < 0.01
    assert not drift.ks_exceeded(0.09, 1e-30)


def test_drifting_needs_three_consecutive_breaching_windows():
    assert not drift.drifting([True])
    assert not drift.drifting([True, True])  # two are not enough
    assert drift.drifting([True, True, True])
    assert drift.drifting([False, True, True, True])
    assert not drift.drifting([True, True, False])
    assert not drift.drifting([True, False, True])
    assert not drift.drifting([None, True, True])  # a missing window breaks the run


@pytest.mark.parametrize(
    ("drifting", "total", "suspect"),
    [
        (0, 45, False),
        (3, 10, False),  # exactly 30 % is not more than 30 %
        (4, 10, True),
        (13, 45, False),  # 28.9 %
        (14, 45, True),  # 31.1 %
        (45, 45, True),
        (0, 0, False),
    ],
)
def test_meta_check_at_and_around_thirty_percent(drifting, total, suspect):
    assert drift.pipeline_suspect(drifting, total) is suspect
