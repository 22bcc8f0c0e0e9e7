"""Sampling as ``rnncli sample`` in cli.py still calls it, by task name. The samplers
live with their tasks (`TaskSpec.sampler`: `rnncli.tasks.reber.sample`,
`rnncli.tasks.text.task.sample`); this module goes once cli.py asks the registry."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnncli.engine import Packed
from rnncli.tasks import reber
from rnncli.tasks.text import Vocab
from rnncli.tasks.text import task as text_task


def sample_reber(
    p: Packed, n: int, temperature: float, rng: np.random.Generator, max_len: int = 100
) -> dict[str, Any]:
    """n Reber strings with the grammar's verdict (`rnncli.tasks.reber.sample`)."""
    return reber.sample(p, None, n, temperature, None, rng, max_len)


def sample_text(
    p: Packed, vocab: Vocab, n: int, temperature: float, prime: str, rng: np.random.Generator
) -> dict[str, Any]:
    """`prime` and n characters (`rnncli.tasks.text.task.sample_chars`)."""
    return text_task.sample_chars(p, vocab, n, temperature, prime, rng)
