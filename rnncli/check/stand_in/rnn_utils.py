"""A stand-in for the course's ``rnn_utils``: the helpers the notebook's code calls.

The course's formulas, so a learner's functions compute what they computed in the
notebook: ``sigmoid`` as 1 / (1 + exp(-x)), ``softmax`` over axis 0 after subtracting the
array's global max. ``from rnn_utils import *`` also brings ``np``, as the course's does.
"""

import numpy as np


def softmax(x):
    """Softmax over axis 0 (each column sums to 1)."""
    e_x = np.exp(x - np.max(x))
    return e_x / e_x.sum(axis=0)


def sigmoid(x):
    """The logistic function, elementwise."""
    return 1 / (1 + np.exp(-x))
