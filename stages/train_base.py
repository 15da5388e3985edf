"""train_base: the base model, faithful to the original: v1, gap features, Dense(512) head; settings in params.yaml train_base."""
from stages.common import run
from stages.train import main

if __name__ == "__main__":
    run(lambda: main("train_base"))
