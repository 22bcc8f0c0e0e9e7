"""Metrics where people look: TensorBoard event files written while training
(``train.tensorboard``), and runs copied into an MLflow store (``runs --export-mlflow``).
Each part is read back with the other tool's own reader."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnncli import schemas
from rnncli.cli import app
from rnncli.runs import Run


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# ----------------------------------------------------------------------------- TensorBoard


def test_a_sweep_writes_event_files_tensorboard_reads_back(tmp_path: Path):
    pytest.importorskip("tensorboardX", reason="the [tensorboard] extra is not installed")
    pytest.importorskip("tensorboard", reason="tensorboard (the reader) is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    out = tmp_path / "sweep"
    result = invoke("sweep", "--task", "reber", "cell=rnn,lstm", "train.steps=20",
                    "train.eval_every=5", "train.tensorboard=true", "--workers", "1",
                    "--out", str(out), "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    jobs = sorted(p for p in out.iterdir() if (p / "run.json").is_file())
    assert [j.name for j in jobs] == ["cell=lstm,rep=0", "cell=rnn,rep=0"]
    for job in jobs:
        assert list(job.glob("events.out.tfevents.*")), job
        acc = EventAccumulator(str(job), size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
        records = _records(job)
        assert [r["step"] for r in records] == [5, 10, 15, 20]
        keys = [k for k in records[0] if k != "step"]
        assert {"loss", "outer_acc", "sequences", "wall_s"} <= set(keys)
        assert set(acc.Tags()["scalars"]) == set(keys)
        for key in keys:
            events = acc.Scalars(key)
            assert [e.step for e in events] == [r["step"] for r in records], key
            want = [float(r[key]) for r in records]
            assert [e.value for e in events] == pytest.approx(want, rel=1e-6), key
        assert "config/text_summary" in acc.Tags()["tensors"]
        text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
        assert "| `train.steps` | `20` |" in text
        content = acc.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/session_start_info"]
        ).session_start_info
        hp = {k: v.string_value or v.number_value for k, v in start.hparams.items()}
        cell = job.name.split(",")[0].split("=")[1]
        assert hp["cell"] == cell and hp["train.task"] == "reber"
        assert hp["train.steps"] == 20 and hp["seed_label"] == 0
        assert "_hparams_/session_end_info" in content


def test_tensorboard_without_the_extra_is_refused_in_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    out = tmp_path / "runs"
    result = invoke("train", "--task", "reber", "train.steps=5", "train.tensorboard=true",
                    "--out", str(out))  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "rnncli: error: train.tensorboard=true needs tensorboardX: "
        "pip install 'rnncli[tensorboard]'"
    ]
    assert not out.exists()  # refused before any run folder
    result = invoke("sweep", "--task", "reber", "cell=rnn,lstm", "train.steps=5",
                    "train.tensorboard=true", "--out", str(tmp_path / "sweep"))  # fmt: skip
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "pip install 'rnncli[tensorboard]'" in result.stderr


def _scalar_steps(run_dir: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return [e.step for e in acc.Scalars(tag)]


def test_switched_on_at_a_resume_the_events_hold_every_record_once(tmp_path: Path):
    pytest.importorskip("tensorboardX", reason="the [tensorboard] extra is not installed")
    pytest.importorskip("tensorboard", reason="tensorboard (the reader) is not installed")
    out = tmp_path / "runs"
    first = invoke("train", "--task", "reber", "train.steps=20", "train.eval_every=5",
                   "--out", str(out), "-q")  # fmt: skip
    assert first.exit_code == 0, first.output
    (run,) = out.glob("*/*train*")
    for more in ("train.steps=30", "train.steps=40"):  # on at the first resume, kept on
        result = invoke("train", "--resume", str(run), more, *["train.tensorboard=true"]
                        * (more == "train.steps=30"), "-q")  # fmt: skip
        assert result.exit_code == 0, result.output
    assert _scalar_steps(run, "loss") == [r["step"] for r in _records(run)]
    assert _scalar_steps(run, "loss") == [5, 10, 15, 20, 25, 30, 35, 40]


def test_a_writer_that_fails_during_training_is_one_notice(tmp_path: Path, monkeypatch):
    pytest.importorskip("tensorboardX", reason="the [tensorboard] extra is not installed")
    from rnncli.training import tensorboard

    def broken(self, name, obj):
        raise OSError("no space left on device")

    monkeypatch.setattr(tensorboard.EventSink, "write", broken)
    result = invoke("train", "--task", "reber", "train.steps=20", "train.eval_every=5",
                    "train.tensorboard=true", "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    said = "tensorboard: OSError: no space left on device; no longer writing to it " \
           "(the run goes on)"  # fmt: skip
    assert [line for line in result.stderr.splitlines() if "tensorboard:" in line] == [said]
    (run,) = tmp_path.glob("*/*train*")
    assert [r["step"] for r in _records(run)] == [5, 10, 15, 20]
    info = Run.load_json(run)
    assert info["status"] == "completed" and info["sink_errors"] == [said]


class _Broken:
    label = "broken"

    def __init__(self) -> None:
        self.closed = 0

    def write(self, name: str, obj: object) -> None:
        raise OSError("disk on fire")

    def close(self) -> None:
        self.closed += 1


def test_a_failing_sink_is_one_notice_and_never_fails_the_run(tmp_path: Path):
    notices: list[str] = []
    with Run.start(tmp_path, "train", "rnn", {"cell": "rnn"}, [], [], 0) as run:
        sink = _Broken()
        run.sinks.append(sink)
        run.on_sink_error = notices.append
        for step in (1, 2, 3):
            run.append_jsonl("metrics.jsonl", {"step": step, "loss": 1.0})
        run.finish("completed")
    assert len(notices) == 1 and "broken: OSError: disk on fire" in notices[0]
    assert sink.closed == 1 and run.sinks == []
    assert [r["step"] for r in _records(run.path)] == [1, 2, 3]
    assert Run.load_json(run.path)["status"] == "completed"


# ----------------------------------------------------------------------------- MLflow


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    for cell in ("rnn", "lstm"):
        result = invoke("train", "--task", "reber", "--cell", cell, "train.steps=20",
                        "train.eval_every=10", "--out", str(out), "-q")  # fmt: skip
        assert result.exit_code == 0, result.output
    return out


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy's, inside MLflow
def test_runs_export_to_mlflow_once(two_runs: Path, tmp_path: Path):
    pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")
    pytest.importorskip("sqlalchemy", reason="the [mlflow] extra is not installed")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = invoke("runs", "--out", str(two_runs), "--task", "reber", "--export-mlflow", uri,
                    "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    schemas.validate(doc)
    assert doc["schema"] == "rnncli.runs-mlflow/1"
    assert len(doc["exported"]) == 2 and doc["skipped"] == []

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("rnncli-reber")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    folders = {str(p.resolve()) for p in two_runs.glob("*/*train*")}
    assert {r.data.tags["rnncli.run_dir"] for r in runs} == folders
    for r in runs:
        folder = Path(r.data.tags["rnncli.run_dir"])
        tags = r.data.tags
        assert tags["task"] == "reber" and tags["command"] == "train"
        assert tags["status"] == "completed" and r.info.status == "FINISHED"
        assert tags["cell"] == r.data.params["cell"] in ("rnn", "lstm")
        assert r.data.params["train.steps"] == "20"
        assert r.data.params["train.task"] == "reber"
        records = _records(folder)
        for key in ("loss", "outer_acc", "sequences"):
            history = client.get_metric_history(r.info.run_id, key)
            assert [(m.step, m.value) for m in history] == [
                (rec["step"], pytest.approx(rec[key], rel=1e-12)) for rec in records
            ]
        names = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"config.yaml", "run.json", "metrics.jsonl", "samples.txt"} <= names
        assert artifact_root_beside(tmp_path, r.info.artifact_uri)

    again = invoke("runs", "--out", str(two_runs), "--export-mlflow", uri)
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"exported 0 runs to {uri} (2 already there)"
    assert len(client.search_runs([experiment.experiment_id])) == 2


def artifact_root_beside(folder: Path, artifact_uri: str) -> bool:
    """A SQLite store's artifacts go beside the database, not into the working directory."""
    return artifact_uri.startswith((folder / "mlartifacts").as_uri())


def test_mlflow_without_the_extra_is_refused_in_one_line(two_runs: Path, tmp_path: Path,
                                                         monkeypatch):  # fmt: skip
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    result = invoke("runs", "--out", str(two_runs), "--export-mlflow",
                    f"sqlite:///{tmp_path / 'm.db'}")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "rnncli: error: --export-mlflow needs mlflow: pip install 'rnncli[mlflow]'"
    ]
    assert not (tmp_path / "m.db").exists()
