"""The task registry: a user's task, defined and registered in their own module (here,
this one), trains through the CLI like a built-in one; the config knows exactly the
registered tasks; the built-in facts come from the registry."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rnncli import engine
from rnncli.cli import app
from rnncli.config import TASK_DEFAULTS, load_config
from rnncli.engine import Packed
from rnncli.errors import InputError
from rnncli.tasks import registry
from rnncli.tasks.problem import Batch, Problem, logits
from rnncli.tasks.registry import TaskSpec

SYMBOLS = 3
LENGTH = 6


def echo(rng: np.random.Generator, m: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """m sequences of LENGTH random symbols, one-hot (n_x, m, T); the target at every
    step is the symbol read at that step, (m, T)."""
    symbols = rng.integers(0, SYMBOLS, size=(m, LENGTH))
    x = np.eye(SYMBOLS, dtype=dtype)[symbols].transpose(2, 0, 1)
    return x, symbols


class EchoProblem(Problem):
    """Say the symbol just read: learned in a few dozen steps."""

    def __init__(self, cfg: Any, eval_rng: np.random.Generator, progress: Any = None):
        super().__init__("echo", SYMBOLS, SYMBOLS, "xent", "error")
        self.batch_size, self.dtype = cfg.train.batch, np.dtype(cfg.dtype)
        x, self.eval_y = echo(eval_rng, cfg.train.eval_size, self.dtype)
        self.eval_X = engine.to_time_major(x)

    def batch(self, rng: np.random.Generator) -> Batch:
        x, y = echo(rng, self.batch_size, self.dtype)
        return Batch(engine.to_time_major(x), np.ascontiguousarray(y.T))

    def evaluate(self, p: Packed) -> dict[str, float]:
        said = logits(p, self.eval_X).argmax(axis=1).T  # (m, T)
        return {"error": float(np.mean(said != self.eval_y))}

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["error"] == 0.0


ECHO = TaskSpec(
    "echo", "say the symbol just read (a test's task)", EchoProblem,
    defaults={"train": {"hidden": 8, "batch": 16, "lr": 0.05, "eval_every": 10,
                        "eval_size": 64}},
    criterion="every symbol said back",
)  # fmt: skip


@pytest.fixture
def echo_task() -> Iterator[TaskSpec]:
    registry.register(ECHO)
    yield ECHO
    registry.unregister("echo")


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1"}, catch_exceptions=False)


@pytest.mark.usefixtures("echo_task")
def test_a_users_task_trains_through_the_cli(tmp_path: Path) -> None:
    result = invoke("train", "--task", "echo", "train.steps=50", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["task"] == "echo" and summary["steps"] <= 50
    assert summary["metric"] == "error" and 0.0 <= summary["final"]["error"] <= 1.0
    assert math.isfinite(summary["final"]["loss"])
    assert isinstance(summary["solved"], bool)
    run = Path(summary["run_dir"])
    assert json.loads((run / "task.json").read_text()) == {"task": "echo", "n_x": 3, "n_y": 3}
    config = (run / "config.yaml").read_text()
    assert "hidden: 8" in config and "lr: 0.05" in config  # the task's defaults
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows and all(math.isfinite(r["loss"]) for r in rows)
    assert rows[-1]["error"] < rows[0]["error"] or rows[-1]["error"] == 0.0  # it learns


@pytest.mark.usefixtures("echo_task")
def test_a_users_task_is_known_to_the_config_until_it_goes() -> None:
    assert registry.names()[-1] == "echo" and "echo" in TASK_DEFAULTS
    cfg = load_config(overrides=["train.task=echo"], training=True)
    assert (cfg.train.task, cfg.train.hidden, cfg.train.batch) == ("echo", 8, 16)
    registry.unregister("echo")
    with pytest.raises(InputError, match="train.task='echo' is invalid"):
        load_config(overrides=["train.task=echo"])


def test_an_unknown_task_is_refused_in_one_line_naming_the_known_ones() -> None:
    with pytest.raises(InputError) as err:
        load_config(overrides=["train.task=chess"])
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert message.startswith("override: train.task='chess' is invalid: expected one of ")
    assert all(repr(name) in message for name in registry.names())


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(TaskSpec("reber", "another reber", EchoProblem))


def test_the_built_in_tasks_and_their_flags() -> None:
    assert registry.names() == [
        "reber", "adding", "text", "lag", "lag-noise", "multiplication", "temporal-order",
        "temporal-order-3", "copy",
    ]  # fmt: skip
    assert [s.name for s in registry.battery()] == registry.names()[3:]
    assert [n for n in registry.names() if registry.get(n).next_symbol] == ["reber", "text", "lag"]
    assert registry.data_task() == "text" and registry.generative() == ["reber", "text"]
    assert registry.generative(primed=True) == ["text"]
    assert not registry.get("text").criterion and registry.get("adding").criterion
    assert all(registry.get(n).description for n in registry.names())
    assert dict(TASK_DEFAULTS)["lag"]["init"] == {"forget_bias": 5.0}
