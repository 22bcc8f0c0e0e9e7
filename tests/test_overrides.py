"""Hydra's override habits where they make sense: ``++key=``, ``~key``, ``-m``,
parentheses and brackets kept whole when splitting on commas, ``range()`` in grids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.config import load_config, sweep_values
from rnncli.errors import InputError
from rnncli.sweep import plan_sweep


def _invoke(args: list[str]):
    return CliRunner().invoke(app, args)


def test_double_plus_sets_a_key_as_plain_key_value_does():
    assert load_config(None, {}, ["++dims.n_a=9"]) == load_config(None, {}, ["dims.n_a=9"])


def test_tilde_puts_a_key_back_to_its_default(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text("dims:\n  n_a: 9\n  m: 4\n")
    cfg = load_config(file, {"seed": 3}, ["~dims.n_a", "~seed"])
    assert (cfg.dims.n_a, cfg.dims.m, cfg.seed) == (5, 4, load_config().seed)
    # a later key=value sets it again; an earlier one is undone
    assert load_config(file, {}, ["~dims.n_a", "dims.n_a=7"]).dims.n_a == 7
    assert load_config(file, {}, ["dims.n_a=7", "~dims.n_a"]).dims.n_a == 5


def test_task_defaults_come_back_with_tilde():
    trained = load_config(None, {"train.task": "adding"}, ["train.T=7", "~train.T"],
                          training=True)  # fmt: skip
    assert trained.train.T == load_config(None, {"train.task": "adding"}, training=True).train.T


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["forward", "+dims.n_a=3", "--no-save"], ["'+dims.n_a=3'", "write dims.n_a=3"]),
        (["forward", "~dims.nope", "--no-save"], ["dims.nope"]),
        (["forward", "~", "--no-save"], ["empty key"]),
    ],
)
def test_unsupported_forms_are_one_line(args, words):
    result = _invoke(args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnncli: error:"), result.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_commas_inside_parentheses_and_brackets_stay_whole():
    assert sweep_values("x=f(1,2),3") == ("x", ["f(1,2)", 3])
    assert sweep_values("samples=['a[1]','b[2]'],x") == ("samples", [["a[1]", "b[2]"], "x"])


def test_range_in_sweep_values():
    assert sweep_values("train.hidden=range(8,33,8)") == ("train.hidden", [8, 16, 24, 32])
    assert sweep_values("x=range(3),7") == ("x", [0, 1, 2, 7])
    assert sweep_values("x=range(0.1,0.35,0.1)") == ("x", [0.1, 0.2, 0.3])
    for bad, why in [("x=range(1,2,0)", "step"), ("x=range(a)", "1 to 3 numbers"),
                     ("x=range(5,1)", "empty"), ("x=range(10000000)", "more than")]:  # fmt: skip
        with pytest.raises(InputError, match=why):
            sweep_values(bad)


def test_range_makes_a_grid_axis():
    plan = plan_sweep(None, {"train.task": "reber"}, ["train.hidden=range(8,17,8)",
                                                      "train.steps=10"])  # fmt: skip
    assert plan.grid == {"train.hidden": [8, 16]}
    assert [j.config["train"]["hidden"] for j in plan.jobs] == [8, 16]


def test_train_multirun_is_a_sweep(tmp_path: Path):
    args = ["train", "-m", "--task", "reber", "cell=rnn,lstm", "train.steps=20",
            "train.eval_every=10", "--out", str(tmp_path), "--json"]  # fmt: skip
    result = _invoke(args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["grid"] == {"cell": ["rnn", "lstm"]}
    assert (doc["jobs"], doc["completed"]) == (2, 2)
    assert list((tmp_path / "sweeps").glob("*/*"))


def test_multirun_refuses_one_run_options():
    result = _invoke(["train", "-m", "cell=rnn,lstm", "--resume", "latest"])
    assert result.exit_code == 2
    assert "-m runs a sweep" in result.stderr


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["train", "--steps", "10"], "did you mean the config key train.steps=10?"),
        (["train", "--hidden=32"], "did you mean the config key train.hidden=32?"),
        (["gradcheck", "--n-a", "4"], "did you mean the config key dims.n_a=4?"),
    ],
)
def test_an_option_that_is_a_config_key_points_to_it(args, hint):
    result = _invoke(args)
    assert result.exit_code == 2
    assert hint in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_option_that_is_no_key_gets_clicks_message():
    result = _invoke(["train", "--nope", "3"])
    assert result.exit_code == 2 and "No such option: --nope" in result.stderr
