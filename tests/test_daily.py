"""The daily loop as a new user meets it: ``latest`` names the newest run of the kind a
command takes, and the names ``rnncli runs`` prints are accepted back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnncli.cli import app


def _ok(args: list[str]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root = tmp_path / "outputs"
    _ok(["train", "--task", "reber", "train.steps=20", "train.eval_every=10", "--out",
         str(root), "-q"])  # fmt: skip
    _ok(["gradcheck", "--cell", "rnn", "--level", "cell", "--out", str(root), "-q"])
    _ok(["forward", "--out", str(root), "-q"])  # the newest run is not a train run
    return root


def test_latest_is_the_newest_train_run_for_commands_that_take_one(out: Path, tmp_path: Path):
    o = ["--out", str(out)]
    train_run = next(out.glob("*/*-train-*"))
    doc = json.loads(_ok(["sample", "latest", "-n", "2", "--json", *o]).stdout)
    assert len(doc["samples"]) == 2
    _ok(["export", "latest", "--format", "npz", "--runs", str(out), "-q"])
    assert (train_run / "model.npz").is_file()
    _ok(["report", "latest", *o])
    assert (train_run / "report.html").is_file()
    _ok(["train", "--resume", "latest", "train.steps=30", "-q", *o])
    assert json.loads((train_run / "run.json").read_text())["summary"]["steps"] == 30
    _ok(["train", "--init-from", "latest", "train.steps=10", "-q", *o])


def test_latest_is_the_newest_run_of_any_kind_for_show_and_compare(out: Path):
    doc = json.loads(_ok(["show", "latest", "--out", str(out), "--json"]).stdout)
    assert doc["run"]["command"] == "forward"


def test_latest_without_a_train_run_says_so(tmp_path: Path):
    root = tmp_path / "outputs"
    _ok(["forward", "--out", str(root), "-q"])
    result = CliRunner().invoke(app, ["sample", "latest", "--out", str(root)])
    assert result.exit_code == 2
    assert f"latest: no train run under {root}" in result.stderr


def test_the_paths_runs_prints_are_accepted_back(out: Path):
    doc = json.loads(_ok(["runs", "--out", str(out), "--json"]).stdout)
    for row in doc["runs"]:
        shown = json.loads(_ok(["show", row["path"], "--out", str(out), "--json"]).stdout)
        assert shown["run"]["command"] == row["command"]


def test_durations_add_up_over_sessions(tmp_path: Path):
    root = tmp_path / "outputs"
    _ok(["train", "--task", "reber", "train.steps=20", "--out", str(root), "-q"])
    run = next(root.glob("*/*-train-*"))
    first = json.loads((run / "run.json").read_text())
    _ok(["train", "--resume", "latest", "train.steps=40", "--out", str(root), "-q"])
    second = json.loads((run / "run.json").read_text())
    assert second["duration_s"] > first["duration_s"]  # this session's time added
    assert second["elapsed_s"] >= second["duration_s"] - 1.0  # wall time since the start
    shown = _ok(["show", "latest", "--out", str(root)]).stdout
    assert "running (all sessions)" in shown and "since start" in shown
    doc = json.loads(_ok(["show", "latest", "--out", str(root), "--json"]).stdout)
    assert doc["run"]["summary"]["sequences"] == 160
    table = _ok(["show", "latest", "--out", str(root)]).stdout
    assert "160" in table


def test_a_run_resumed_while_clean_asks_is_left_alone(tmp_path: Path, monkeypatch):
    """runs --clean lists, asks, and a resume takes the run meanwhile: the removal takes
    each run's lock when it removes it, and skips the one in use."""
    from rnncli.commands import runs as runs_cmd
    from rnncli.runs import Lock

    root = tmp_path / "outputs"
    _ok(["train", "--task", "reber", "train.steps=10", "--out", str(root), "-q"])
    run = next(root.glob("*/*-train-*"))
    info = json.loads((run / "run.json").read_text())
    info["status"] = "interrupted"
    (run / "run.json").write_text(json.dumps(info))
    held = []

    def resume_meanwhile(what: str, yes: bool) -> None:
        held.append(Lock.acquire(run))  # a resume starts while the question waits

    monkeypatch.setattr(runs_cmd, "confirm_removal", resume_meanwhile)
    result = CliRunner().invoke(app, ["runs", "--clean", "--status", "interrupted", "--out",
                                      str(root)])  # fmt: skip
    held[0].release()
    assert result.exit_code == 0, result.stderr
    assert "removed 0 runs (1 in use, left alone)" in result.stderr
    assert (run / "config.yaml").is_file() and (run / "run.json").is_file()


# ------------------------------------------------------------------ at 80 columns


def _at(width: int, args: list[str]):
    result = CliRunner(env={"COLUMNS": str(width)}).invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with a train run, a gradcheck and a sweep of 2 cells x 2 seeds whose folder
    has a long name (two of them, so that its runs' names need the sweep's)."""
    root = tmp_path_factory.mktemp("busy") / "outputs"
    _ok(["train", "--task", "reber", "train.steps=20", "train.eval_every=10", "--out",
         str(root), "-q"])  # fmt: skip
    _ok(["gradcheck", "--cell", "rnn", "--level", "cell", "--out", str(root), "-q"])
    for name in ("10-00-00-reber-cells-at-two-seeds", "11-00-00-reber-cells-at-two-seeds"):
        _ok(["sweep", "--task", "reber", "cell=rnn,lstm", "--seeds", "0-1", "train.steps=20",
             "train.eval_every=5", "--workers", "1", "-q",
             "--out", str(root / "sweeps" / "2026-01-01" / name)])  # fmt: skip
    return root


@pytest.mark.parametrize("width", [80, 100])
def test_the_runs_table_has_one_line_per_run_and_names_that_work(busy: Path, width: int):
    text = _at(width, ["runs", "--out", str(busy)]).stdout
    lines = text.rstrip("\n").split("\n")
    assert all(len(line) <= width for line in lines)
    assert lines[0].split()[:6] == ["name", "task", "cell", "steps", "status", "metric"]
    assert len(lines) == 1 + 2 + 8  # a header, then one line per run
    for line in lines[1:]:
        name = line.split()[0]
        shown = json.loads(_ok(["show", name, "--out", str(busy), "--json"]).stdout)
        assert shown["run"]["command"] in ("train", "gradcheck")
    sweep_lines = [line for line in lines if "rep=" in line]
    assert all("cell=" in line.split()[0] for line in sweep_lines)


def test_short_names_are_unique_and_resolve_back(tmp_path: Path):
    from rnncli.runs import store

    paths = ["sweeps/2026-01-01/10-00-00-reber-cells/cell=lstm,rep=1",
             "sweeps/2026-01-01/10-00-00-reber-cells/cell=lstm,rep=10",
             "sweeps/2026-01-02/11-00-00-reber-cells/cell=lstm,rep=1",
             "2026-01-01/10-00-00-train-temporal-order-3-lstm"]  # fmt: skip
    for p in paths:
        (tmp_path / p).mkdir(parents=True)
    for width in (None, 28, 22):
        names = store.short_names(paths, width)
        assert len(set(names.values())) == len(paths)
        for p, name in names.items():
            assert width is None or len(name) <= width
            assert store.resolve(name, tmp_path) == tmp_path / p, name
    assert store.short_names(paths)[paths[0]] == "10-00-00-reber-cells/cell=lstm,rep=1"


def test_compare_on_a_sweep_compares_groups_over_seeds(busy: Path, tmp_path: Path):
    """Mean ± sd over seeds per grid point, with the seeds and how many solved; a seed
    that stopped early keeps its last value in its group (marked), so the curve's end is
    the table's mean."""
    import shutil

    import numpy as np

    from rnncli.runs import compare as cmp

    sweep = tmp_path / "sweep"
    shutil.copytree(next(busy.glob("sweeps/*/10-*")), sweep)
    member = next(sweep.glob("cell=lstm,rep=1*"))
    records = [json.loads(line) for line in (member / "metrics.jsonl").read_text().splitlines()]
    (member / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:2]))
    info = json.loads((member / "run.json").read_text())
    info["summary"]["stopped_by"] = "patience"
    info["summary"]["final"] = {k: v for k, v in records[1].items()
                                if k not in ("step", "sequences", "lr", "wall_s")}  # fmt: skip
    (member / "run.json").write_text(json.dumps(info))

    doc = json.loads(_at(80, ["compare", str(sweep), "--json"]).stdout)
    groups = {g["group"]: g for g in doc["groups"]}
    assert set(groups) == {"cell=rnn", "cell=lstm"}
    lstm = groups["cell=lstm"]
    assert lstm["seeds"] == 2 and lstm["stopped_early"] == 1 and lstm["solved"] == 0
    metric = doc["metric"]
    finals = [json.loads((d / "run.json").read_text())["summary"]["final"][metric]
              for d in sweep.glob("cell=lstm,*")]  # fmt: skip
    assert lstm["final"][metric]["mean"] == pytest.approx(np.mean(finals))
    series = {s.label: s for s in cmp.sweep_series(cmp.sweep_groups(sweep)[1], metric,
                                                   "sequences")}  # fmt: skip
    assert series["cell=lstm"].y[-1] == pytest.approx(np.mean(finals))  # the figure agrees
    assert series["cell=lstm"].stops == [(records[1]["sequences"], records[1][metric])]
    assert series["cell=lstm"].x[-1] == records[-1]["sequences"]  # not cut to the shortest

    text = _at(80, ["compare", str(sweep)]).stdout
    assert all(len(line) <= 80 for line in text.splitlines())
    row = next(line for line in text.splitlines() if "cell=lstm" in line and "±" in line)
    assert f"{lstm['final'][metric]['mean']:.4g} ± " in row


def test_a_dask_address_without_a_port_is_one_line_at_once(tmp_path: Path):
    import time

    start = time.monotonic()
    result = CliRunner().invoke(app, ["sweep", "--task", "adding", "--dask", "notaurl",
                                      "--out", str(tmp_path / "s")])  # fmt: skip
    assert result.exit_code == 2 and time.monotonic() - start < 10
    lines = result.stderr.strip().splitlines()
    assert lines == ["rnncli: error: --dask notaurl: not a scheduler address; "
                     "expected e.g. tcp://127.0.0.1:8786"]  # fmt: skip
