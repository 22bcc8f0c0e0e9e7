"""Training: tasks as problems, optimisers, the loop with checkpoints and exact resume,
and the one lifecycle of a run (`lifecycle`: plan, then execute) that the command line,
sweeps and the Python API share."""

from rnncli.training.lifecycle import Outcome, Plan, execute, start_or_resume
from rnncli.training.loop import Result, prepare, train

__all__ = ["Outcome", "Plan", "Result", "execute", "prepare", "start_or_resume", "train"]
