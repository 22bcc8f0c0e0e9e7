"""Versioned JSON: every ``--json`` document and every run.json names its schema, fits
it, and a schema never changes without a new version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnncli import schemas
from rnncli.cli import app

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "docs" / "reference" / "schemas"
VERSIONS = Path(__file__).parent / "fixtures" / "schema_versions.json"


def _json(args: list[str], code: int = 0) -> dict:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("schemas")
    for cell in ("lstm", "rnn"):
        _json(["train", "--task", "reber", "--cell", cell, "train.steps=20",
               "train.eval_every=10", "--out", str(out), "--json"])  # fmt: skip
    return out


def _documents(out: Path, tmp: Path) -> dict[str, dict]:
    o = ["--out", str(out)]
    train = sorted(str(p) for p in out.glob("*/*train*"))
    learner = tmp / "mine.py"
    learner.write_text("import numpy as np\n\ndef rnn_cell_forward(xt, a_prev, parameters):\n"
                       "    return None\n")  # fmt: skip
    return {
        "forward": _json(["forward", "--json", *o]),
        "backward": _json(["backward", "--json", "--no-save"]),
        "gradcheck": _json(["gradcheck", "--cell", "rnn", "--level", "cell", "--json", *o]),
        "train": _json(["train", "train.steps=10", "--no-save", "--json"]),
        "sample": _json(["sample", train[0], "-n", "2", "--json"]),
        "runs": _json(["runs", "--json", *o]),
        "show": _json(["show", train[0], "--json"]),
        "compare": _json(["compare", *train, "--json", "--no-save"]),
        "inspect": _json(["inspect", train[0], "--json", "--no-save"]),
        "report": _json(["report", train[0], "--json"]),
        "export": _json(["export", train[0], "--format", "npz", "--json"]),
        "cells": _json(["cells", "--json"]),
        "check": _json(["check", str(learner), "--json", "--no-save"], code=1),
        "check-error": _json(["check", str(tmp / "missing.py"), "--json"], code=2),
        "sweep": _json(["sweep", "--task", "reber", "cell=rnn", "train.steps=10", "--workers",
                        "1", "--out", str(tmp / "sweep"), "--json"]),
        "bench": _json(["bench", "--sizes", "tiny", "--cells", "rnn", "--dtypes", "float64",
                        "--rounds", "1", "--no-torch", "--no-throughput", "--json"]),
        "cache": _json(["cache", "--json"]),
    }


def test_every_document_names_and_fits_its_schema(runs: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RNNCLI_CACHE", str(tmp_path / "cache"))
    for name, doc in _documents(runs, tmp_path).items():
        assert doc["schema"] == schemas.schema_id(name), name
        schemas.validate(doc)


def test_every_run_json_fits_the_run_schema(runs: Path):
    files = list(runs.glob("*/*/run.json"))
    assert len(files) >= 4
    for path in files:
        info = json.loads(path.read_text())
        assert info["schema"] == schemas.schema_id("run")
        schemas.validate(info)


def test_a_key_the_schema_does_not_name_is_refused():
    doc = {"schema": schemas.schema_id("report"), "report": "r.html", "extra": 1}
    with pytest.raises(ValueError, match="extra"):
        schemas.validate(doc)
    with pytest.raises(ValueError, match="unknown schema"):
        schemas.validate({"schema": "rnncli.report/99", "report": "r.html"})


def test_the_published_schemas_are_the_models():
    names = {p.stem for p in PUBLISHED.glob("*.json")}
    assert names == set(schemas.DOCUMENTS)
    for name in schemas.DOCUMENTS:
        published = json.loads((PUBLISHED / f"{name}.json").read_text())
        assert published == schemas.json_schema(name), (
            f"{name}: run python -m rnncli.schemas docs/reference/schemas"
        )


def test_no_schema_changes_without_a_new_version():
    recorded = json.loads(VERSIONS.read_text())
    for name, (version, _) in schemas.DOCUMENTS.items():
        text = json.dumps(schemas.json_schema(name), sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        before = recorded.get(name)
        if before is not None and before["version"] == version:
            assert before["sha256"] == digest, (
                f"the {name} document changed: give it a new version in "
                f"rnncli.schemas.DOCUMENTS and record it in {VERSIONS.name}"
            )
        else:
            pytest.fail(f"{name} version {version} is not recorded in {VERSIONS.name}")
