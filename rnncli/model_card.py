"""A small model card beside every export: what model a weights or ONNX file holds.

``<stem>_card.json`` next to the file (``model_card.json`` for the default
``model.<format>``): the run it came from, the model's sizes, the config, the task
(task.json; a text model's vocabulary apart, in index order), the metrics of the run's
summary and, for ONNX, the graph's inputs and outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnncli.config import Config

FORMAT = "rnncli-model-card/1"


def card_path(target: Path) -> Path:
    """Where the card of the file `target` goes."""
    return target.with_name(f"{target.stem}_card.json")


def _summary(run_dir: Path) -> dict[str, Any]:
    from rnncli.runs import Run

    try:
        info = Run.load_json(run_dir)
    except Exception:  # a card without metrics rather than no export
        return {}
    summary = info.get("summary")
    return summary if isinstance(summary, dict) else {}


def make(
    run_dir: Path, cfg: Config, task: dict[str, Any], file: Path, fmt: str, which: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The card of `file`, exported from `run_dir` (`which`: last or best parameters)."""
    from rnncli import __version__
    from rnncli.config import to_dict

    summary = _summary(run_dir)
    vocab = {k: task[k] for k in ("vocab", "unknown") if k in task}
    return {
        "format": FORMAT,
        "rnncli": __version__,
        "file": file.name,
        "file_format": fmt,
        "run": str(run_dir),
        "parameters": which,
        "model": {
            "cell": cfg.cell, "n_x": task["n_x"], "hidden": cfg.train.hidden,
            "n_y": task["n_y"], "layers": cfg.model.layers,
            "bidirectional": cfg.model.bidirectional, "dtype": cfg.dtype,
        },  # fmt: skip
        "task": {k: v for k, v in task.items() if k not in vocab},
        "vocabulary": vocab or None,
        "metrics": {
            "status": summary.get("status"), "steps": summary.get("steps"),
            "metric": summary.get("metric"), "final": summary.get("final"),
            "best": summary.get("best"), "solved": summary.get("solved"),
        },  # fmt: skip
        "config": to_dict(cfg),
        **(extra or {}),
    }


def write(target: Path, card: dict[str, Any]) -> Path:
    """Write the card of `target` beside it; its path."""
    import json

    from rnncli.runs import write_bytes_atomic

    text = json.dumps(card, indent=2, sort_keys=False, default=str) + "\n"
    return write_bytes_atomic(card_path(target), text.encode())
