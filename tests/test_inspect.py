"""rnncli inspect: the per-step gradients the engine records against finite differences,
connectivity against a finite-difference Jacobian, gate saturation on hand-built values,
the unit finder on a planted unit, the terminal views at 80, 100 and 200 columns, the
files, and the command line for rnn, lstm, gru and users' cells.

The browser test of report.html is in test_report.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from test_cells import _steps_spec
from typer.testing import CliRunner

from rnncli import cells, engine, plot
from rnncli.cells import CellSpec
from rnncli.cli import app
from rnncli.engine import lstm as lstm_kernel
from rnncli.errors import InputError
from rnncli.inspect import analysis, gates, gradflow, show, units
from rnncli.inspect import command as ic
from rnncli.inspect import run as run_mod
from rnncli.params import init_params

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "cells"
PEEPHOLE = f"{EXAMPLES / 'peephole_lstm.py'}:PeepholeLSTM"
MGU = f"{EXAMPLES / 'mgu.py'}:MGU"
CELLS = ["rnn", "lstm", "gru", PEEPHOLE, MGU]
CELL_IDS = ["rnn", "lstm", "gru", "peephole", "mgu"]


def invoke(args: list[str], **env: str) -> Any:
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1", **env}, catch_exceptions=False)


def model(cell: str | CellSpec, n_x: int = 3, n_a: int = 4, n_y: int = 2, seed: int = 0) -> Any:
    spec = cell if isinstance(cell, CellSpec) else cells.get(cell)
    rng = np.random.default_rng(seed)
    params = init_params(spec, n_x, n_a, n_y, rng, "normal", 0.7, np.dtype("float64"))
    return engine.pack(spec, params, n_x=n_x)


def data(p: Any, loss: str, T: int = 6, m: int = 2, seed: int = 1) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T, p.n_x, m))
    if loss == "xent":
        return X, rng.integers(0, p.n_y, (T, m))
    return X, rng.standard_normal((p.n_y, m))


# ----------------------------------------------------------------------------- exactness


def loss_with(p: Any, X: Any, targets: Any, loss: str, t: int, k: int, delta: Any) -> float:
    """The loss with state k after step t (0-based) moved by delta: steps 1..t, the
    perturbation, then steps t+1..T from the perturbed state (the engine's forward takes
    a state tuple). a_t feeds the output at t as well. The fused LSTM's c_t is moved
    before a_t = o_t tanh(c_t) is formed (the kernel's total gradient on c_t goes through
    a_t too); a user's cell's states are moved as its step returns them."""
    first = engine.forward(p, X[: t + 1], None, trace=True)
    H1 = engine.hidden(p, first).copy()
    state = [s.copy() for s in engine.final_state(p, first)]
    state[k] += delta
    if k == 0:
        H1[-1] = state[0]
    elif p.spec.fused:  # the built-in LSTM's c
        o = lstm_kernel.gate_values(first)[-1, : p.n_a]
        state[0] = o * np.tanh(state[1])
        H1[-1] = state[0]
    H = H1
    if t + 1 < X.shape[0]:
        H = np.concatenate([H1, engine.hidden(p, engine.forward(p, X[t + 1 :], tuple(state)))])
    return gradflow.loss_gradient(p, loss, H, targets)[0]


@pytest.mark.parametrize("loss", ["xent", "mse_last"])
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_recorded_gradients_match_finite_differences(cell: str, loss: str) -> None:
    p = model(cell)
    X, targets = data(p, loss)
    cache, H = run_mod.hidden_states(p, X)
    _, dH = gradflow.loss_gradient(p, loss, H, targets)
    record = gradflow.recorded_gradients(p, cache, dH)
    assert list(record) == list(p.spec.states)
    eps = 1e-6
    for k, s in enumerate(p.spec.states):
        numeric = np.zeros_like(record[s])
        for t in range(X.shape[0]):
            for idx in np.ndindex(p.n_a, X.shape[2]):
                d = np.zeros((p.n_a, X.shape[2]))
                d[idx] = eps
                up = loss_with(p, X, targets, loss, t, k, d)
                down = loss_with(p, X, targets, loss, t, k, -d)
                numeric[(t, *idx)] = (up - down) / (2 * eps)
        err = np.abs(numeric - record[s]).max() / np.abs(numeric).max()
        assert err < 1e-7, (s, err)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_recording_changes_nothing(cell: str) -> None:
    p = model(cell, n_a=5)
    X, _ = data(p, "xent", T=7, m=3)
    dA = np.random.default_rng(2).standard_normal((7, 5, 3))
    results = []
    for record in (None, {}):
        cache = engine.forward(p, X, None, trace=True)
        grads, dX, da0 = engine.backward(p, cache, dA, record=record)
        results.append((grads.flat.copy(), dX, da0))
    for plain, recorded in zip(*results, strict=True):
        assert np.array_equal(plain, recorded)


def test_recording_needs_the_step_loop_and_one_layer() -> None:
    spec = _steps_spec("lstm", sequence=True)
    p = model(spec)
    X, _ = data(p, "xent")
    dA = np.ones((X.shape[0], p.n_a, X.shape[2]))
    with pytest.raises(ValueError, match="traced forward"):
        engine.backward(p, engine.forward(p, X), dA, record={})
    record: dict[str, np.ndarray] = {}
    engine.backward(p, engine.forward(p, X, trace=True), dA, record=record)
    assert set(record) == {"a", "c"}
    stacked = engine.Packed("lstm", 3, 4, 2, np.zeros(engine.size("lstm", 3, 4, 2, 2)), 2)
    cache = engine.forward(stacked, X)
    with pytest.raises(ValueError, match="one-layer"):
        engine.backward(stacked, cache, np.zeros((X.shape[0], 4, X.shape[2])), record={})


@pytest.mark.parametrize("cell", ["rnn", "lstm", PEEPHOLE], ids=["rnn", "lstm", "peephole"])
def test_connectivity_matches_a_finite_difference_jacobian(cell: str) -> None:
    p = model(cell)
    X, _ = data(p, "xent", T=5, m=3)
    cache, _ = run_mod.hidden_states(p, X)
    got = gradflow.connectivity(p, cache, 5, 3)
    eps = 1e-6
    J = np.zeros((5, 3, p.n_a, p.n_x))  # (t, example, unit of a_T, input)
    for t, j in np.ndindex(5, p.n_x):
        up, down = X.copy(), X.copy()
        up[t, j] += eps
        down[t, j] -= eps
        a_up = engine.hidden(p, engine.forward(p, up))[-1]
        a_down = engine.hidden(p, engine.forward(p, down))[-1]
        J[t, :, :, j] = ((a_up - a_down) / (2 * eps)).T
    want = np.sqrt((J**2).sum(axis=(2, 3))).mean(axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-7)


def test_last_targets_keep_each_sequences_last_target() -> None:
    targets = np.array([[1, 2, 0], [3, -1, 1], [-1, -1, 2]])  # (T, m): padded columns
    want = np.array([[-1, 2, -1], [3, -1, -1], [-1, -1, 2]])
    assert np.array_equal(gradflow.last_targets("xent", targets), want)
    y = np.ones((1, 3))
    assert gradflow.last_targets("mse_last", y) is y


def test_decay_rows_and_sparkline() -> None:
    T = 30
    norms = 10.0 ** -np.arange(T)[::-1]  # shrinks 10x per step back from t = T
    flow = gradflow.GradFlow(T, "mse_last", {"last": {"a": norms}, "sum": {"a": norms}},
                             np.ones(T))  # fmt: skip
    rows = gradflow.decay_rows(flow)
    assert [r["t"] for r in rows] == [30, 20, 10]
    assert rows[1]["last_a"] == pytest.approx(1e-10)
    assert rows[1]["last_a_per10"] == pytest.approx(1e-10)
    assert rows[1]["connectivity_per10"] == pytest.approx(1.0)
    assert "last_a_per10" not in rows[0] and "sum_a" not in rows[0]
    assert gradflow.stride(100) == 10 and gradflow.stride(1000) == 80
    line = gradflow.sparkline(norms, 30, 1e-29, 1.0)
    assert line[0] == "▁" and line[-1] == "█" and len(line) == 30
    assert gradflow.sparkline(np.array([0.0, 1.0]), 2, 1.0, 1.0) == " ▅"
    assert len(gradflow.sparkline(norms, 7, 1e-29, 1.0)) == 7


# ----------------------------------------------------------------------------- gates


def test_saturation_on_hand_built_gate_values() -> None:
    values = np.array(
        [  # (T=4, n_a=3, m=2): unit 0 shut, unit 1 open half the time, unit 2 in between
            [[0.05, 0.0], [0.95, 0.5], [0.1, 0.9]],
            [[0.05, 0.01], [0.95, 0.5], [0.3, 0.5]],
            [[0.2, 0.02], [0.2, 0.99], [0.5, 0.5]],
            [[0.05, 0.09], [0.2, 0.99], [0.5, 0.5]],
        ]
    )
    left, right = gates.saturation(values)
    np.testing.assert_allclose(left, [7 / 8, 0, 0])
    np.testing.assert_allclose(right, [0, 4 / 8, 0])  # 0.9 itself is not > 0.9
    mask = np.array([[True, False]] * 2 + [[False, False]] * 2)  # 2 of the 8 pairs count
    left, right = gates.saturation(values, mask)
    np.testing.assert_allclose(left, [1, 0, 0])
    np.testing.assert_allclose(right, [0, 1, 0])
    s = gates.GateSaturation("f", *gates.saturation(values)).summary()
    assert (s["mostly_left"], s["mostly_right"], s["rarely"]) == (1, 0, 1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_gate_values_are_the_notebook_cells_gates(cell: str) -> None:
    """The fused buffers, named through the cell table, against the notebook's own cell
    functions run by the generic loop on the same parameters."""
    p = model(cell)
    X, _ = data(p, "xent")
    fused = gates.gate_values(p, engine.forward(p, X, trace=True))
    block = p.blocks[0]
    steps = engine.generic.forward(block, X, engine.initial_state(p, X.shape[2]), trace=True)
    notebook = {g: np.stack([cells.get(cell).step.gate_values(c)[g] for c in steps.steps])
                for g in fused}  # fmt: skip
    assert list(fused) == [g.name for g in p.spec.gates]
    for g in fused:
        np.testing.assert_allclose(fused[g], notebook[g], rtol=0, atol=1e-13)


def test_gates_of_users_cells_and_cells_without_gates() -> None:
    p = model(PEEPHOLE)
    X, _ = data(p, "xent")
    values = gates.gate_values(p, engine.forward(p, X, trace=True))
    assert list(values) == ["f", "i", "o"] and values["f"].shape == (6, 4, 2)
    assert gates.gate_values(model("rnn"), None) == {}
    assert gates.gate_values(model(_steps_spec("lstm")), None) == {}  # names no gates


# ----------------------------------------------------------------------------- units


def test_text_features() -> None:
    text = 'a "b" (c\nd)'
    f = units.features(text)
    assert f["in_quotes"].tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert f["in_brackets"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    assert f["after_newline"].tolist() == [0] * 8 + [1, 0, 0]
    assert f["in_word"].tolist() == [1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0]
    assert f["line_position"][:3].tolist() == [0, 1 / 8, 2 / 8] and f["line_position"][9] == 0
    assert units.features("“x” y")["in_quotes"].tolist() == [1, 1, 0, 0, 0]
    assert units.features('a "b\n\nc "d')["in_quotes"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 1, 1]
    inside = units.features('x "y', context='he said "')  # the passage starts inside quotes
    assert inside["in_quotes"].tolist() == [1, 1, 0, 0] and inside["line_position"][0] > 0


def test_planted_unit_is_ranked_first() -> None:
    text = 'He said "no" (twice) and "yes"\nthen "maybe".\n' * 3
    rng = np.random.default_rng(0)
    acts = rng.uniform(-1, 1, (len(text), 6))
    acts[:, 4] = units.features(text)["in_quotes"]
    found = units.rank({"a": acts, "c": rng.uniform(-1, 1, (len(text), 6))},
                       units.features(text))  # fmt: skip
    best = found["in_quotes"][0]
    assert (best.state, best.unit, best.r) == ("a", 4, pytest.approx(1.0))


class QuoteCell:
    """A hand-made cell: unit 2 of a flips at every double quote read (input row 0 is the
    one-hot of '"'), so a_2 is exactly the inside-quotes indicator; other units are 0."""

    states = ("a",)
    gates = ("q",)

    def shapes(self, n_x: int, n_a: int) -> dict[str, tuple[int, ...]]:
        return {"w": (1, 1)}

    def step_forward(self, params: Any, xt: Any, state: Any) -> Any:
        (a,) = state
        new = a.copy()
        new[2] = a[2] + xt[self.quote] * (1 - 2 * a[2])
        return (new,), (new,)

    def step_backward(self, params: Any, dstate: Any, cache: Any) -> Any:
        (da,) = dstate
        return (
            (np.zeros_like(da),),
            np.zeros((self.n_x, da.shape[1]), da.dtype),
            {"w": np.zeros((1, 1), da.dtype)},
        )

    def gate_values(self, cache: Any) -> dict[str, Any]:
        return {"q": np.full_like(cache[0], 0.95)}


def test_planted_quote_cell_is_found_through_inspect(tmp_path: Path) -> None:
    """A model whose unit 2 is the inside-quotes indicator, through the whole pipeline
    (subject, passage, traced forward, ranking, the --find view)."""
    text = 'x = "a b" + f(y, "c")\nprint("done")\n' * 4
    vocab = sorted(set(text))
    impl = QuoteCell()
    impl.quote, impl.n_x = vocab.index('"'), len(vocab)  # type: ignore[attr-defined]
    spec = CellSpec(name="quote", label="quote", states=("a",), params=("w",), output="Wy",
                    gates=(cells.Gate("q", "sigmoid"),), step=impl, source={})  # fmt: skip
    p = engine.Packed(spec, len(vocab), 4, len(vocab), np.zeros(1 + 5 * len(vocab)))
    cfg = run_mod.Config()
    subject = run_mod.Subject(p, cfg, {"task": "text", "vocab": vocab}, "quote", None, "untrained")
    ins = analysis.inspect(subject, run_mod.text_sample(subject, text, "--text"))
    best = ins.units["in_quotes"][0]
    assert (best.state, best.unit, best.r) == ("a", 2, pytest.approx(1.0))
    assert ins.gates[0].right.tolist() == [1.0] * 4
    con = Console(width=80, record=True, no_color=True, color_system=None)
    show.units_view(ins, con, find=True, unit=("a", 2))
    out = con.export_text()
    assert "a[2]: r = +1.00 with in_quotes" in out
    assert '"a b"' in out and "▁▁▁▁████▁" in out  # readable without colour: x = "a b" ...


# ----------------------------------------------------------------------------- runs and CLI


def train(root: Path, *args: str) -> Path:
    result = invoke(["train", "--out", str(root), "--json", "train.steps=20",
                     "train.eval_every=10", "train.eval_size=16", *args])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["run_dir"])


CORPUS = ('She said "stop (now)" and left.\nHe asked "why?" twice.\n'
          '"Fine" (he thought) "fine".\n') * 40  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    corpus = root / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    adding = ["--task", "adding", "train.T=24", "train.hidden=8"]
    return {
        "lstm": train(root, *adding, "--cell", "lstm"),
        "rnn": train(root, *adding, "--cell", "rnn"),
        "gru": train(root, *adding, "--cell", "gru"),
        "text": train(root, "--data", str(corpus), "train.hidden=12", "train.bptt=20"),
        "reber-mgu": train(root, "--task", "reber", "--cell", MGU, "train.hidden=6"),
        "root": root,
    }


def whole_numbers(out: str, doc: dict[str, Any], keys: tuple[str, ...] = ()) -> None:
    """Every number of the decay tables (`keys`: of these columns only) appears whole,
    as a token of its own."""
    for ins in doc["inspections"]:
        for row in ins["gradient_flow"]["decay"]:
            for key, v in row.items():
                if key == "t" or (keys and key.removesuffix("_per10") not in keys):
                    continue
                text = show.factor(v) if key.endswith("per10") else show.norm(v)
                if text == "–":
                    continue
                assert re.search(rf"(^|\s){re.escape(text)}(\s|$)", out, re.M), (key, text)


@pytest.mark.parametrize("width", [80, 100, 200])
def test_terminal_views_fit_and_print_numbers_whole(runs: dict[str, Path], width: int) -> None:
    found = {}
    for name in ("lstm", "rnn", "gru"):
        subject = run_mod.from_run(runs[name])
        found[name] = analysis.inspect(subject, run_mod.sample_for(subject))
    single = ("gate saturation", "c over time", "decay over time")
    for shown in ([found["lstm"]], list(found.values()) * 2):  # one model; six compared
        con = Console(width=width, record=True, no_color=True, color_system=None)
        show.render(shown, con)
        out = con.export_text()
        assert max(len(line) for line in out.splitlines()) <= width
        compared = ("last_a", "connectivity")  # the comparison's tables
        whole_numbers(out, ic.document(shown), () if len(shown) == 1 else compared)
        titles = ["‖∂L_T/∂a_t‖", "‖∂L_T/∂c_t‖", "‖∂a_T/∂x_t‖"]
        for title in titles + (list(single) if len(shown) == 1 else []):
            assert title in out


def test_inspect_a_run(runs: dict[str, Path]) -> None:
    result = invoke(["inspect", str(runs["lstm"]), "--batch", "8"])
    assert result.exit_code == 0, result.stderr
    assert "decay over time" in result.stdout and "gate saturation" in result.stdout
    folder = runs["lstm"] / "inspect"
    names = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
    assert names == {"gradflow.png", "gates.png", "states.png", "inspect.json"}
    doc = json.loads((folder / "inspect.json").read_text())
    flow = doc["inspections"][0]["gradient_flow"]
    assert len(flow["grad_norms"]["last"]["a"]) == flow["T"] == 24
    assert doc["inspections"][0]["sample"]["m"] == 8
    assert (folder / "gradflow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inspect_json_is_one_document(runs: dict[str, Path]) -> None:
    result = invoke(["inspect", str(runs["rnn"]), "--json", "--no-save", "--batch-seed", "3"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    ins = doc["inspections"][0]
    assert doc["out_dir"] is None and ins["cell"] == "rnn" and ins["gates"] == []
    assert ins["sample"]["seed"] == 3
    assert set(ins["gradient_flow"]["grad_norms"]["last"]) == {"a"}


def test_a_users_cell_trained_on_reber(runs: dict[str, Path]) -> None:
    """Padded batches (Reber strings differ in length) and a user's cell's gates."""
    result = invoke(["inspect", str(runs["reber-mgu"]), "--json", "--no-save", "--batch", "6"])
    assert result.exit_code == 0, result.stderr
    ins = json.loads(result.stdout)["inspections"][0]
    assert ins["cell"].endswith("mgu.py:MGU") and ins["task"] == "reber"
    assert [g["gate"] for g in ins["gates"]] == ["f"] and len(ins["gates"][0]["left"]) == 6
    last = ins["gradient_flow"]["grad_norms"]["last"]["a"]
    assert len(last) == ins["gradient_flow"]["T"] and max(last) > 0


def test_compare_runs(runs: dict[str, Path], tmp_path: Path) -> None:
    result = invoke(["inspect", "--compare", str(runs["rnn"]), str(runs["lstm"]),
                     "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "‖∂L_T/∂a_t‖ over time" in result.stdout
    assert re.search(r"^\s+rnn\s+[▁-█ ]+$", result.stdout, re.M)
    folder = next(p for p in tmp_path.glob("*/*-inspect-compare"))
    assert (folder / "gradflow.png").is_file() and (folder / "inspect.json").is_file()
    assert json.loads((folder / "run.json").read_text())["status"] == "completed"


@pytest.mark.parametrize("cell", ["gru", MGU], ids=["gru", "mgu"])
def test_untrained_model_from_a_config(cell: str, tmp_path: Path) -> None:
    result = invoke(["inspect", "--task", "adding", "--cell", cell, "train.T=15",
                     "train.hidden=6", "--out", str(tmp_path), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    ins = doc["inspections"][0]
    assert ins["parameters"] == "untrained" and ins["gradient_flow"]["T"] == 15
    assert [g["gate"] for g in ins["gates"]] == (["z", "r"] if cell == "gru" else ["f"])
    folder = Path(doc["out_dir"])
    assert (folder / "config.yaml").is_file() and (folder / "inspect.json").is_file()


def test_untrained_model_is_the_one_train_starts_from(runs: dict[str, Path]) -> None:
    from rnncli.config import load_config
    from rnncli.training.loop import fresh_state, prepare

    cfg = load_config(None, {"train.task": "adding"}, ["train.T=10"], training=True)
    subject = run_mod.from_config(cfg)
    p, _, _ = fresh_state(cfg, prepare(cfg))
    assert np.array_equal(subject.p.flat, p.flat)


def test_compare_untrained_cells_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plot, "have_matplotlib", lambda: False)
    result = invoke(["inspect", "--task", "adding", "--compare", "--cell", "rnn,lstm",
                     "train.T=12", "train.hidden=5", "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "pip install 'rnncli[plot]'" in result.stderr
    folder = next(tmp_path.glob("*/*-inspect-compare"))
    assert not list(folder.glob("*.png")) and (folder / "inspect.json").is_file()
    assert "lstm" in result.stdout and "connectivity" in result.stdout


def test_text_run_find_and_unit(runs: dict[str, Path]) -> None:
    result = invoke(["inspect", str(runs["text"]), "--find", "--unit", "c:3",
                     "--text", CORPUS[:300]])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "units that track the text" in out and "in_quotes" in out
    assert "c[3] on the text" in out
    assert re.search(r"^[▁-█]+$", out, re.M)  # the block line under a line of text
    page = (runs["text"] / "inspect" / "cells.html").read_text()
    assert page.count("<span") >= 299 and "&quot;" in page and "<script" not in page


def test_text_run_default_passage_and_refusals(runs: dict[str, Path]) -> None:
    result = invoke(["inspect", str(runs["text"]), "--no-save", "--json", "--length", "50"])
    assert result.exit_code == 0, result.stderr
    ins = json.loads(result.stdout)["inspections"][0]
    assert ins["sample"]["T"] == 50 and "validation part" in ins["sample"]["source"]
    corpus = runs["root"] / "corpus.txt"
    result = invoke(["inspect", str(runs["text"]), "--no-save", "--json", "--length", "40",
                     "--data", str(corpus)])  # fmt: skip
    ins = json.loads(result.stdout)["inspections"][0]
    assert ins["sample"] == {"source": f"{corpus}: 40 characters", "T": 40, "m": 1, "seed": None}
    bad = invoke(["inspect", str(runs["text"]), "--no-save", "--text", "caf\u00e9 \u2603 zz"])
    assert bad.exit_code == 2
    assert bad.stderr.count("\n") == 1 and "'é'" in bad.stderr and "'☃'" in bad.stderr
    for args, what in (
        ([str(runs["lstm"]), "--find"], "ranks units against a text"),
        ([str(runs["text"]), "--unit", "q:1"], "states are a, c"),
        ([str(runs["lstm"]), str(runs["rnn"])], "give --compare"),
        ([str(runs["lstm"]), "cell=gru"], "a run keeps its own config"),
        ([str(runs["lstm"]), "--cell", "gru"], "--cell: a run keeps its own config"),
        (["--best"], "give a RUN_DIR"),
        (["--cell", "rnn,lstm"], "give --compare"),
        ([str(runs["lstm"]), "--text", "abc"], "for text models"),
    ):
        r = invoke(["inspect", *args, "--no-save"])
        assert r.exit_code == 2 and what in r.stderr, (args, r.stderr)


def test_backward_prints_the_per_step_gradient_norms() -> None:
    for upstream in ("random", "loss"):
        r = invoke(["backward", "--no-save", f"backward.upstream={upstream}", "dims.T_x=9"])
        assert r.exit_code == 0, r.stderr
        line = next(x for x in r.stdout.splitlines() if x.startswith("‖da_t‖"))
        assert re.search(r"[▁-█ ]{9}", line)
        doc = json.loads(invoke(["backward", "--no-save", "--json",
                                 f"backward.upstream={upstream}"]).stdout)  # fmt: skip
        assert len(doc["da_t_norms"]) == 7 and all(v > 0 for v in doc["da_t_norms"])


def test_unknown_characters_refused_naming_all() -> None:
    task = {"task": "text", "vocab": ["a", "b", "c"]}
    subject = run_mod.Subject(model("rnn", n_x=3, n_y=3), run_mod.Config(), task, "x", None, "")
    with pytest.raises(InputError, match=r"'d', 'e'"):
        run_mod.text_sample(subject, "abcde", "--text")


def test_params_inspects_a_weights_file_as_the_run_it_came_from(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """--params FILE: the config's model at the file's parameters, as inspecting the run
    that wrote them (same task, same batch), in notebook and PyTorch names alike."""
    pytest.importorskip("safetensors")
    run = runs["lstm"]
    same = ["--task", "adding", "train.T=24", "train.hidden=8", "--json", "--batch", "8"]
    want = json.loads(invoke(["inspect", str(run), *same[-3:], "--no-save"]).stdout)
    for names in ("notebook", "torch"):
        weights = tmp_path / f"{names}.safetensors"
        result = invoke(["export", str(run), "--names", names, "--out", str(weights)])
        assert result.exit_code == 0, result.stderr
        result = invoke(["inspect", *same, "--params", str(weights), "--out", str(tmp_path)])
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        got, expected = doc["inspections"][0], want["inspections"][0]
        assert got["parameters"] == "params"
        assert got["gradient_flow"] == expected["gradient_flow"]
        recorded = json.loads((Path(doc["out_dir"]) / "run.json").read_text())
        assert recorded["params"]["path"] == str(weights.resolve())
    shown = invoke(["inspect", *same[:-3], "--params", str(weights), "--no-save"])
    assert "parameters of torch.safetensors" in shown.stdout
    # the model of another size: one line naming the tensor; a run keeps its own
    result = invoke(["inspect", *same[:3], "train.hidden=6", "--params", str(weights)])
    assert result.exit_code == 2
    assert result.stderr.startswith("rnncli: error: --params ") and "needs" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    result = invoke(["inspect", str(run), "--params", str(weights)])
    assert result.exit_code == 2 and "--params: a run keeps its own" in result.stderr
    result = invoke(["inspect", "--task", "adding", "--compare", "--cell", "rnn,lstm",
                     "--params", str(weights)])  # fmt: skip
    assert result.exit_code == 2 and "not with --compare" in result.stderr
