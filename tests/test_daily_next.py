"""Small things of the daily loop, at 80 columns: what inspect --find says of a feature
the passage lacks, show on a sweep folder, the report's config, counts in words, the
next steps after train, make demo's hint, export latest after another command; the
threads a run takes on a busy machine; one rate in the progress bar and the summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CORPUS = 'She said "stop (now)" and left.\nHe asked "why?" twice.\n' * 40


def run(args: list[str], code: int = 0):
    result = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1"}).invoke(app, args)
    assert result.exit_code == code, result.stderr
    return result


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reber run, an adding run and a small text run."""
    base = tmp_path_factory.mktemp("next")
    corpus = base / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    out = base / "outputs"
    for args in (["--task", "adding"], ["--task", "reber"],
                 ["--data", str(corpus), "train.hidden=8", "train.bptt=20"]):  # fmt: skip
        run(["train", *args, "train.steps=10", "train.eval_every=5", "--out", str(out), "-q"])
    return out


def test_find_says_a_feature_is_not_in_the_passage(root: Path):
    text_run = next(root.glob("*/*-train-text-*"))
    plain = "she said stop and left he asked why twice " * 3  # no quotes, no brackets
    out = run(["inspect", str(text_run), "--find", "--text", plain, "--no-save"]).stdout
    for feature in ("in_quotes", "in_brackets"):
        row = next(line for line in out.splitlines() if line.strip().startswith(feature))
        assert "not in the" in row and "+0.00" not in row, row
    assert "not in this passage" in out
    doc = json.loads(run(["inspect", str(text_run), "--find", "--text", plain, "--no-save",
                          "--json"]).stdout)  # fmt: skip
    assert doc["inspections"][0]["units"]["in_quotes"] == []
    assert doc["inspections"][0]["units"]["in_word"]  # a feature the passage has


def test_show_on_a_sweep_folder_points_to_compare(tmp_path: Path):
    sweep = tmp_path / "outputs" / "sweeps" / "2026-01-01" / "10-00-00-reber-cells"
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_text(json.dumps({"jobs": []}))
    err = run(["show", str(sweep)], code=2).stderr
    assert "is a sweep folder" in err and "rnncli compare 10-00-00-reber-cells" in err
    assert "run.json: missing" not in err


def test_the_report_lists_only_the_sections_training_reads(root: Path):
    reber = next(root.glob("*/*-train-reber-*"))
    run(["report", str(reber), "--out", str(root)])
    page = (reber / "report.html").read_text()
    config = page.split("<h2>Config</h2>")[1]
    assert "train:" in config and "cell:" in config
    for other in ("dims:", "gradcheck:", "backward:", "check:", "samples:"):
        assert other not in config, other


def test_counts_in_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "outputs"
    run(["gradcheck", "--cell", "rnn", "--level", "cell", "--out", str(out), "-q"])
    err = run(["runs", "--clean", "--status", "completed", "--out", str(out)], 2).stderr
    assert "would remove 1 run:" in err
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNNCLI_CACHE", str(cache))
    corpus = tmp_path / "c.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    run(["train", "--data", str(corpus), "train.steps=2", "--no-save", "-q"])
    err = run(["cache", "--clean"], 2).stderr
    assert "would remove 1 cache entry (" in err


@pytest.mark.parametrize("task", ["reber", "adding"])
def test_train_suggests_the_next_steps_that_apply(tmp_path: Path, task: str):
    out = tmp_path / "outputs"
    err = run(["train", "--task", task, "train.steps=5", "--out", str(out)]).stderr
    steps = re.findall(r"^  (rnncli .+?)  +\(", err, re.M)
    names = [s.split()[1] for s in steps]
    assert names == (["sample", "show", "report"] if task == "reber" else ["show", "report"])
    for step in steps:  # each one runs as printed
        run(step.split()[1:])
    assert all(len(line.replace(str(out), "DIR")) <= 80 for line in err.splitlines())


def test_make_demo_ends_with_the_path_hint():
    make = (ROOT / "Makefile").read_text()
    demo = make.split("\ndemo:")[1].split("\n\n")[0]
    assert "source $(VENV)/bin/activate" in demo


def test_export_latest_when_the_latest_run_is_not_a_training_run(root: Path):
    run(["forward", "--out", str(root), "-q"])  # the newest run: not a train run
    run(["export", "latest", "--format", "npz", "--runs", str(root), "-q"])
    assert (next(root.glob("*/*-train-text-*")) / "model.npz").is_file()


def test_threads_follow_the_load_at_the_start(monkeypatch):
    """At 128+ hidden units: every core on an idle machine, one on a busy one (more
    threads than idle cores wait on each other); below 128, one; asked, as asked."""
    from rnncli import engine

    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(engine.os, "getloadavg", lambda: (0.1, 0.5, 0.5))
    assert engine.choose_threads(None, 128) == (2, "idle machine, load 0.1 on 2 cores")
    monkeypatch.setattr(engine.os, "getloadavg", lambda: (5.3, 5.0, 4.0))
    assert engine.choose_threads(None, 256) == (1, "busy machine, load 5.3 on 2 cores")
    assert engine.choose_threads(None, 32)[0] == 1
    assert engine.choose_threads(2, 256) == (2, "as asked")


def test_run_json_records_the_threads_and_why(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from rnncli import engine
    from rnncli.cli import app

    monkeypatch.setattr(engine.os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    root = tmp_path / "outputs"
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        app, ["train", "--task", "reber", "train.hidden=128", "train.steps=2", "--out",
              str(root)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run = next(root.glob("*/*-train-*"))
    e = json.loads((run / "run.json").read_text())["summary"]["engine"]
    assert e["threads"] == 1 and e["threads_why"].startswith("busy machine, load 64.0")
    assert "1 BLAS thread (busy machine" in result.stdout


def test_the_bar_and_the_summary_give_one_rate_and_a_labelled_eta_at_80():
    import io

    from rich.console import Console

    from rnncli.commands.common import summary_rows
    from rnncli.config import load_config
    from rnncli.training.loop import train
    from rnncli.training.progress import RichReporter

    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, color_system=None)
    cfg = load_config(None, {"train.task": "reber", "train.steps": 30}, training=True)
    result = train(cfg, None, RichReporter(console))
    text = buf.getvalue()
    rate = summary_rows(result.summary())["sequences_per_s"]
    assert f"{rate} seq/s" in text, (rate, text)
    assert "ETA" in text
