"""train_refined: the refined model: v2, style features, L2, dropout, augmented views, best-epoch checkpoint; settings in params.yaml train_refined."""
from stages.common import run
from stages.train import main

if __name__ == "__main__":
    run(lambda: main("train_refined"))
