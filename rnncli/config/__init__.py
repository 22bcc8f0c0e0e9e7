"""The experiment configuration: a strict schema, layered sources and one-line errors.

Precedence, lowest first (a deep merge; validation happens once, at the end)::

    built-in defaults  <  TASK_DEFAULTS[task]  <  --config FILE  <  shortcut flags  <  key=value

In the spirit of nanoGPT's configurator, unknown keys and type changes are refused: an int
must be an int (``2.5``, ``"5"`` and ``true`` are not), a float accepts an int. Every problem
becomes an :class:`~rnncli.errors.InputError` with one line that names the source, the dotted
key, the bad value and what was expected, e.g.
``configs/x.yaml: unknown key 'dims.na' (did you mean 'dims.n_a'?)``.

YAML is read with a subclass of ``yaml.SafeLoader`` (never the unsafe loaders, never eval)
whose only change is that ``1e-2``, ``1E3`` and ``-.5`` are floats, as in YAML 1.2.
"""

from rnncli.config.load import config_view, dump_yaml, load_config, to_dict
from rnncli.config.memory import (
    available_memory,
    check_memory,
    check_training_memory,
    estimate_bytes,
)
from rnncli.config.schema import TASK_DEFAULTS, Config, Sweep, Train, leaf_keys
from rnncli.config.source import parse_overrides, parse_seeds, sweep_values

__all__ = [
    "TASK_DEFAULTS",
    "Config",
    "Sweep",
    "Train",
    "available_memory",
    "check_memory",
    "check_training_memory",
    "config_view",
    "dump_yaml",
    "estimate_bytes",
    "leaf_keys",
    "load_config",
    "parse_overrides",
    "parse_seeds",
    "sweep_values",
    "to_dict",
]
