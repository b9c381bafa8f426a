import numpy as np

from sklearn.metrics import f1_score

import pytest
from threatclf.thresholds import beats_chance, best_f1, f1_optimal_threshold, half_best_f1_threshold


def test_threshold_separates_perfectly_separable_scores():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.9])
    t = f1_optimal_threshold(y, p)
    assert 0.3 < t <= 0.7
    assert ((p >= t) == y.astype(bool)).all()


def test_threshold_trades_precision_for_recall_when_it_pays():
    y = np.array([1, 0, 1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.6, 0.55, 0.5, 0.3, 0.2, 0.1])
    t = f1_optimal_threshold(y, p)
    assert 0.5 < t <= 0.55  # all three positives, one false positive: F1 0.857


def test_no_positive_keeps_default():
    assert f1_optimal_threshold(np.zeros(4), np.linspace(0, 1, 4), default=0.42) == 0.42


def test_half_way_between_neighbouring_floats_stays_above_the_lower_score():
    # (cut + lower) / 2 rounds onto the lower score when the two are adjacent floats
    above = np.nextafter(0.5, 1.0)
    y = np.array([1, 1, 0, 0])
    proba = np.array([above, above, 0.5, 0.2])
    below = 0.5
    threshold = f1_optimal_threshold(y, proba)
    assert threshold > below
    assert ((proba >= threshold) == y.astype(bool)).all()


def test_half_best_f1_is_half_the_best_f1_reached():
    y = np.array([1, 0, 1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.6, 0.55, 0.5, 0.3, 0.2, 0.1])
    # the best cut keeps the top four: three positives, one false positive, F1 6/7
    assert half_best_f1_threshold(y, p) == 3 / 7
    assert half_best_f1_threshold(np.zeros(4), np.linspace(0, 1, 4), default=0.42) == 0.42


def test_half_best_f1_is_f1_optimal_for_calibrated_probabilities():
    # Draw outcomes from the probabilities themselves (perfect calibration): the cut-off at half
    # the best F1 reaches that best F1 on fresh outcomes, as the arg-max cut-off does.
    rng = np.random.default_rng(0)
    proba = rng.beta(0.3, 3.0, 400_000)
    y = rng.random(proba.size) < proba
    fresh = rng.random(proba.size) < proba
    half, argmax = half_best_f1_threshold(y, proba), f1_optimal_threshold(y, proba)
    best = max(f1_score(fresh, proba >= t) for t in np.linspace(0.05, 0.95, 181))
    assert f1_score(fresh, proba >= half) > best - 0.002
    assert abs(half - argmax) < 0.03
    # and it is not the best F1 itself, nor any cut-off far from the optimum
    assert f1_score(fresh, proba >= 2 * half) < best - 0.05


def test_beats_chance_takes_a_random_state_object_as_well_as_a_seed():
    # ThreatClassifier(random_state=np.random.RandomState(0)) reaches here; numpy < 2.2's
    # default_rng refused a RandomState
    from threatclf.thresholds import beats_chance

    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(int)
    proba = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    first = beats_chance(y, proba, random_state=np.random.RandomState(5))
    assert first == beats_chance(y, proba, random_state=np.random.RandomState(5)) and isinstance(first, bool)
    assert beats_chance(y, proba, random_state=7) is True


def test_the_cut_off_sits_half_way_between_the_best_score_and_the_next_lower_one():
    assert f1_optimal_threshold([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9]) == pytest.approx(0.5)
    # labelling every row is best: the cut-off is the lowest score itself, not the default
    assert f1_optimal_threshold([1, 1, 1, 0], [0.2, 0.5, 0.6, 0.7]) == pytest.approx(0.2)


def test_weights_other_than_zero_and_one_move_the_cut_off():
    # a weight of 5 on the negative at 0.8 makes labelling it cost more than missing the positive at 0.3
    assert f1_optimal_threshold([1, 0, 1], [0.9, 0.8, 0.3]) == pytest.approx(0.3)
    assert f1_optimal_threshold([1, 0, 1], [0.9, 0.8, 0.3], sample_weight=[1, 5, 1]) == pytest.approx(0.85)


def test_beats_chance_is_the_permutation_test_it_says_with_weights_and_ties():
    from threatclf.thresholds import best_f1

    rng = np.random.default_rng(7)
    for trial in range(40):
        n = 30
        y = (rng.random(n) < 0.3).astype(int)
        proba = np.round(rng.random(n) + 0.25 * y * (trial % 3), 1)  # ties, and some signal in two trials of three
        weights = rng.choice([0.5, 1.0, 3.0], n)
        if not (y * weights).any():
            continue
        shuffles = np.random.default_rng(trial)
        null = []
        for _ in range(100):  # the reference: labels and their weights dealt to other scores
            order = shuffles.permutation(n)
            null.append(best_f1(y[order], proba, sample_weight=weights[order]))
        expected = best_f1(y, proba, sample_weight=weights) > np.quantile(null, 0.95)
        assert beats_chance(y, proba, sample_weight=weights, random_state=trial) == expected, trial
        # a RandomState is used as it stands, not replaced by a fixed seed
        state = np.random.RandomState(trial + 1000)
        shuffles = np.random.Generator(np.random.RandomState(trial + 1000)._bit_generator)
        null = [best_f1(y[order], proba, sample_weight=weights[order])
                for order in (shuffles.permutation(n) for _ in range(100))]
        expected = best_f1(y, proba, sample_weight=weights) > np.quantile(null, 0.95)
        assert beats_chance(y, proba, sample_weight=weights, random_state=state) == expected, trial


def test_equal_best_f1_at_two_cut_offs_takes_the_lower_one():
    # pins the tie rule (t02): labelling all four rows and labelling the top one both reach F1 2/3;
    # the cut-off kept is the lower one, which finds every positive
    y, proba = [1, 0, 0, 1], [0.9, 0.7, 0.5, 0.3]
    assert best_f1(y, proba) == pytest.approx(2 / 3)
    assert f1_optimal_threshold(y, proba) == pytest.approx(0.3)


def test_half_best_f1_weighs_the_rows_as_best_f1_does():
    # kills t06: a weight of 5 on the negative at 0.8 lowers the best F1 from 6/7 to 6/11
    y, proba = [1, 0, 1, 1, 0, 0, 0, 0], [0.9, 0.8, 0.6, 0.55, 0.5, 0.3, 0.2, 0.1]
    weights = [1, 5, 1, 1, 1, 1, 1, 1]
    assert half_best_f1_threshold(y, proba, sample_weight=weights) == pytest.approx(3 / 11)
    assert half_best_f1_threshold(y, proba) == pytest.approx(3 / 7)


def test_a_split_one_shuffle_in_four_gives_as_well_does_not_beat_chance():
    # kills t08: one positive among four rows lands on top for a quarter of the shuffles; the observed
    # best F1 (1.0) equals the null's 95th percentile, which is not beating it
    assert beats_chance([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3]) is False
    assert beats_chance([1] + [0] * 39, np.linspace(1, 0, 40)) is True  # one in forty: it does


def test_only_positives_give_the_lowest_score_not_the_default():
    # kills t11: every row is a positive: labelling them all is best, whatever the default
    assert f1_optimal_threshold([1, 1, 1], [0.2, 0.5, 0.9], default=0.5) == pytest.approx(0.2)
    assert half_best_f1_threshold([1, 1, 1], [0.2, 0.5, 0.9], default=0.9) == pytest.approx(0.5)
