"""Evaluation: scikit-learn's numbers, matching by id (so shuffling the test list changes nothing), thresholds."""
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from artist_style.evaluation.evaluate import summary
from artist_style.evaluation.per_model import evaluate_model, load_test_sets
from artist_style.evaluation.scoring import accuracy_draws, binary_metrics, choose_threshold, group_draws, interval
from artist_style.models.novelty import Novelty


def test_metrics_equal_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    m = binary_metrics(y, p, threshold=0.5)
    pred = (p >= 0.5).astype(int)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-6)
    assert m["f1_target"] == pytest.approx(skm.f1_score(y, pred), abs=1e-6)
    assert m["f1_other"] == pytest.approx(skm.f1_score(1 - y, 1 - pred), abs=1e-6)
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-6)
    assert m["precision_target"] == pytest.approx(skm.precision_score(y, pred), abs=1e-6)
    assert m["recall_other"] == pytest.approx(skm.recall_score(1 - y, 1 - pred), abs=1e-6)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-6)
    assert [m["tn"], m["fp"], m["fn"], m["tp"]] == skm.confusion_matrix(y, pred).ravel().tolist()
    assert m["n"] == 200


def test_known_predictions_give_known_numbers():
    m = binary_metrics([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1])
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (1, 1, 1, 1)
    assert m["accuracy"] == 0.5 and m["precision_target"] == 0.5 and m["roc_auc"] == 0.75


def test_group_draws_draw_groups_not_images():
    groups = np.repeat([f"g{i}" for i in range(10)], [1, 2, 3, 4, 5, 1, 2, 3, 4, 5])
    weights = group_draws(groups, resamples=500, seed=1)
    assert weights.shape == (500, 30)
    for g in set(groups):  # one count per group and draw, shared by its images
        assert (weights[:, groups == g] == weights[:, groups == g][:, :1]).all()
    first = weights[:, np.unique(groups, return_index=True)[1]]
    assert (first.sum(axis=1) == 10).all()  # as many groups drawn as there are
    assert (group_draws(groups, resamples=500, seed=1) == weights).all()


def test_accuracy_draws_equal_scikit_learn_when_every_group_is_drawn_once():
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    ones = np.ones((1, 50))
    assert accuracy_draws(ones, y, pred)[0] == pytest.approx(skm.accuracy_score(y, pred))
    assert accuracy_draws(ones, y, pred, balanced=True)[0] == pytest.approx(skm.balanced_accuracy_score(y, pred))


def test_errors_in_one_group_give_a_wider_interval_than_errors_spread_out():
    """100 images in 10 groups of 10, 10 wrong: all in one group (one drawing the model gets wrong in every
    variant) is less evidence of 0.9 than one in each group, and the interval says so; no errors: no width;
    a model against itself: no difference."""
    groups = np.repeat(np.arange(10), 10)
    y = np.tile([0, 1], 50)
    weights = group_draws(groups, seed=0)
    together, spread = y.copy(), y.copy()
    together[:10] = 1 - together[:10]
    spread[::10] = 1 - spread[::10]
    low_t, high_t = interval(accuracy_draws(weights, y, together))
    low_s, high_s = interval(accuracy_draws(weights, y, spread))
    assert low_t <= 0.8 and high_t == 1.0  # drawing that group 0 times (or twice) is likely
    assert low_s == high_s == 0.9
    assert interval(accuracy_draws(weights, y, y)) == [1.0, 1.0]
    draws = accuracy_draws(weights, y, together)
    assert interval(draws - draws) == [0.0, 0.0]


def test_threshold_rules_pick_the_expected_value():
    # 10 targets, four of them between 0.35 and 0.45; 10 others below 0.25
    labels = [1] * 10 + [0] * 10
    probs = [0.35, 0.4, 0.42, 0.45, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99] + [0.01 * k for k in range(1, 11)]
    probs[-1] = 0.25
    # at 0.5 F1 is 12/16; any threshold in (0.25, 0.35) is perfect: the midpoint 0.3 is nearest 0.5
    assert choose_threshold(labels, probs, "f1") == pytest.approx((0.3, 1.0))
    # balanced accuracy: losing the target at 0.35 costs 1/20, within the one-image slack: 0.375 is nearer 0.5
    assert choose_threshold(labels, probs, "balanced_accuracy") == pytest.approx((0.375, 0.95))


def test_threshold_does_not_chase_one_image():
    # one 'other' at 0.81 among targets at 0.83..0.9: moving to 0.82 gains one image of 20 only
    labels = [1] * 10 + [0] * 10
    probs = [0.83, 0.84, 0.85, 0.86, 0.87, 0.88, 0.9, 0.95, 0.97, 0.99] + [0.81] + [0.02 * k for k in range(1, 10)]
    assert choose_threshold(labels, probs, "balanced_accuracy") == pytest.approx((0.5, 0.95))
    assert choose_threshold(labels, probs, "f1")[0] == 0.5


class FixedModel:
    """Probabilities looked up by id, like a model that knows each image (the models.registry interface)."""

    novelty = None

    def __init__(self, probs):
        self.name, self.meta, self.probs = "fixed", {"version": "v1"}, probs

    def predict(self, ids, kind="original"):
        return np.array([self.probs[i] for i in ids]) * (0.5 if kind == "grayscale" else 1.0)

    def validation(self, ids):
        return self.predict(ids)


def write_split(folder, ids, labels):
    folder.mkdir(parents=True, exist_ok=True)
    return pd.DataFrame({"id": ids, "label": labels, "role": np.where(labels, "target", "other"),
                         "source": "s", "group": ids})


def test_shuffling_the_test_list_changes_nothing(tmp_path):
    rng = np.random.default_rng(3)
    ids = [f"{i:016x}" for i in range(60)]
    labels = rng.integers(0, 2, 60)
    probs = dict(zip(ids, np.clip(labels * 0.4 + rng.random(60) * 0.6, 0, 1)))
    split = tmp_path / "v1"
    table = write_split(split, ids, labels)
    table.iloc[:20].to_csv(split / "val.csv", index=False)
    results = []
    for order in (np.arange(20, 60), rng.permutation(np.arange(20, 60))):
        table.iloc[order].to_csv(split / "test.csv", index=False)
        result, predictions, info, _ = evaluate_model(FixedModel(probs), load_test_sets(tmp_path, ["v1"]), tmp_path,
                                                   "f1", ["grayscale"])
        results.append((result, predictions.reset_index(drop=True)))
    assert results[0][0] == results[1][0]
    pd.testing.assert_frame_equal(results[0][1], results[1][1])
    threshold = results[0][0]["threshold"]  # chosen on val; the metrics use it, on probabilities rounded once
    expected = binary_metrics(labels[20:], np.round([probs[i] for i in ids[20:]], 6), threshold)
    assert results[0][0]["v1_test"]["original"] == expected
    got = results[0][1].query("probe == 'original'").set_index("id")
    assert got.loc[ids[25], "label"] == labels[25]  # labels travel with their ids


class NovelModel(FixedModel):
    """FixedModel with a novelty: scores looked up by id, grayscale pictures twice as novel."""

    def __init__(self, probs, scores):
        super().__init__(probs)
        self.scores, self.novelty = scores, Novelty(np.zeros((1, 1)), 1, threshold=1.0, quantile=0.99)

    def novelty_scores(self, ids, kind="original"):
        return np.array([self.scores[i] for i in ids]) * (2.0 if kind == "grayscale" else 1.0)


def test_unknown_shares_per_test_set_and_probe_and_the_slim_summary(tmp_path):
    ids = [f"{i:016x}" for i in range(40)]
    labels = np.arange(40) % 2
    scores = dict(zip(ids, [0.2] * 36 + [1.5] * 4))  # the last 4 (all test images) are above the threshold 1.0
    scores[ids[30]] = 0.6  # above 1.0 only in grayscale
    split = tmp_path / "v1"
    table = write_split(split, ids, labels)
    table.iloc[:20].to_csv(split / "val.csv", index=False)
    table.iloc[20:].to_csv(split / "test.csv", index=False)
    model = NovelModel(dict(zip(ids, labels * 0.8 + 0.1)), scores)
    result, predictions, _, _ = evaluate_model(model, load_test_sets(tmp_path, ["v1"]), tmp_path, "f1",
                                               ["grayscale"])
    assert result["unknown_val"] == 0 and result["novelty_threshold"] == 1.0
    assert result["v1_test"]["original"]["unknown"] == 4 / 20
    assert result["v1_test"]["grayscale"]["unknown"] == 5 / 20
    assert result["v1_test"]["original"]["accuracy"] == 1.0  # accuracy counts every image, unknown or not
    got = predictions.query("probe == 'original'").set_index("id")["novelty"]
    assert got[ids[39]] == 1.5 and got[ids[20]] == 0.2

    result |= {"unknown_ood": 0.976, "ood_n": 42, "ood_missed": ["flat-grey-48x48"], "e2e_max_abs_diff": 0.0}
    slim = summary({"fixed": result, "plain": {"threshold": 0.5, "v1_test": result["v1_test"]}})
    assert slim["fixed"]["unknown_ood"] == 0.976 and slim["fixed"]["unknown_v1_test"] == 0.2
    assert set(slim["fixed"]) == {"threshold", "v1_test", "unknown_ood", "unknown_v1_test"}
    assert set(slim["plain"]) == {"threshold", "v1_test"}  # no novelty (the baseline): no unknown shares
    original = result["v1_test"]["original"]
    assert slim["fixed"]["v1_test"]["original"] == {"accuracy": original["accuracy"], "roc_auc": original["roc_auc"]}
    assert slim["fixed"]["v1_test"]["grayscale"] == {"accuracy": result["v1_test"]["grayscale"]["accuracy"]}
