"""The command line end to end: forward and backward, JSON output, run folders, errors.

In-process runs use ``typer.testing.CliRunner`` on ``rnncli.cli.app`` (stdout and stderr
apart); the console script, ``python -m rnncli``, argv bookkeeping and terminal output use
real subprocesses. Training is covered in test_train.py.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from test_notebook_values import LSTM_BACKWARD_V3, PRINTED
from typer.testing import CliRunner

from rnncli import __version__, config, runs
from rnncli.cli import app
from rnncli.config import load_config, to_dict

REPO = Path(__file__).resolve().parents[1]
SEED_CONFIGS = sorted((REPO / "configs" / "seed").glob("*.yaml"))
VENV_BIN = Path(sys.executable).parent
RNNCLI = VENV_BIN / "rnncli"
ANSI = re.compile(r"\x1b[\[\]()]")


def invoke(args: list[str], **env: str) -> Any:
    """Run the app in-process with NO_COLOR set; stdout and stderr are kept apart."""
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1", **env}, catch_exceptions=False)


def run_json(args: list[str]) -> dict[str, Any]:
    result = invoke([*args, "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # exactly one document, nothing else on stdout
    assert isinstance(doc, dict)
    return doc


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(OPENBLAS_NUM_THREADS="1", COLUMNS="200", **extra)
    return env


def only_run_dir(root: Path) -> Path:
    """The single run folder under ``root`` (<date>/<time>-<command>-<cell>)."""
    found = [p for p in root.glob("*/*") if p.is_dir()]
    assert len(found) == 1, found
    return found[0]


# ----------------------------------------------------------------- version, help


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"rnncli {__version__}"


def test_console_script_and_python_m(tmp_path: Path) -> None:
    for cmd in ([str(RNNCLI)], [sys.executable, "-m", "rnncli"]):
        out = subprocess.run(
            [*cmd, "forward", "--cell", "rnn", "--json", "--no-save"],
            capture_output=True, text=True, env=subprocess_env(), cwd=tmp_path, timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert doc["command"] == "forward" and doc["config"]["cell"] == "rnn"
        assert doc["run_dir"] is None
    assert list(tmp_path.iterdir()) == []


def test_bare_rnncli_prints_help() -> None:
    result = invoke([])
    assert result.exit_code == 0
    text = result.stdout + result.stderr
    assert "Usage" in text
    for command in ("forward", "backward", "train", "sample"):
        assert command in text


@pytest.mark.parametrize("command", [[], ["forward"], ["backward"], ["train"], ["sample"]])
def test_help_has_examples(command: list[str]) -> None:
    result = invoke([*command, "--help"], COLUMNS="200")
    assert result.exit_code == 0
    assert "Example" in result.stdout


def test_help_keeps_the_install_hint() -> None:
    """Rich markup would eat an unescaped [bench]."""
    result = invoke(["bench", "--help"], COLUMNS="200")
    assert "pip install 'rnncli[bench]'" in result.stdout


# ----------------------------------------------------------------- tables


def test_forward_lstm_prints_its_tables() -> None:
    result = invoke(["forward", "--cell", "lstm", "--no-save"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for name in ("x", "a0", "Wf", "bf", "Wi", "Wo", "Wc", "Wy", "by", "cache.C", "sampled values"):
        assert name in out
    assert re.search(r"output\s*│\s*c\s", out)  # the lstm's cell state sequence
    assert "forward · lstm · sequence · float64 · seed 1" in out
    assert "loss" not in out
    assert not ANSI.search(out + result.stderr)


def test_backward_gru_from_loss_prints_its_tables() -> None:
    result = invoke(["backward", "--cell", "gru", "backward.upstream=loss", "--no-save"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for name in ("dWz", "dbz", "dWr", "dWh", "dbh", "dWy", "dby", "dx", "da0"):
        assert re.search(rf"│\s*{name}\s", out), name
    assert re.search(r"loss = [0-9.]+", out)
    # sample expressions keep their keys (not eaten as console markup)
    assert "gradients[dWz][0][0]" in out


def test_backward_table_shows_the_notebook_values() -> None:
    result = invoke(["backward", "--config", str(REPO / "configs/seed/rnn_cell_backward.yaml"),
                     "--no-save"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert 'gradients["dxt"][1][2]' in result.stdout
    assert "-0.4605641030588" in result.stdout
    assert "[0.80517166]" in result.stdout


# ----------------------------------------------------------------- --json


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("level", ["sequence", "cell"])
@pytest.mark.parametrize(
    "command", [["forward"], ["backward"], ["backward", "backward.upstream=loss"]]
)
def test_json_is_one_complete_document(
    tmp_path: Path, cell: str, level: str, command: list[str]
) -> None:
    overrides = [f"level={level}", "dims.m=3", "dims.T_x=4"]
    doc = run_json([*command, "--cell", cell, *overrides, "--out", str(tmp_path)])
    want = to_dict(load_config(None, {"cell": cell}, [*command[1:], *overrides]))
    assert doc["config"] == want
    assert doc["command"] == command[0]
    arrays = doc["arrays"]
    x = "x" if level == "sequence" else "xt"
    assert arrays[x]["shape"] == ([3, 3, 4] if level == "sequence" else [3, 3])
    for stats in arrays.values():
        assert {"shape", "dtype", "mean", "std", "min", "max"} <= set(stats)
    assert doc["samples"] and all(isinstance(k, str) for k in doc["samples"])
    from_loss = "backward.upstream=loss" in command
    if command[0] == "forward":
        assert doc["loss"] is None and "gradients" not in doc
    else:
        assert doc["gradients"]
        assert all(k.startswith("gradients[") for k in doc["samples"])
        assert (doc["loss"] is not None) == from_loss
        if from_loss:
            assert isinstance(doc["loss"], float) and doc["loss"] > 0
    run_dir = Path(doc["run_dir"])
    assert run_dir.is_dir() and run_dir.parent.parent == tmp_path


def test_json_sampled_values_match_the_arrays(tmp_path: Path) -> None:
    doc = run_json(["forward", "--cell", "gru", "samples=[\"a[1][2][3]\", \"y[0]\"]",
                    "--out", str(tmp_path)])  # fmt: skip
    with np.load(Path(doc["run_dir"]) / "arrays.npz", allow_pickle=False) as z:
        assert doc["samples"]["a[1][2][3]"] == z["a"][1][2][3]
        assert doc["samples"]["y[0]"] == z["y"][0].tolist()


# ----------------------------------------------------------------- the notebook's values


def _expected_for(cfg_path: Path) -> dict[str, tuple[str, Any]]:
    """{sample expression: (kind, value)} from the literals of test_notebook_values."""
    name = cfg_path.stem
    if name == "lstm_backward":
        v3 = LSTM_BACKWARD_V3.items()
        printed = {label: ("a8" if isinstance(v, list) else "f", v) for label, v in v3}
    else:
        printed = {label: (kind, v) for cell, label, kind, v in PRINTED if cell == name}
    out = {}
    for expr in yaml.safe_load(cfg_path.read_text())["samples"]:
        label = re.sub(r'^gradients\["(\w+)"\]', r"\1", expr)
        if label == "caches[1][1][1]" and name == "lstm_forward":
            label = "caches[1][1[1]]"  # the notebook's label typo
        out[expr] = printed[label]
    return out


@pytest.mark.parametrize("cfg_path", SEED_CONFIGS, ids=[p.stem for p in SEED_CONFIGS])
def test_seed_configs_reproduce_the_notebook(cfg_path: Path) -> None:
    command = "backward" if "backward" in cfg_path.stem else "forward"
    doc = run_json([command, "--config", str(cfg_path), "--no-save"])
    expected = _expected_for(cfg_path)
    assert set(doc["samples"]) == set(expected)
    for expr, (kind, value) in expected.items():
        actual = doc["samples"][expr]
        if kind == "f":
            assert isinstance(actual, float), expr
            np.testing.assert_allclose(actual, value, rtol=1e-10, atol=0, err_msg=expr)
        else:
            assert np.shape(actual) == np.shape(value), expr
            np.testing.assert_allclose(actual, value, rtol=0, atol=5e-9 + 1e-12, err_msg=expr)


def test_lstm_backward_seed_config_follows_the_corrected_course_values() -> None:
    cfg = str(REPO / "configs/seed/lstm_backward.yaml")
    s = run_json(["backward", "--config", cfg, "--no-save"])["samples"]
    np.testing.assert_allclose(
        s['gradients["dx"][1][2]'], [0.00218254, 0.28205375, -0.48292508, -0.43281115], atol=5e-9
    )
    np.testing.assert_allclose(s['gradients["da0"][2][3]'], 0.31277031, atol=5e-9)
    np.testing.assert_allclose(s['gradients["dWf"][3][1]'], -0.08098023, atol=5e-9)
    np.testing.assert_allclose(s['gradients["dbo"][4]'], [-0.17958196], atol=5e-9)


# ----------------------------------------------------------------- bad input


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


BAD_OVERRIDES = [
    (["forward", "cel=lstm"], ["unknown key 'cel'", "did you mean 'cell'"]),
    (["forward", "dims.na=3"], ["unknown key 'dims.na'", "did you mean 'dims.n_a'"]),
    (["backward", "train.stepz=3"], ["'train.stepz'", "did you mean 'train.steps'"]),
    (["forward", "dims.n_a.x=3"], ["dims.n_a.x"]),
    (["forward", "dims.n_a=five"], ["dims.n_a", "'five'", "integer"]),
    (["forward", "dims.n_a=2.5"], ["dims.n_a", "2.5", "integer"]),
    (["forward", "dims.m=0"], ["dims.m", "> 0"]),
    (["forward", "cell=foo"], ["cell", "'foo'", "rnn"]),
    (["forward", "--cell", "foo"], ["--cell", "'foo'"]),
    (["backward", "dtype=float16"], ["dtype", "float16"]),
    (["forward", "backward.upstream=both"], ["backward.upstream"]),
    (["forward", "dims.n_a"], ["'dims.n_a'", "no '='"]),
    (["forward", 'samples=["__import__(1)"]'], ["__import__(1)", "samples"]),
    (["backward", 'samples=["gradients[dWq][0]"]'], ["dWq"]),
    (["forward", 'samples=["a[99][0][0]"]'], ["a[99][0][0]", "out of range"]),
    (["train", "train.task=chess"], ["train.task", "chess"]),
    (["train", "--task", "text"], ["train.task=text", "--data"]),
]


@pytest.mark.parametrize(
    ("args", "needles"), BAD_OVERRIDES, ids=[" ".join(a) for a, _ in BAD_OVERRIDES]
)
def test_bad_overrides_exit_2_with_one_line(
    tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    out = tmp_path / "out"
    result = invoke([*args, "--out", str(out)])
    assert result.exit_code == 2, result.stdout + result.stderr
    message = result.stderr.strip()
    assert "\n" not in message and message.startswith("rnncli: error: ")
    assert "Traceback" not in message
    for needle in needles:
        assert needle in message
    assert result.stdout == ""
    assert not out.exists()  # a failing run leaves no run folder


BAD_FILES = [
    ("nested.yaml", "init:\n  scale: 1.0\n  shceme: normal\n", ["unknown key 'init.shceme'",
                                                                  "did you mean 'init.scheme'"]),
    ("grid.yaml", "sweep:\n  grid:\n    dims.na: [1, 2]\n", ["dims.na", "dims.n_a"]),
    ("value.yaml", "dims: {n_a: five}\n", ["dims.n_a", "'five'"]),
    ("section.yaml", "dims: 5\n", ["'dims' is a section"]),
    ("broken.yaml", "dims: {n_a: [1\n", ["broken.yaml:2:", "invalid YAML"]),
    ("list.yaml", "- cell: lstm\n- cell: gru\n", ["list.yaml", "a list"]),
    ("scalar.yaml", "lstm\n", ["scalar.yaml", "mapping"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "needles"), BAD_FILES, ids=[n for n, _, _ in BAD_FILES])
def test_bad_config_files_exit_2_naming_file_and_key(
    tmp_path: Path, name: str, text: str, needles: list[str]
) -> None:
    path = _write(tmp_path / name, text)
    out = tmp_path / "out"
    result = invoke(["forward", "--config", path, "--out", str(out)])
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message and message.startswith("rnncli: error: ")
    assert name in message
    for needle in needles:
        assert needle in message
    assert not out.exists()


def test_missing_and_directory_config(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for path, needle in ((tmp_path / "nope.yaml", "not found"), (tmp_path, "directory")):
        result = invoke(["backward", "--config", str(path), "--out", str(out)])
        assert result.exit_code == 2
        message = result.stderr.strip()
        assert "\n" not in message and str(path) in message and needle in message
    assert not out.exists()


def test_python_tags_are_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    evil = _write(
        tmp_path / "evil.yaml",
        f'seed: !!python/object/apply:os.system ["touch {marker}"]\ncell: rnn\n',
    )
    out = tmp_path / "out"
    result = invoke(["forward", "--config", evil, "--out", str(out)])
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message and "evil.yaml" in message and "tag" in message
    # the same tag in an override
    result = invoke(["forward", f"seed=!!python/object/apply:os.system [touch {marker}]",
                     "--out", str(out)])  # fmt: skip
    assert result.exit_code == 2 and "\n" not in result.stderr.strip()
    assert not marker.exists()
    assert not out.exists()


def test_memory_check_refuses_huge_dims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config.memory, "available_memory", lambda: 8 * 2**30)
    out = tmp_path / "out"
    result = invoke(["backward", "dims.n_a=10000", "dims.m=10000", "--out", str(out)])
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message
    assert re.search(r"needs about [0-9.]+ GiB", message), message
    assert "n_a=10000" in message and "8.0 GiB" in message
    assert not out.exists()


def test_memory_check_uses_the_real_machine(tmp_path: Path) -> None:
    """No monkeypatching: 2**40 hidden units cannot fit anywhere, and nothing is allocated."""
    result = invoke(["forward", "dims.n_a=1099511627776", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "\n" not in result.stderr.strip() and "needs about" in result.stderr
    assert not (tmp_path / "out").exists()


def test_resume_and_sample_refuse_non_run_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for args in (["train", "--resume", str(tmp_path / "empty")],
                 ["train", "--resume", str(tmp_path / "missing")],
                 ["sample", str(tmp_path / "empty")]):  # fmt: skip
        result = invoke(args)
        assert result.exit_code == 2, args
        message = result.stderr.strip()
        assert "\n" not in message and str(tmp_path) in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
    assert list((tmp_path / "empty").iterdir()) == []


def test_resume_refuses_a_forward_run_and_leaves_it_alone(tmp_path: Path) -> None:
    run_dir = Path(run_json(["forward", "--out", str(tmp_path)])["run_dir"])
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    result = invoke(["train", "--resume", str(run_dir)])
    assert result.exit_code == 2
    assert "\n" not in result.stderr.strip() and str(run_dir) in result.stderr
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    result = invoke(["train", "--resume", str(run_dir), "train.steps=5"])
    assert result.exit_code == 2 and "not a train run" in result.stderr
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_errors_print_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    out = subprocess.run(
        [str(RNNCLI), "forward", "dims.na=3", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=subprocess_env(), timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stdout == ""
    message = "unknown key 'dims.na' (did you mean 'dims.n_a'?)"
    assert out.stderr == f"rnncli: error: override: {message}\n"
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------- run folders


def test_run_folder_contents(tmp_path: Path) -> None:
    args = ["backward", "--cell", "gru", "--seed", "3", "backward.upstream=loss", "dims.m=4",
            "--out", str(tmp_path), "--json"]  # fmt: skip
    proc = subprocess.run(
        [str(RNNCLI), *args], capture_output=True, text=True, env=subprocess_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    run_dir = only_run_dir(tmp_path)
    assert doc["run_dir"] == str(run_dir)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", run_dir.parent.name)
    assert re.fullmatch(r"\d{2}-\d{2}-\d{2}-backward-gru", run_dir.name)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        ".lock", "arrays.npz", "config.yaml", "overrides.yaml", "run.json",
    ]  # fmt: skip

    cfg = load_config(run_dir / "config.yaml")
    assert to_dict(cfg) == doc["config"]
    assert cfg == load_config(None, {"cell": "gru", "seed": 3},
                              ["backward.upstream=loss", "dims.m=4"])  # fmt: skip
    given = yaml.safe_load((run_dir / "overrides.yaml").read_text())
    assert given == {"overrides": ["backward.upstream=loss", "dims.m=4"],
                     "flags": {"cell": "gru", "seed": 3}}  # fmt: skip

    info = json.loads((run_dir / "run.json").read_text())
    assert info["argv"][1:] == args
    assert info["command"] == "backward" and info["cell"] == "gru"
    assert info["status"] == "completed" and info["seed"] == 3
    start = datetime.fromisoformat(info["start_time"])
    end = datetime.fromisoformat(info["end_time"])
    assert start <= end
    assert isinstance(info["duration_s"], float) and info["duration_s"] >= 0
    assert info["loss"] == doc["loss"]
    env = info["environment"]
    assert env["rnncli"] == __version__ and env["numpy"] == np.__version__
    assert env["python"] and env["platform"] and "blas" in env
    if (REPO / ".git").exists():
        assert isinstance(env["git"], dict) and "commit" in env["git"] and "dirty" in env["git"]

    with np.load(run_dir / "arrays.npz", allow_pickle=False) as z:
        names = set(z.files)
        assert {"x", "a0", "targets", "Wz", "bz", "Wr", "br", "Wh", "bh", "Wy", "by"} <= names
        assert {"a", "y"} <= names  # outputs
        assert {"dWz", "dbz", "dWr", "dbr", "dWh", "dbh", "dWy", "dby", "dx", "da0"} <= names
        assert "da" not in names  # the upstream came from the loss
        assert float(z["loss"]) == doc["loss"]
        assert z["x"].shape == (3, 4, 7) and z["dx"].shape == (3, 4, 7)


@pytest.mark.parametrize(
    ("args", "present", "absent"),
    [
        (["forward", "--cell", "lstm"], {"x", "a0", "Wf", "Wy", "a", "y", "c"},
         {"da", "dx", "loss"}),
        (["backward", "--cell", "lstm"], {"x", "da", "dx", "da0", "dWf", "dbo"}, {"loss"}),
        (["backward", "--cell", "rnn", "level=cell"], {"xt", "a_prev", "da_next", "dxt", "dWax"},
         {"loss"}),
        (["backward", "--cell", "lstm", "level=cell", "backward.upstream=loss"],
         {"xt", "c_prev", "dxt", "dc_prev", "dWy", "loss"}, {"da_next", "dc_next"}),
    ],
)  # fmt: skip
def test_arrays_npz_uses_notebook_names(
    tmp_path: Path, args: list[str], present: set[str], absent: set[str]
) -> None:
    doc = run_json([*args, "--out", str(tmp_path)])
    with np.load(Path(doc["run_dir"]) / "arrays.npz", allow_pickle=False) as z:
        assert present <= set(z.files)
        assert not absent & set(z.files)


def test_two_runs_in_the_same_second_get_two_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(runs.folder, "datetime", Frozen)
    first = Path(run_json(["forward", "--out", str(tmp_path)])["run_dir"])
    second = Path(run_json(["forward", "--out", str(tmp_path)])["run_dir"])
    assert first == tmp_path / "2026-01-02" / "03-04-05-forward-lstm"
    assert second == tmp_path / "2026-01-02" / "03-04-05-forward-lstm-2"
    assert (first / "arrays.npz").is_file() and (second / "arrays.npz").is_file()


def test_no_save_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["forward"], ["backward", "backward.upstream=loss"],
                 ["train", "train.steps=5", "train.eval_size=8"]):  # fmt: skip
        doc = run_json([*args, "--no-save"])
        assert doc["run_dir"] is None
        result = invoke([*args, "--no-save"])  # the tables too
        assert result.exit_code == 0 and "run folder" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "training"),
    [
        (["forward", "--cell", "gru", "dims.n_a=7", 'samples=["a[0][0][0]"]'], False),
        (["backward", "--config", str(REPO / "configs/seed/lstm_backward.yaml")], False),
        (["train", "--task", "adding", "train.lr=1e-3"], True),
    ],
)
def test_show_config_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], training: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke([*args, "--show-config"])
    assert result.exit_code == 0, result.stderr
    shown = tmp_path / "shown.yaml"
    shown.write_text(result.stdout)
    cfg = load_config(shown, training=training)
    flags = {"cell": "gru"} if "--cell" in args else {}
    if "--task" in args:
        flags = {"train.task": "adding"}
    cfg_path = next((a for a in args if a.endswith(".yaml")), None)
    overrides = [a for a in args if "=" in a]
    assert cfg == load_config(cfg_path, flags, overrides, training=training)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shown.yaml"]  # nothing else written


# ----------------------------------------------------------------- colour


def test_piped_output_has_no_escape_codes(tmp_path: Path) -> None:
    for args in (["forward", "--cell", "lstm"], ["backward", "--cell", "gru", "level=cell"]):
        proc = subprocess.run(
            [str(RNNCLI), *args, "--out", str(tmp_path)],
            capture_output=True, text=True, env=subprocess_env(TERM="xterm-256color"), timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "sampled values" in proc.stdout
        assert "run folder:" in proc.stderr
        assert not ANSI.search(proc.stdout) and not ANSI.search(proc.stderr)


def _run_in_terminal(args: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run with stdout and stderr on a pseudo-terminal; return (exit code, everything)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO once the child has gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_no_color_on_a_terminal_has_no_escape_codes(tmp_path: Path) -> None:
    env = subprocess_env(NO_COLOR="1", TERM="xterm-256color")
    args = ["backward", "--cell", "lstm", "backward.upstream=loss", "--out", str(tmp_path)]
    code, out = _run_in_terminal([str(RNNCLI), *args], env)
    assert code == 0, out
    assert b"dWy" in out and b"loss = " in out
    assert b"\x1b" not in out
