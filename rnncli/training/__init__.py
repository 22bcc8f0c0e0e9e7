"""Training: tasks as problems, optimisers, the loop with checkpoints and exact resume."""

from rnncli.training.loop import Result, prepare, train

__all__ = ["Result", "prepare", "train"]
