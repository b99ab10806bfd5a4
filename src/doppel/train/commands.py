"""`doppel train`: the command line's entry to the trainer."""

from __future__ import annotations

from doppel.runtime import Runtime
from doppel.train.trainer import TrainConfig, train

__all__ = ["TrainConfig", "run_train"]


def run_train(config: TrainConfig, runtime: Runtime) -> int:
    summary = train(config, runtime)
    print("\n".join(summary.lines()))
    return 0
