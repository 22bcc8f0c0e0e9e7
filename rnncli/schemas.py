"""The JSON documents rnncli prints (``--json``) and keeps (run.json), as versioned
models. Each document carries ``"schema": "rnncli.<name>/<version>"``; its JSON Schema is
published in the docs (``python -m rnncli.schemas DIR`` writes them), and a test holds
every schema to its version: a changed document needs a new version.

The models name every top-level key (a key that is not named is refused) and type the
values a script reads most; deeper structures are plain JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

Json = Any  # any JSON value


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Pass(_Doc):
    """``rnncli forward --json`` and ``rnncli backward --json``."""

    command: str
    config: dict[str, Json]
    arrays: dict[str, dict[str, Json]]
    caches: dict[str, dict[str, Json]]
    samples: dict[str, Json]
    loss: float | None
    run_dir: str | None
    gradients: dict[str, dict[str, Json]] | None = None
    da_t_norms: list[float] | None = None


class Gradcheck(_Doc):
    """``rnncli gradcheck --json``."""

    ok: bool
    passed: int
    failed: int
    checks: int
    rows: list[dict[str, Json]]
    eps: float
    tol: float
    mode: str
    modes: Json
    dtype: str
    seed: int
    dims: dict[str, int]
    scale: Json
    evals: int
    calls: int
    seconds: float
    cells: list[str]
    levels: list[str]
    config: dict[str, Json]
    run_dir: str | None


class Check(_Doc):
    """``rnncli check --json``: per function its verdict, checks and diagnoses."""

    command: str
    ok: bool
    file: dict[str, Json]
    summary: dict[str, Json]
    functions: list[dict[str, Json]]
    notes: list[str]
    settings: dict[str, Json]
    seconds: float
    run_dir: str | None


class CheckError(_Doc):
    """``rnncli check --json`` for a file that could not be checked (exit 2)."""

    command: str
    ok: bool
    error: str


class CheckClass(_Doc):
    """``rnncli check PATH... --json`` (a class): each submission with its verdicts and
    diagnosis ids, and the summary (pass rates, diagnoses, limits, errors)."""

    command: str
    ok: bool
    class_dir: str
    where: str
    settings: dict[str, Json]
    summary: dict[str, Json]
    submissions: list[dict[str, Json]]
    seconds: float


class Train(_Doc):
    """``rnncli train --json``: the run's summary and config (or, for a run that did not
    get that far, its status and message)."""

    status: str
    message: str | None = None
    run_dir: str | None = None
    task: str | None = None
    cell: str | None = None
    steps: int | None = None
    sequences: int | None = None
    stopped_by: str | None = None
    solved: bool | None = None
    sequences_to_solve: int | None = None
    metric: str | None = None
    final: dict[str, Json] | None = None
    best: dict[str, Json] | None = None
    wall_s: float | None = None
    sequences_per_s: float | None = None
    evaluation: dict[str, Json] | None = None
    engine: dict[str, Json] | None = None
    config: dict[str, Json] | None = None


class Sample(_Doc):
    """``rnncli sample --json``: strings with the grammar's verdicts (reber), or text."""

    samples: list[str] | None = None
    accepted: list[bool] | None = None
    accept_rate: float | None = None
    text: str | None = None
    prime: str | None = None
    temperature: float | None = None


class Runs(_Doc):
    """``rnncli runs --json``: one row per run."""

    root: str
    runs: list[dict[str, Json]]


class RunsMlflow(_Doc):
    """``rnncli runs --export-mlflow URI --json``: the runs copied into the MLflow store
    (``path``, ``experiment``, ``run_id``) and the runs left out (``path``, ``reason``)."""

    uri: str
    exported: list[dict[str, str]]
    skipped: list[dict[str, str]]


class Show(_Doc):
    """``rnncli show --json``: run.json, the config keys not at their defaults, the files
    (bytes) and the metrics recorded."""

    run_dir: str
    run: dict[str, Json]
    config_changes: dict[str, Json]
    files: dict[str, int]
    metrics: list[dict[str, Json]]


class Compare(_Doc):
    """``rnncli compare --json``."""

    runs: list[dict[str, str]]
    differences: dict[str, list[Json]]
    final: list[dict[str, Json]]
    metric: str
    x: str
    figure: str | None
    #: one sweep folder: per grid point, its seeds, solved, stopped early and each final
    #: metric's mean and sd over the seeds (``final`` then holds the means)
    groups: list[dict[str, Json]] | None = None


class Sweep(_Doc):
    """``rnncli sweep --json``: counts, the grid and the summary per grid point."""

    sweep_dir: str
    status: str
    jobs: int
    completed: int
    failed: int
    skipped: int
    interrupted: int
    pending: int
    grid: dict[str, list[Json]]
    seeds: list[int]
    wall_s: float
    summary: list[dict[str, Json]]
    failures: list[Json]
    error: str | None


class Inspect(_Doc):
    """``rnncli inspect --json``: every number inspect computed."""

    command: str
    inspections: list[dict[str, Json]]
    files: list[str]
    out_dir: str | None


class Report(_Doc):
    """``rnncli report --json``."""

    report: str


class Export(_Doc):
    """``rnncli export --json``: the file written, its model card and notes (the float32
    cast of an ONNX graph); names: torch, notebook or onnx."""

    path: str
    format: str
    names: str
    card: str
    notes: list[str]


class Cells(_Doc):
    """``rnncli cells --json``."""

    n_x: int
    n_a: int
    cells: list[dict[str, Json]]


class Bench(_Doc):
    """``rnncli bench --json``."""

    version: Json
    config: dict[str, Json]
    machine: dict[str, Json]
    gemm_peak: Json
    size_table: Json
    results: list[Json]
    memory: Json
    throughput: Json
    torch: Json
    jax: Json = None  # (absent from results written before JAX was a peer)
    targets: Json
    elapsed_s: float


class Cache(_Doc):
    """``rnncli cache --json``."""

    folder: str
    entries: list[dict[str, Json]]


class RunInfo(BaseModel):
    """A run folder's run.json: how it was started and how it ended. Commands add their
    own entries (a train run's summary, a check's verdict), so other keys are allowed."""

    model_config = ConfigDict(extra="allow")
    argv: list[str]
    command: str
    cell: str
    status: str
    start_time: str
    seed: int
    path: str
    environment: dict[str, Json]


#: name: (version, model). A change to a model's JSON Schema needs a new version here.
DOCUMENTS: dict[str, tuple[int, type[BaseModel]]] = {
    "forward": (1, Pass),
    "backward": (1, Pass),
    "gradcheck": (1, Gradcheck),
    "check": (1, Check),
    "check-error": (1, CheckError),
    "check-class": (1, CheckClass),
    "train": (1, Train),
    "sample": (1, Sample),
    "runs": (1, Runs),
    "runs-mlflow": (1, RunsMlflow),
    "show": (1, Show),
    "compare": (2, Compare),
    "sweep": (1, Sweep),
    "inspect": (1, Inspect),
    "report": (1, Report),
    "export": (2, Export),
    "cells": (1, Cells),
    "bench": (2, Bench),
    "cache": (1, Cache),
    "run": (1, RunInfo),
}


def schema_id(name: str) -> str:
    """``rnncli.train/1``: the value of a document's ``schema`` field."""
    return f"rnncli.{name}/{DOCUMENTS[name][0]}"


def stamp(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with its ``schema`` field first."""
    return {"schema": schema_id(name), **{k: v for k, v in doc.items() if k != "schema"}}


def validate(doc: dict[str, Any]) -> BaseModel:
    """Check a document against the schema its ``schema`` field names; ValueError if it
    names none, or pydantic's ValidationError if it does not fit."""
    sid = doc.get("schema")
    for name, (version, model) in DOCUMENTS.items():
        if sid == f"rnncli.{name}/{version}":
            return model.model_validate({k: v for k, v in doc.items() if k != "schema"})
    raise ValueError(f"unknown schema {sid!r}")


def json_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema of a document (with its ``schema`` field)."""
    version, model = DOCUMENTS[name]
    schema = model.model_json_schema()
    schema["$id"] = schema_id(name)
    schema.setdefault("properties", {})["schema"] = {"const": schema_id(name), "type": "string"}
    schema["required"] = ["schema", *schema.get("required", [])]
    return schema


def write_all(folder: Path) -> list[Path]:
    """Write every published schema as ``<name>.json`` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in DOCUMENTS:
        path = folder / f"{name}.json"
        path.write_text(json.dumps(json_schema(name), indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


if __name__ == "__main__":  # python -m rnncli.schemas docs/reference/schemas
    for written in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(written)
