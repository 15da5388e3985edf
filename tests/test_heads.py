"""Head training's data: the in-memory and memory-mapped batch paths, and what fit_head keeps."""
import numpy as np
import pytest

from artist_style import config
from artist_style.models import heads


@pytest.fixture
def mapped(tmp_path):
    """A (60, 5) float32 feature array on disk, memory-mapped, and 40 of its rows in shuffled order."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "f.npy", rng.normal(size=(60, 5)).astype(np.float32))
    array = np.load(tmp_path / "f.npy", mmap_mode="r")
    rows = rng.permutation(60)[:40]
    labels = (np.asarray(array[rows]).sum(axis=1) > 0).astype(np.float32)
    return array, rows, labels


def read_all(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def test_batch_order_is_a_fresh_permutation_per_epoch_sorted_within_batches(mapped):
    _, rows, _ = mapped
    orders = heads.batch_order(rows, 16, epochs=3, seed=7)
    assert orders.shape == (3, 40)
    for order in orders:
        assert sorted(order) == list(range(40))
        for start in range(0, 40, 16):
            assert np.all(np.diff(rows[order[start:start + 16]]) > 0)  # sequential reads of the map
    assert not np.array_equal(orders[0], orders[1])
    assert np.array_equal(orders, heads.batch_order(rows, 16, epochs=3, seed=7))
    unshuffled = heads.batch_order(rows, 16, epochs=3, seed=None)  # validation: one pass, in order
    assert unshuffled.shape == (1, 40) and sorted(unshuffled[0][:16]) == list(range(16))


def test_in_memory_and_memory_mapped_batches_are_the_same(mapped, monkeypatch):
    array, rows, labels = mapped
    in_memory = read_all(heads.batches(array, rows, labels, 16, epochs=2, seed=1))
    monkeypatch.setattr(heads, "IN_MEMORY_BYTES", 0)
    from_map = read_all(heads.batches(array, rows, labels, 16, epochs=2, seed=1))
    assert [len(x) for x, _ in in_memory] == [16, 16, 8, 16, 16, 8]
    for (x1, y1), (x2, y2) in zip(in_memory, from_map, strict=True):
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    # every epoch is every row once, with its own label
    first_epoch = np.concatenate([x for x, _ in in_memory[:3]])
    assert sorted(map(tuple, first_epoch)) == sorted(map(tuple, np.asarray(array[rows])))
    by_row = {tuple(np.asarray(array[r])): label for r, label in zip(rows, labels)}
    assert all(by_row[tuple(row)] == label for x, y in in_memory for row, label in zip(x, y))


def test_fit_head_trains_the_same_head_from_memory_and_from_the_map(mapped, monkeypatch):
    array, rows, labels = mapped
    cfg = config.load().train_refined.model_copy(update={"units": 8, "epochs": 3, "batch_size": 16})
    train, val = (rows[:30], labels[:30]), (rows[30:], labels[30:])
    head, history, kept = heads.fit_head(cfg, 5, array, train, val)
    monkeypatch.setattr(heads, "IN_MEMORY_BYTES", 0)
    again, history_again, kept_again = heads.fit_head(cfg, 5, array, train, val)
    assert kept == kept_again and history == history_again
    assert len(history["val_accuracy"]) == 3 and history["val_accuracy"][kept] == max(history["val_accuracy"])
    for w1, w2 in zip(head.get_weights(), again.get_weights(), strict=True):
        assert np.array_equal(w1, w2)


def test_label_smoothing_reaches_the_loss(mapped):
    """With targets smoothed by s, the mean probability of a separable problem's target rows settles near
    1 - s/2, not near 1."""
    array, rows, labels = mapped
    cfg = config.load().train_refined.model_copy(update={
        "units": 16, "epochs": 60, "batch_size": 40, "dropout": 0.0, "l2": 0.0, "learning_rate": 0.05,
        "keep": "last"})
    order = np.argsort(rows)
    mean = {}
    for smoothing in (0.0, 0.2):
        head, _, _ = heads.fit_head(cfg.model_copy(update={"label_smoothing": smoothing}), 5, array,
                                    (rows, labels), (rows, labels))
        probs = np.asarray(head(np.asarray(array[rows[order]]), training=False)).ravel()
        mean[smoothing] = probs[labels[order] == 1].mean()
    assert mean[0.0] > 0.97
    assert 0.85 < mean[0.2] < 0.93


def test_balanced_class_weights_make_both_classes_weigh_the_same():
    labels = np.array([1, 0, 0, 0, 1, 0, 0, 0], dtype=np.float32)  # 2 of 8 targets
    weights = heads.class_weights(labels, "balanced")
    assert weights == {0: 8 / 12, 1: 8 / 4}
    assert weights[0] * 6 == pytest.approx(weights[1] * 2)
    assert heads.class_weights(np.array([0, 1, 1, 0]), "balanced") == {0: 1.0, 1: 1.0}
    assert heads.class_weights(labels, "none") is None


def test_balanced_class_weights_move_the_boundary_towards_the_rare_class(mapped):
    """Labels that the features cannot predict, a quarter of them targets: the head learns the base rate,
    about 0.25 unweighted and about 0.5 with both classes weighing the same."""
    array, rows, _ = mapped
    labels = (np.arange(len(rows)) % 4 == 0).astype(np.float32)
    cfg = config.load().train_refined.model_copy(update={
        "units": 4, "epochs": 100, "batch_size": 40, "dropout": 0.0, "l2": 0.01, "learning_rate": 0.05,
        "label_smoothing": 0.0, "keep": "last"})
    mean = {}
    for rule in ("none", "balanced"):
        head, _, _ = heads.fit_head(cfg.model_copy(update={"class_weight": rule}), 5, array, (rows, labels),
                                    (rows, labels))
        mean[rule] = float(np.asarray(head(np.asarray(array[np.sort(rows)]), training=False)).mean())
    assert 0.18 < mean["none"] < 0.32, mean
    assert 0.38 < mean["balanced"] < 0.62, mean


def test_refit_trains_on_train_and_val_for_the_kept_epochs_and_keeps_held_out_probabilities(mapped):
    """The refit head is a head trained on train + the extra rows for the first fit's kept epochs (the same
    weights, not just similar ones); the validation probabilities are the first head's, which never saw
    those rows. With validation labels that contradict the training rule, the refit head learns them."""
    array, rows, labels = mapped
    cfg = config.load().train_refined.model_copy(update={
        "units": 16, "epochs": 30, "batch_size": 40, "dropout": 0.0, "l2": 0.0, "learning_rate": 0.05,
        "label_smoothing": 0.0, "class_weight": "none", "keep": "best"})
    train, val = (rows[:30], labels[:30]), (rows[30:], 1 - labels[30:])  # val labels inverted
    first, history, kept, held_out = heads.fit_and_refit(cfg.model_copy(update={"refit": False}), 5, array,
                                                         train, val, val)
    refit, history_again, kept_again, held_out_again = heads.fit_and_refit(cfg.model_copy(update={"refit": True}),
                                                                           5, array, train, val, val)
    assert kept == kept_again and history == history_again
    assert np.array_equal(held_out, held_out_again)
    assert np.array_equal(held_out, heads.probabilities(first, array, val[0]))
    direct, _, _ = heads.fit_head(cfg.model_copy(update={"epochs": kept + 1, "keep": "last"}), 5, array,
                                  (np.concatenate([rows[:30], rows[30:]]), np.concatenate([train[1], val[1]])), None)
    for w1, w2 in zip(refit.get_weights(), direct.get_weights(), strict=True):
        assert np.array_equal(w1, w2)
    assert kept + 1 < cfg.epochs  # so the refit's epochs are the kept ones, not all of them
    last = cfg.model_copy(update={"keep": "last", "refit": True, "epochs": 100})
    first, _, _, _ = heads.fit_and_refit(last.model_copy(update={"refit": False}), 5, array, train, val, val)
    refit, _, _, _ = heads.fit_and_refit(last, 5, array, train, val, val)
    right = {name: np.mean((heads.probabilities(h, array, val[0]) >= 0.5) == val[1]) for name, h in
             (("first", first), ("refit", refit))}
    assert right["first"] < 0.5 < right["refit"], right
