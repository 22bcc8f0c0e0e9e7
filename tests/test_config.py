"""Config loading: layering, YAML scalars, one-line errors, safety and memory checks."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import pytest

from rnncli import config as C
from rnncli.config import (
    Config,
    check_memory,
    dump_yaml,
    estimate_bytes,
    leaf_keys,
    load_config,
    parse_overrides,
    parse_seeds,
    sweep_values,
    to_dict,
)
from rnncli.errors import InputError


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error(**kwargs: Any) -> str:
    """The one-line message of the InputError that load_config raises."""
    with pytest.raises(InputError) as info:
        load_config(**kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


# ----------------------------------------------------------------- defaults and precedence


def test_defaults() -> None:
    cfg = load_config()
    assert cfg == Config()
    assert (cfg.cell, cfg.seed, cfg.dtype, cfg.level) == ("lstm", 1, "float64", "sequence")
    assert cfg.dims.model_dump() == {"n_x": 3, "n_a": 5, "n_y": 2, "m": 10, "T_x": 7}
    assert cfg.train.task == "reber" and cfg.sweep.seeds == "0"


@pytest.fixture
def task_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        C.schema,
        "TASK_DEFAULTS",
        {"reber": {}, "adding": {"train": {"hidden": 32, "steps": 3000, "batch": 4}}},
    )


@pytest.mark.usefixtures("task_defaults")
def test_precedence(tmp_path: Path) -> None:
    path = write(tmp_path, "train:\n  task: adding\n  hidden: 40\n  bptt: 7\nseed: 2\n")
    flags = {"train.hidden": 50, "seed": 3, "cell": None}
    over = ["train.hidden=60"]

    cfg = load_config(path, flags, over, training=True)
    assert cfg.train.hidden == 60  # override beats everything
    assert cfg.seed == 3  # flag beats file
    assert cfg.train.bptt == 7  # file beats defaults
    assert (cfg.train.steps, cfg.train.batch) == (3000, 4)  # task defaults beat built-ins
    assert cfg.cell == "lstm"  # a None flag is ignored
    assert load_config(path, flags).train.hidden == 50
    assert load_config(path).train.hidden == 40
    assert load_config(path).seed == 2


@pytest.mark.usefixtures("task_defaults")
def test_task_defaults_follow_the_task_the_user_selects(tmp_path: Path) -> None:
    assert load_config(training=True).train.hidden == 16
    assert load_config(overrides=["train.task=adding"], training=True).train.hidden == 32
    assert load_config(flags={"train.task": "adding"}, training=True).train.steps == 3000
    path = write(tmp_path, "train: {task: adding, steps: 10}\n")
    assert load_config(path, training=True).train.steps == 10  # the file beats task defaults
    # the highest layer picks the task: the override says reber, so no adding defaults
    assert load_config(path, overrides=["train.task=reber"], training=True).train.hidden == 16


@pytest.mark.usefixtures("task_defaults")
def test_training_defaults_apply_to_training_commands_only() -> None:
    assert load_config(overrides=["train.task=adding"]).train.hidden == 16
    assert load_config().init.scheme == "normal"  # forward/backward draw like the notebook
    assert load_config(training=True).init.scheme == "xavier"
    chosen = load_config(overrides=["init.scheme=orthogonal"], training=True)
    assert chosen.init.scheme == "orthogonal"


def test_task_defaults_table_is_valid() -> None:
    for task in C.TASK_DEFAULTS:
        assert load_config(overrides=[f"train.task={task}"]).train.task == task


def test_flags_accept_enums_and_dotted_keys() -> None:
    class Cell(enum.Enum):
        GRU = "gru"

    cfg = load_config(flags={"cell": Cell.GRU, "dims.n_a": 8})
    assert (cfg.cell, cfg.dims.n_a) == ("gru", 8)


# ----------------------------------------------------------------- overrides and YAML scalars


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("-3", -3),
        ("1_000", 1000),
        ("2.5", 2.5),
        ("1e-2", 0.01),
        ("1E3", 1000.0),
        ("+1e3", 1000.0),
        ("1.5e-3", 0.0015),
        (".5", 0.5),
        ("-.5", -0.5),
        ("true", True),
        ("false", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("abc", "abc"),
        ("'5'", "5"),
        ("'1e3'", "1e3"),
        ("[1, 2]", [1, 2]),
        ("a=b", "a=b"),
    ],
)
def test_override_values_are_yaml_scalars(text: str, value: Any) -> None:
    got = parse_overrides([f"x.y={text}"])["x"]["y"]
    assert got == value and type(got) is type(value)


def test_parse_overrides_nests_and_later_wins() -> None:
    got = parse_overrides(["dims.n_a=64", "backward.upstream=loss", "dims.n_a=65", "seed=2"])
    assert got == {"dims": {"n_a": 65}, "backward": {"upstream": "loss"}, "seed": 2}


def test_overrides_reach_the_config() -> None:
    cfg = load_config(overrides=["dims.n_a=64", "backward.upstream=loss", "train.lr=1e-3"])
    assert cfg.dims.n_a == 64 and cfg.backward.upstream == "loss" and cfg.train.lr == 0.001


def test_float_fields_accept_ints_but_int_fields_refuse_floats() -> None:
    assert load_config(overrides=["train.lr=1"]).train.lr == 1.0
    assert isinstance(load_config(overrides=["train.lr=1"]).train.lr, float)
    assert "integer" in error(overrides=["dims.n_a=2.0"])


@pytest.mark.parametrize(
    ("items", "needles"),
    [
        (["dims.n_a"], ["'dims.n_a'", "no '='", "key=value"]),
        (["=3"], ["empty key"]),
        (["dims..n_a=3"], ["bad key 'dims..n_a'"]),
        (["dims.n_a=[1"], ["override 'dims.n_a=[1'", "invalid YAML"]),
        (["dims=3", "dims.n_a=4"], ["'dims'"]),
    ],
)
def test_parse_overrides_errors(items: list[str], needles: list[str]) -> None:
    with pytest.raises(InputError) as info:
        parse_overrides(items)
    for needle in needles:
        assert needle in str(info.value)


# ----------------------------------------------------------------- bad input, one line each


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (["dims.na=3"], ["override:", "unknown key 'dims.na'", "did you mean 'dims.n_a'"]),
        (["n_a=3"], ["unknown key 'n_a'", "did you mean 'dims.n_a'"]),
        (["trian.lr=3"], ["unknown key 'trian'", "did you mean 'train'"]),
        (["train.optimiser=sgd"], ["did you mean 'train.optimizer'"]),
        (["gradcheck.epsilon=1"], ["unknown key 'gradcheck.epsilon'"]),
        (["dims.n_a=five"], ["override:", "dims.n_a='five'", "integer"]),
        (["dims.n_a=2.5"], ["dims.n_a=2.5", "integer"]),
        (["dims.n_a='5'"], ["dims.n_a='5'", "integer"]),
        (["dims.n_a=true"], ["dims.n_a=True", "integer"]),
        (["dims.n_a=null"], ["dims.n_a=None", "integer"]),
        (["dims.n_a=0"], ["dims.n_a=0", "> 0"]),
        (["dims.T_x=-3"], ["dims.T_x=-3", "> 0"]),
        (["seed=-1"], ["seed=-1", ">= 0"]),
        (["cell=transformer"], ["override", "unknown cell 'transformer'", "rnn, lstm, gru"]),
        (["dtype=float16"], ["dtype='float16'", "'float64'", "'float32'"]),
        (["level=batch"], ["'cell'", "'sequence'"]),
        (["dims=3"], ["'dims' is a section", "n_a"]),
        (["train=fast"], ["'train' is a section"]),
        (["cell.x=3"], ["unknown key 'cell.x'", "'cell' is a value"]),
        (["train.lr=fast"], ["train.lr='fast'", "number"]),
        (["train.lr=0"], ["train.lr=0", "> 0"]),
        (["train.clip=-1"], ["train.clip", ">= 0"]),
        (["train.eval_size=0"], ["train.eval_size", ">= 1"]),
        (["train.task=chess"], ["'reber'", "'adding'", "'text'"]),
        (["gradcheck.tol=0"], ["gradcheck.tol", "> 0"]),
        (["gradcheck.mode=slow"], ["'auto'", "'full'", "'fast'"]),
        (["init.scale=0"], ["init.scale", "> 0"]),
        (["init.scheme=notebook"], ["init.cell", "required", "rnn_forward"]),
        (["init.scheme=notebook", "init.cell=foo"], ["init.cell", "lstm_backward"]),
        (["init.cell=rnn_forward"], ["init.cell", "notebook"]),
        (["samples=['a[1]', 'a[1:2]']"], ["samples[1]", "'a[1:2]'"]),
        (["samples=['__import__(\"os\")']"], ["samples[0]", "__import__"]),
        (["sweep.grid={train.lrr: [1]}"], ["sweep.grid", "did you mean 'train.lr'"]),
        (["sweep.grid={sweep.name: [a]}"], ["sweep.grid", "unknown key 'sweep.name'"]),
        (["sweep.grid={train.lr: []}"], ["empty"]),
        (["sweep.grid={train.lr: [0.1, fast]}"], ["train.lr[1]='fast'", "number"]),
        (["sweep.grid={dims.n_a: [4, 2.5]}"], ["dims.n_a[1]=2.5", "integer"]),
        (["sweep.seeds=9-0"], ["sweep.seeds", "'9-0'"]),
        (["sweep.seeds=a-b"], ["sweep.seeds", "'a-b'"]),
        (["sweep.name=2024"], ["sweep.name=2024", "string"]),
    ],
)
def test_bad_overrides(overrides: list[str], needles: list[str]) -> None:
    msg = error(overrides=overrides)
    for needle in needles:
        assert needle in msg, msg


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("dims:\n  na: 3\n", ["unknown key 'dims.na' (did you mean 'dims.n_a'?)"]),
        ("sed: 3\n", ["unknown key 'sed' (did you mean 'seed'?)"]),
        ("train:\n  schedule: step\n  decay_evry: 5\n", ["did you mean 'train.decay_every'"]),
        ("dims:\n  n_a: 2.5\n", ["dims.n_a=2.5", "integer"]),
        ('dims:\n  n_a: "5"\n', ["dims.n_a='5'", "integer"]),
        ("dims:\n  n_a: -1\n", ["dims.n_a=-1", "> 0"]),
        ("cell: transformer\n", ["unknown cell 'transformer'", "gru"]),
        ("dims: 3\n", ["'dims' is a section"]),
        ("dims: [1, 2]\n", ["'dims' is a section"]),
        ("- 1\n- 2\n", ["mapping", "list"]),
        ("42\n", ["mapping", "int"]),
        ("just words\n", ["mapping", "str"]),
        ("cell: lstm\ndims:\n  n_a: 3\n   bad: [\n", [":4:", "invalid YAML"]),
        ("cell: [lstm\n", ["invalid YAML"]),
        ("cell: 'lstm\n", ["invalid YAML"]),
        ("\tcell: lstm\n", ["invalid YAML"]),
    ],
)
def test_bad_files(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = write(tmp_path, text)
    msg = error(path=path)
    assert msg.startswith(str(path)), msg
    for needle in needles:
        assert needle in msg, msg


def test_file_layer_errors_name_the_file_and_overrides_name_override(tmp_path: Path) -> None:
    path = write(tmp_path, "dims:\n  n_a: 2.5\n")
    assert error(path=path, overrides=["seed=3"]).startswith(f"{path}: dims.n_a=2.5")
    good = write(tmp_path, "dims:\n  n_a: 4\n", "good.yaml")
    assert error(path=good, overrides=["dims.n_a=2.5"]).startswith("override: dims.n_a")
    assert error(flags={"cell": "xx"}).startswith("--cell: unknown cell 'xx'")


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config()
    assert load_config(write(tmp_path, "# only a comment\n", "d.yaml")) == Config()


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "not found" in error(path=tmp_path / "nope.yaml")
    assert "nope.yaml" in error(path=tmp_path / "nope.yaml")
    assert "directory" in error(path=tmp_path)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"cell: \xff\xfe\n")
    assert str(path) in error(path=path)


# ----------------------------------------------------------------- unsafe YAML


@pytest.mark.parametrize(
    "template",
    [
        "!!python/object/apply:os.system ['touch {marker}']\n",
        "cell: !!python/object/apply:os.system ['touch {marker}']\n",
        "x: !!python/object/apply:builtins.open ['{marker}', 'w']\n",
        "x: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n",
        "x: !!python/name:os.system\n",
    ],
)
def test_unsafe_yaml_is_refused_and_not_executed(tmp_path: Path, template: str) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, template.format(marker=marker))
    msg = error(path=path)
    assert msg.startswith(str(path)) and "tag" in msg, msg
    assert not marker.exists()


def test_unsafe_yaml_in_an_override_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    msg = error(overrides=[f"cell=!!python/object/apply:os.system ['touch {marker}']"])
    assert "override" in msg and "tag" in msg
    assert not marker.exists()


# ----------------------------------------------------------------- sweeps and seeds


@pytest.mark.parametrize(
    ("spec", "seeds"),
    [
        ("3", [3]),
        ("0-4", [0, 1, 2, 3, 4]),
        ("0,2,5-7", [0, 2, 5, 6, 7]),
        (" 1 , 3 - 4 ", [1, 3, 4]),
        ("2,2,1", [2, 1]),
        (5, [5]),
        ([4, 1], [4, 1]),
    ],
)
def test_parse_seeds(spec: Any, seeds: list[int]) -> None:
    assert parse_seeds(spec) == seeds


@pytest.mark.parametrize("spec", ["", "a", "1-", "-1", "3-1", "1,,2", "1.5", "0-9-3", True, []])
def test_parse_seeds_errors(spec: Any) -> None:
    with pytest.raises(InputError):
        parse_seeds(spec)


def test_sweep_seeds_in_config() -> None:
    assert load_config(overrides=["sweep.seeds=0-2"]).sweep.seed_list() == [0, 1, 2]
    assert load_config(overrides=["sweep.seeds=4"]).sweep.seed_list() == [4]
    assert load_config(overrides=["sweep.seeds=[1, 5]"]).sweep.seed_list() == [1, 5]


def test_sweep_values() -> None:
    assert sweep_values("train.lr=1e-3,1e-2") == ("train.lr", [0.001, 0.01])
    assert sweep_values("cell=rnn,lstm,gru") == ("cell", ["rnn", "lstm", "gru"])
    assert sweep_values("dims.n_a=8") == ("dims.n_a", [8])
    assert sweep_values("samples=['a[1]','b[2]'],x") == ("samples", [["a[1]", "b[2]"], "x"])
    for bad in ["train.lr", "train.lr=1,,2", "=1,2"]:
        with pytest.raises(InputError):
            sweep_values(bad)


def test_grid_keys_are_dotted_config_keys() -> None:
    cfg = load_config(overrides=["sweep.grid={cell: [rnn, gru], train.lr: [1e-3, 1e-2]}"])
    assert cfg.sweep.grid == {"cell": ["rnn", "gru"], "train.lr": [0.001, 0.01]}
    assert "dims.n_a" in leaf_keys() and "dims" not in leaf_keys()


# ----------------------------------------------------------------- output and round-trip


def test_to_dict_is_plain_and_in_schema_order() -> None:
    d = to_dict(Config())
    assert list(d) == list(Config.model_fields)
    assert list(d["train"]) == list(C.Train.model_fields)
    assert isinstance(d["dims"], dict)


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["train.task=text"],
        ["train.task=adding", "cell=gru", "dtype=float32", "train.lr=1e-4", "gradcheck.tol=1e-7"],
        ["init.scheme=notebook", "init.cell=rnn_forward", "samples=['a[4][1]', 'y[0]']"],
        ["sweep.grid={dims.n_a: [4, 8], cell: [rnn]}", "sweep.seeds=0-3", "sweep.name=lr"],
        ["sweep.seeds=[1, 2]", "train.data=data/input.txt", "level=cell"],
    ],
)
def test_dump_and_load_round_trip(tmp_path: Path, overrides: list[str]) -> None:
    cfg = load_config(overrides=overrides)
    path = write(tmp_path, dump_yaml(cfg), "resolved.yaml")
    assert load_config(path) == cfg
    text = dump_yaml(cfg)
    assert text.index("cell:") < text.index("dims:") < text.index("train:") < text.index("sweep:")


# ----------------------------------------------------------------- memory


def test_estimate_bytes_formula() -> None:
    cfg = Config()  # lstm, n_x=3, n_a=5, n_y=2, m=10, T_x=7, float64
    params = 4 * 5 * (5 + 3 + 1) + 2 * (5 + 1)
    expected = 8 * (3 * params + 10 * 7 * (3 + 50 + 4) + 10 * (3 + 5) * 8)
    assert estimate_bytes(cfg) == expected
    f32 = load_config(overrides=["dtype=float32"])
    assert estimate_bytes(f32) * 2 == expected
    rnn = load_config(overrides=["cell=rnn"])
    assert estimate_bytes(rnn) < estimate_bytes(load_config(overrides=["cell=gru"])) < expected


def test_check_memory_refuses_a_huge_run() -> None:
    cfg = load_config(overrides=["dims.n_a=100000", "dims.m=10000", "dims.T_x=1000"])
    with pytest.raises(InputError) as info:
        check_memory(cfg, available=16 * 2**30)
    msg = str(info.value)
    assert "needs about" in msg and "GiB" in msg and "n_a=100000" in msg
    assert "16.0 GiB is available" in msg and "\n" not in msg


def test_check_memory_passes_small_runs_and_ignores_unknown_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = Config()
    assert check_memory(cfg, available=2**40) == estimate_bytes(cfg)
    huge = load_config(overrides=["dims.n_a=100000", "dims.m=10000", "dims.T_x=1000"])
    monkeypatch.setattr(C.memory, "available_memory", lambda: None)
    assert check_memory(huge) == estimate_bytes(huge)


def test_available_memory_is_positive_or_unknown() -> None:
    got = C.available_memory()
    assert got is None or got > 0
