"""Everything inspect works out for one model on one sample, from one traced forward
pass: gradient flow, gate saturation, states and (text models) the units that track
features of the text."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnncli.inspect import gates as gates_mod
from rnncli.inspect import states as states_mod
from rnncli.inspect import units as units_mod
from rnncli.inspect.gradflow import GradFlow, gradient_flow
from rnncli.inspect.run import Sample, Subject, hidden_states


@dataclass
class Inspection:
    """One model on one sample."""

    subject: Subject
    sample: Sample
    flow: GradFlow
    gates: list[gates_mod.GateSaturation]
    states: dict[str, np.ndarray]  # name -> (T, n_a, m)
    gate_values: dict[str, np.ndarray]  # name -> (T, n_a, m)
    units: dict[str, list[units_mod.Unit]] = field(default_factory=dict)  # text models
    seconds: float = 0.0

    def shown_length(self) -> int:
        """Steps of the first sequence that carry a target (its length, for padding)."""
        valid = self.sample.mask[:, 0]
        return int(np.flatnonzero(valid)[-1] + 1) if valid.any() else self.sample.T

    def sequence_states(self) -> dict[str, np.ndarray]:
        """The first sequence's states: name -> (T', n_a), padding cut off."""
        n = self.shown_length()
        return {s: v[:n, :, 0] for s, v in self.states.items()}

    def to_json(self) -> dict[str, Any]:
        s = self.subject
        doc: dict[str, Any] = {
            "label": s.label,
            "cell": s.p.spec.name,
            "run_dir": str(s.run_dir) if s.run_dir else None,
            "parameters": s.which,
            "task": s.task.get("task"),
            "n_x": s.p.n_x,
            "n_a": s.p.n_a,
            "n_y": s.p.n_y,
            "dtype": str(s.p.dtype),
            "sample": {
                "source": self.sample.source,
                "T": self.sample.T,
                "m": self.sample.m,
                "seed": self.sample.seed,
            },
            "gradient_flow": self.flow.to_json(),
            "gates": [g.to_json() for g in self.gates],
            "states": {k: states_mod.summary(v) for k, v in self.states.items()},
            "seconds": round(self.seconds, 3),
        }
        if self.units:
            doc["units"] = {k: [u.to_json() for u in v] for k, v in self.units.items()}
        return doc


def inspect(subject: Subject, sample: Sample) -> Inspection:
    """Run `subject`'s model on `sample` once (traced) and work everything out."""
    t0 = time.perf_counter()
    p = subject.p
    cache, H = hidden_states(p, sample.X)
    flow = gradient_flow(p, sample, cache, H)
    values = gates_mod.gate_values(p, cache)
    sat = gates_mod.gate_saturation(p, values, sample.mask)
    states = {k: np.array(v) for k, v in states_mod.state_values(p, cache).items()}
    found: dict[str, list[units_mod.Unit]] = {}
    if sample.text is not None:
        feats = units_mod.features(sample.text, sample.context)
        found = units_mod.rank({k: v[:, :, 0] for k, v in states.items()}, feats)
    return Inspection(subject, sample, flow, sat, states, values, found,
                      time.perf_counter() - t0)  # fmt: skip
