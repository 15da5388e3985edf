"""The combined model: a logistic regression on the members' logits, fitted on validation predictions."""
import numpy as np
import pytest
from pydantic import ValidationError

from artist_style.config import Evaluate
from artist_style.errors import UserError
from artist_style.models import stack


def members(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    good = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.15, n), 0.01, 0.99)  # separates the classes
    noise = rng.uniform(0.01, 0.99, n)  # says nothing
    return y, good, noise


def test_stack_leans_on_the_informative_member_and_beats_each_alone():
    y, good, noise = members()
    fitted, oof = stack.fit(["good", "noise"], [good, noise], y, seed=0)
    assert fitted.coef[0] > 1.0 and abs(fitted.coef[1]) < 0.3 * fitted.coef[0]
    assert oof.shape == (200,) and not np.allclose(oof, fitted.combine(good, noise))  # out of fold, not refitted
    assert np.mean((oof >= 0.5) == y) >= np.mean((good >= 0.5) == y) - 0.02


def test_stack_round_trips_through_json(tmp_path):
    y, good, noise = members()
    fitted, _ = stack.fit(["a.keras", "b.weights.json"], [good, noise], y, seed=0)
    stack.save(fitted, tmp_path / "c.stack.json")
    again = stack.load(tmp_path / "c.stack.json")
    assert again.members == ["a.keras", "b.weights.json"]
    assert np.array_equal(again.combine(good, noise), fitted.combine(good, noise))


def test_stack_refuses_too_few_images_of_a_class_and_bad_files(tmp_path):
    y, good, noise = members(20)
    y[:] = 0
    y[:3] = 1
    _, oof = stack.fit(["a", "b"], [good, noise], y, seed=0)  # 3 folds: as many as the smaller class allows
    assert oof.shape == (20,)
    y[1:3] = 0
    with pytest.raises(UserError, match="at least 2 validation images of each class, got \\[19, 1\\]"):
        stack.fit(["a", "b"], [good, noise], y, seed=0)
    (tmp_path / "bad.stack.json").write_text('{"members": ["a"], "coef": [1, 2], "intercept": 0}')
    with pytest.raises(UserError, match="1 members but 2 coefficients"):
        stack.load(tmp_path / "bad.stack.json")


def test_combine_param_names_no_model_or_several():
    base = {"test_sets": ["v2"], "threshold_rule": "f1", "e2e_check": 0, "gallery": 0}
    assert Evaluate.model_validate({**base, "combine": []}).combine == []
    for bad in (["refined"], ["refined", "refined"], ["refined", "cnn"]):
        with pytest.raises(ValidationError):
            Evaluate.model_validate({**base, "combine": bad})


def test_stack_weighs_both_classes_the_same():
    """A member that only partly separates a rare class (a fifth of the images): an unweighted stacker
    calls most targets "other" (recall about 0.3, for plain accuracy), a balanced one finds most of
    them, as balanced accuracy counts them."""
    rng = np.random.default_rng(1)
    y = (np.arange(400) % 5 == 0).astype(int)
    p = np.clip(np.where(y == 1, 0.35, 0.25) + rng.normal(0, 0.08, 400), 0.01, 0.99)
    noise = rng.uniform(0.3, 0.7, 400)
    fitted, _ = stack.fit(["a", "b"], [p, noise], y, seed=0)
    found = fitted.combine(p, noise) >= 0.5
    assert found[y == 1].mean() > 0.65 and found[y == 0].mean() < 0.35


def test_stack_does_not_depend_on_a_members_logit_scale():
    """Label smoothing shrinks a head's logits (the refined head's cluster near +-3.7): shrinking one
    member's logits threefold must leave the combined probabilities as they were, so that the L2 penalty
    does not lean the stack on the member with the larger logits."""
    y, good, noise = members()
    other = np.clip(0.5 + (y - 0.5) * 0.4 + np.random.default_rng(2).normal(0, 0.2, 200), 0.01, 0.99)
    shrunk = 1 / (1 + np.exp(-stack.logits(good)[:, 0] / 3))
    fitted, oof = stack.fit(["a", "b"], [good, other], y, seed=0)
    again, oof_again = stack.fit(["a", "b"], [shrunk, other], y, seed=0)
    assert np.allclose(again.combine(shrunk, other), fitted.combine(good, other), atol=1e-9)
    assert np.allclose(oof_again, oof, atol=1e-9)
    assert again.coef[0] == pytest.approx(3 * fitted.coef[0])
