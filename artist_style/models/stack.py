"""The combined model: the refined CNN's and the colour baseline's probabilities, stacked.

A logistic regression on the two models' logits, fitted on their predictions for the validation split
(the members learned on train only, so these are honest out-of-sample inputs), with both classes
weighing the same (class_weight "balanced"), as in balanced accuracy and the refined head's training.
Each member's logits are standardised first (the scaling is folded into the saved coefficients), so
that the L2 penalty does not favour the member whose logits happen to be larger: label smoothing keeps
the refined head's within about +-6, the baseline's reach +-11 on some images and tasks. On held-out
validation this stack beat the one on raw logits (docs/DESIGN.md, "Standardised logits in the stack").
The threshold must then come from predictions the stacker has not seen: `fit` also returns out-of-fold
validation probabilities (stratified k-fold over the validation images, k = FOLDS or the smaller
class's count if fewer), and evaluate chooses the combined model's threshold on those. The test sets
are never used. Saved as plain JSON (numbers and the members' paths), like the baseline.
"""
import json

import numpy as np

from artist_style.errors import UserError
from artist_style.files import ensure_parent

EPS = 1e-6
FOLDS = 5


def logits(*probabilities):
    """(n, k) logits of k probability vectors, clipped away from 0 and 1."""
    p = np.clip(np.column_stack(probabilities).astype(np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


class Stack:
    """p = sigmoid(coef . logits(member probabilities) + intercept)."""

    def __init__(self, members, coef, intercept):
        self.members, self.coef, self.intercept = list(members), np.asarray(coef, dtype=np.float64), float(intercept)

    def combine(self, *probabilities):
        return 1 / (1 + np.exp(-(logits(*probabilities) @ self.coef + self.intercept)))

    def to_dict(self):
        return {"members": self.members, "coef": self.coef.tolist(), "intercept": self.intercept}


def folds(labels):
    """The k of the out-of-fold predictions: FOLDS, or fewer when the smaller class has fewer images."""
    return min(FOLDS, int(np.bincount(np.asarray(labels, dtype=int), minlength=2).min()))


def fit(members, probabilities, labels, seed, C=1.0):
    """(Stack fitted on all the validation predictions, its out-of-fold probabilities for the same images).
    probabilities: one vector per member, in the order of `members`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    x, y = logits(*probabilities), np.asarray(labels, dtype=int)
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise UserError(f"the combined model needs at least 2 validation images of each class, got {counts.tolist()} "
                        "(or set evaluate.combine: [])")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight="balanced"))
    cv = StratifiedKFold(folds(y), shuffle=True, random_state=seed)
    oof = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
    scaler, logistic = model.fit(x, y).named_steps.values()
    coef = logistic.coef_[0] / scaler.scale_
    return Stack(members, coef, logistic.intercept_[0] - coef @ scaler.mean_), oof


def save(stack, path):
    ensure_parent(path).write_text(json.dumps(stack.to_dict()) + "\n")


def load(path):
    """A saved Stack; one clear error if the file is missing or not one of ours."""
    try:
        d = json.loads(open(path).read())
        stack = Stack([str(m) for m in d["members"]], [float(c) for c in d["coef"]], float(d["intercept"]))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found (run: dvc repro evaluate)")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path}: not a combined model saved by this pipeline: {type(err).__name__}: {err}")
    if len(stack.coef) != len(stack.members):
        raise UserError(f"{path}: {len(stack.members)} members but {len(stack.coef)} coefficients")
    return stack
