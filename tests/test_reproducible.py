"""Seeds everywhere: `dvc repro -f` twice gives byte-identical outputs (models, metrics, plots) and the
same dvc.lock, and predict agrees with evaluate."""
import hashlib
import io

import numpy as np
import pandas as pd

from tests.conftest import git_init, sh


def test_repro_twice_gives_identical_metrics_and_predict_matches_evaluate(tiny_project):
    git_init(tiny_project)
    sh(tiny_project, "dvc", "repro")
    outputs = sorted(p.relative_to(tiny_project) for folder in ("metrics", "plots", "models")
                     for p in (tiny_project / folder).rglob("*") if p.is_file() and p.name != ".gitignore")
    first = {p: hashlib.sha256((tiny_project / p).read_bytes()).hexdigest() for p in outputs}
    lock = (tiny_project / "dvc.lock").read_text()
    predictions = (tiny_project / "plots/evaluate/predictions.csv").read_text()
    sh(tiny_project, "dvc", "repro", "-f")  # every stage again: every file byte for byte the same
    assert {p: hashlib.sha256((tiny_project / p).read_bytes()).hexdigest() for p in outputs} == first
    assert (tiny_project / "dvc.lock").read_text() == lock
    assert len(outputs) >= 40 and any(p.suffix == ".keras" for p in outputs)

    evaluated = pd.read_csv(io.StringIO(predictions), dtype={"id": str})
    evaluated = evaluated.query("model == 'refined' and test_set == 'v2_test' and probe == 'original'")
    images = pd.read_csv(tiny_project / "data/interim/images.csv", dtype={"id": str}).set_index("id")
    files = [str(tiny_project / images.loc[i, "path"] / images.loc[i, "member"]) for i in evaluated["id"]]
    result = sh(tiny_project, "python", "-m", "artist_style.predict", *files)
    got = pd.read_csv(io.StringIO(result.stdout))
    assert got["path"].tolist() == files
    assert np.abs(got["probability"].to_numpy() - evaluated["probability"].to_numpy()).max() < 1e-4
