"""Seeds everywhere: `dvc repro -f` twice gives identical metrics, and predict agrees with evaluate."""
import io

import numpy as np
import pandas as pd

from tests.conftest import git_init, sh


def test_repro_twice_gives_identical_metrics_and_predict_matches_evaluate(tiny_project):
    git_init(tiny_project)
    sh(tiny_project, "dvc", "repro")
    metrics = sorted(p.relative_to(tiny_project) for p in (tiny_project / "metrics").rglob("*.json"))
    first = {p: (tiny_project / p).read_text() for p in metrics}
    predictions = (tiny_project / "plots/evaluate/predictions.csv").read_text()
    sh(tiny_project, "dvc", "repro", "-f")
    assert {p: (tiny_project / p).read_text() for p in metrics} == first
    assert (tiny_project / "plots/evaluate/predictions.csv").read_text() == predictions
    assert len(metrics) >= 6

    evaluated = pd.read_csv(io.StringIO(predictions), dtype={"id": str})
    evaluated = evaluated.query("model == 'refined' and test_set == 'v2_test' and probe == 'original'")
    images = pd.read_csv(tiny_project / "data/interim/images.csv", dtype={"id": str}).set_index("id")
    files = [str(tiny_project / images.loc[i, "path"] / images.loc[i, "member"]) for i in evaluated["id"]]
    result = sh(tiny_project, "python", "-m", "artist_style.predict", *files)
    got = pd.read_csv(io.StringIO(result.stdout))
    assert got["path"].tolist() == files
    assert np.abs(got["probability"].to_numpy() - evaluated["probability"].to_numpy()).max() < 1e-4
