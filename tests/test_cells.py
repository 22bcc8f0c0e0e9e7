"""Cells: the table of cell facts, users' cells through the protocol, and their errors.

The generic time loop is checked against the fused engine by running the built-in
cells' own notebook steps through it; the example research cells gradcheck at every
level, and one with a planted bug fails naming the parameter; every way a user's cell
can be broken gives one line and the right exit code.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import rnncli
from rnncli import cells, engine
from rnncli.cells import BUILTIN, CellSpec
from rnncli.cli import app
from rnncli.config import load_config
from rnncli.errors import CellError, InputError
from rnncli.gradcheck import run_gradcheck
from rnncli.params import init_params

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "cells"
EXAMPLE_CELLS = [
    f"{EXAMPLES / 'peephole_lstm.py'}:PeepholeLSTM",
    f"{EXAMPLES / 'lstm1997.py'}:LSTM1997",
    f"{EXAMPLES / 'mgu.py'}:MGU",
]
runner = CliRunner()


def _steps_spec(name: str, sequence: bool = False) -> CellSpec:
    """A built-in cell's notebook steps as a user's cell: the generic loop runs them."""
    builtin = BUILTIN[name]

    class Steps:
        states = builtin.states

        def shapes(self, n_x: int, n_a: int) -> dict[str, tuple[int, ...]]:
            return builtin.shapes(n_x, n_a)

        def step_forward(self, params: Any, xt: Any, state: Any) -> Any:
            return builtin.step.step_forward(params, xt, state)

        def step_backward(self, params: Any, dstate: Any, cache: Any) -> Any:
            return builtin.step.step_backward(params, dstate, cache)

    impl = Steps()
    if sequence:
        impl = _with_sequence(impl)
    return CellSpec(
        name=f"steps-{name}", label=f"steps-{name}", states=builtin.states,
        params=builtin.params, output="Wy", gates=(), step=impl, source={"kind": "test"},
    )  # fmt: skip


def _with_sequence(impl: Any) -> Any:
    """Add sequence_forward / sequence_backward written as loops over the steps."""

    class Sequence(type(impl)):  # type: ignore[misc]
        def sequence_forward(self, params: Any, X: Any, state0: Any) -> Any:
            state, caches, A = state0, [], []
            for t in range(X.shape[0]):
                state, c = self.step_forward(params, X[t], state)
                caches.append(c)
                A.append(state[0])
            return np.stack(A), state, caches

        def sequence_backward(self, params: Any, dA: Any, caches: Any) -> Any:
            carried = tuple(np.zeros_like(dA[0]) for _ in self.states)
            dX, total = [], None
            for t in reversed(range(dA.shape[0])):
                d = (carried[0] + dA[t], *carried[1:])
                carried, dxt, dp = self.step_backward(params, d, caches[t])
                dX.append(dxt)
                total = dp if total is None else {k: total[k] + v for k, v in dp.items()}
            return np.stack(dX[::-1]), carried, total

    return Sequence()


def _problem(cell: str, loss: str, seed: int = 0) -> tuple[dict[str, np.ndarray], Any, Any, Any]:
    n_x, n_a, n_y, m, T = 4, 5, 3, 6, 7
    rng = np.random.default_rng(seed)
    params = init_params(cell, n_x, n_a, n_y, rng, "normal", 0.5)
    if cell != "rnn":
        params["Wy"] = params.pop("Wy")
    x = rng.standard_normal((n_x, m, T))
    a0 = 0.5 * rng.standard_normal((n_a, m))
    if loss == "xent":
        targets = rng.integers(0, n_y, (m, T))
    elif loss == "xent_last":
        targets = rng.integers(0, n_y, (m,))
    else:
        targets = rng.standard_normal((n_y, m))
    return params, x, targets, a0


def _rename_output(cell: str, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = dict(params)
    if cell == "rnn":
        out["Wy"] = out.pop("Wya")
    return out


@pytest.mark.parametrize("sequence", [False, True], ids=["steps", "sequence"])
@pytest.mark.parametrize("loss", ["xent", "mse_last", "xent_last"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_generic_loop_equals_the_fused_engine(cell: str, loss: str, sequence: bool) -> None:
    params, x, targets, a0 = _problem(cell, loss)
    value, grads = rnncli.loss_and_grads(cell, params, x, targets, a0, loss)
    spec = _steps_spec(cell, sequence)
    g_value, g_grads = rnncli.loss_and_grads(
        spec, _rename_output(cell, params), x, targets, a0, loss
    )
    assert abs(g_value - value) <= 1e-12 * abs(value)
    for name, want in _rename_output(cell, {k[1:]: v for k, v in grads.items()}).items():
        got = g_grads["d" + name]
        assert np.max(np.abs(got - want)) <= 1e-12 * max(np.max(np.abs(want)), 1e-300), name


def test_generic_loop_carries_every_state() -> None:
    """3 + 4 steps carrying the final state equals 7 steps (the text task's carry)."""
    spec = _steps_spec("lstm")
    params, x, _, a0 = _problem("lstm", "xent")
    p = engine.pack(spec, params, n_x=x.shape[0])
    X = engine.to_time_major(x)
    whole = engine.hidden(p, engine.forward(p, X, (a0,)))
    first = engine.forward(p, X[:3], (a0,))
    state = engine.final_state(p, first)
    assert len(state) == 2
    second = engine.hidden(p, engine.forward(p, X[3:], state))
    np.testing.assert_allclose(second, whole[3:], rtol=0, atol=1e-14)


def test_peephole_lstm_without_peepholes_is_the_lstm() -> None:
    """A user's cell written from scratch against the fused kernel: with zero peepholes
    the example peephole LSTM computes the built-in LSTM."""
    params, x, targets, a0 = _problem("lstm", "xent", seed=3)
    value, grads = rnncli.loss_and_grads("lstm", params, x, targets, a0)
    mine = dict(params)
    for g in "fio":
        mine["p" + g] = np.zeros((5, 1))
    p_value, p_grads = rnncli.loss_and_grads(EXAMPLE_CELLS[0], mine, x, targets, a0)
    assert abs(p_value - value) <= 1e-12 * abs(value)
    for k, v in grads.items():
        np.testing.assert_allclose(p_grads[k], v, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("cell", EXAMPLE_CELLS, ids=lambda c: c.rsplit(":", 1)[1])
def test_example_cells_pass_gradcheck_at_every_level(cell: str) -> None:
    report = run_gradcheck(load_config(None, {"cell": cell}), cells=[cell])
    assert report.ok, [(r.check, r.name, r.rel_error) for r in report.failures()]
    assert {r.level for r in report.rows} == {"cell", "sequence", "model"}


def test_a_planted_bug_fails_naming_the_parameter(tmp_path: Path) -> None:
    """MGU with the gate's second path dropped from its derivative."""
    text = (EXAMPLES / "mgu.py").read_text()
    good = "dft = da_next * (hht - a_prev) + dconcat_f[:n_a] * a_prev"
    assert good in text
    bad = tmp_path / "mgu_bug.py"
    bad.write_text(text.replace(good, "dft = da_next * (hht - a_prev)"))
    cell = f"{bad}:MGU"
    report = run_gradcheck(load_config(None, {"cell": cell}), cells=[cell], levels=["cell"])
    failed = {r.name for r in report.failures()}
    assert {"dWf", "dbf"} <= failed  # the forget gate's parameters ...
    assert not {"dWh", "dbh"} & failed  # ... and not the candidate's


def test_specs_are_the_one_table() -> None:
    """Shapes, states and gates of the built-ins come from one place, and agree with
    what the engine packs."""
    for name, spec in BUILTIN.items():
        shapes = spec.model_shapes(3, 5, 2)
        assert tuple(shapes) == spec.all_params
        p = engine.Packed.zeros(name, 3, 5, 2, np.float64)
        assert {k: v.shape for k, v in engine.unpack(p).items()} == shapes
        assert engine.size(name, 3, 5, 2) == sum(int(np.prod(s)) for s in shapes.values())
    assert BUILTIN["lstm"].states == ("a", "c")
    assert [g.name for g in BUILTIN["lstm"].gates] == ["f", "i", "o", "g"]


# ------------------------------------------------------------------------ bad cells


def _cell_file(tmp_path: Path, body: str, name: str = "cells.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
import numpy as np

class Cell:
    states = ("a",)

    def shapes(self, n_x, n_a):
        return {"W": (n_a, n_a + n_x), "b": (n_a, 1)}

    def step_forward(self, params, xt, state):
        z = params["W"] @ np.concatenate([state[0], xt]) + params["b"]
        a = np.tanh(z)
        return (a,), (np.concatenate([state[0], xt]), a)

    def step_backward(self, params, dstate, cache):
        concat, a = cache
        dz = dstate[0] * (1 - a**2)
        dconcat = params["W"].T @ dz
        n_a = a.shape[0]
        grads = {"W": dz @ concat.T, "b": dz.sum(axis=1, keepdims=True)}
        return (dconcat[:n_a],), dconcat[n_a:], grads
"""


EXITS = "class Cell:\n    def __init__(self):\n        import sys; sys.exit(3)"


def _run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_a_good_cell_works_from_the_command_line(tmp_path: Path) -> None:
    path = _cell_file(tmp_path, GOOD)
    result = _run("gradcheck", "--cell", f"{path}:Cell", "--no-save")
    assert result.exit_code == 0, result.output
    result = _run("cells", f"{path}:Cell", "--json")
    assert result.exit_code == 0, result.output
    assert '"W"' in result.output and '"kind": "file"' in result.output


@pytest.mark.parametrize(
    ("body", "spec", "code", "needles"),
    [
        (GOOD, "missing.py:Cell", 2, ["missing.py", "not found"]),
        (GOOD, "cells.py:Nope", 2, ["no class 'Nope'", "Cell"]),
        ("x = 1\n", "cells.py:x", 2, ["cell cells.py:x: is 'int', not a class"]),
        (GOOD.replace("def step_backward", "def backward"), "cells.py:Cell", 2,
         ["missing method step_backward"]),
        (GOOD.replace('states = ("a",)', 'states = "a"'), "cells.py:Cell", 2, ["states"]),
        (GOOD.replace('"b": (n_a, 1)', '"b": (n_a, 0)'), "cells.py:Cell", 2, ["shape"]),
        (GOOD.replace('"W": (n_a', '"Wy": (n_a'), "cells.py:Cell", 2, ["output layer"]),
        (GOOD.replace("return (a,), (", "return (a[:-1],), ("), "cells.py:Cell", 2,
         ["step_forward's new state a", "shape"]),
        (GOOD.replace("return (dconcat[:n_a],), dconcat[n_a:], grads",
                      "return (dconcat[:n_a],), dconcat[n_a:], {'W': grads['W']}"),
         "cells.py:Cell", 2, ["dparams", "missing b"]),
        (GOOD.replace("a = np.tanh(z)", "a = np.tanh(z).astype(np.float16)"),
         "cells.py:Cell", 2, ["dtype float16"]),
        (GOOD.replace("z = params", "z = 1 / 0 + params"), "cells.py:Cell", 1,
         ["step_forward raised ZeroDivisionError", "cells.py, line"]),
        (GOOD.replace("import numpy as np", "import numpy as np\nraise RuntimeError('boom')"),
         "cells.py:Cell", 1, ["importing cells.py raised RuntimeError: boom", "line 3"]),
        (GOOD.replace("def shapes(self, n_x, n_a):", "def shapes(self, n_x, n_a)"),
         "cells.py:Cell", 2, ["cells.py:7: syntax error"]),
        (GOOD.replace("class Cell:", EXITS), "cells.py:Cell", 1, ["__init__ raised SystemExit(3)"]),
        (GOOD, "lsmt", 2, ["unknown cell 'lsmt'", "did you mean 'lstm'"]),
        (GOOD, "no_such_module_xyz:Cell", 2, ["no module named 'no_such_module_xyz'"]),
    ],
)  # fmt: skip
def test_broken_cells_give_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, spec: str, code: int,
    needles: list[str],
) -> None:  # fmt: skip
    _cell_file(tmp_path, body)
    monkeypatch.chdir(tmp_path)
    result = _run("gradcheck", "--cell", spec, "--no-save")
    assert result.exit_code == code, result.output
    err = result.output.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rnncli: error:"), result.output
    for needle in needles:
        assert needle in err[0], err[0]


def test_non_finite_init_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = GOOD + textwrap.indent(
        "\ndef init(self, n_x, n_a, rng):\n"
        "    return {'W': np.full((n_a, n_a + n_x), np.nan), 'b': np.zeros((n_a, 1))}\n",
        "    ",
    )
    _cell_file(tmp_path, body)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="non-finite values in W"):
        cells.get("cells.py:Cell")


def test_float32_refused_only_for_a_cell_that_upcasts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = GOOD.replace("a = np.tanh(z)", "a = np.tanh(z.astype(np.float64))")
    _cell_file(tmp_path, body)
    monkeypatch.chdir(tmp_path)
    result = _run("gradcheck", "--cell", "cells.py:Cell", "--no-save", "dtype=float32",
                  "gradcheck.tol=1e-2", "gradcheck.eps=1e-3")  # fmt: skip
    assert result.exit_code == 2
    assert "float32" in result.output and "dtype float64" in result.output
    assert _run("gradcheck", "--cell", "cells.py:Cell", "--no-save").exit_code == 0


def test_cell_error_names_method_and_line_inside_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception that only happens later (here on the 3rd call) is exit 1, naming the
    method and the user's line."""
    body = GOOD.replace(
        "    def step_backward(self, params, dstate, cache):\n",
        "    calls = 0\n\n    def step_backward(self, params, dstate, cache):\n"
        "        type(self).calls += 1\n"
        "        if type(self).calls > 40:\n"
        "            raise FloatingPointError('late')\n",
    )
    path = _cell_file(tmp_path, body)
    with pytest.raises(CellError, match=r"step_backward raised FloatingPointError: late"):
        cells_spec = cells.get(f"{path}:Cell")
        p = engine.Packed.zeros(cells_spec, 2, 3, 2, np.float64)
        X = np.zeros((5, 2, 1))
        for _ in range(20):
            engine.train_step(p, X, np.zeros((5, 1), dtype=int), None, "xent", p.zeros_like())


def test_entry_point_cells_are_listed_and_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package registering a cell under the entry-point group rnncli.cells."""
    (tmp_path / "fakecells_pkg.py").write_text(textwrap.dedent(GOOD))
    dist = tmp_path / "fakecells-1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakecells\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text("[rnncli.cells]\nfake = fakecells_pkg:Cell\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "fake" in cells.registered()
    spec = cells.get("fake")
    assert spec.params == ("W", "b")
    assert spec.source["kind"] == "entry-point"
    assert spec.source["package"] == "fakecells" and spec.source["version"] == "1.2"
    result = _run("cells")
    assert result.exit_code == 0 and "fake" in result.output
    sys.modules.pop("fakecells_pkg", None)


def test_config_stores_a_file_cell_as_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _cell_file(tmp_path, GOOD)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, {"cell": "cells.py:Cell"})
    assert cfg.cell == f"{path.resolve()}:Cell"
    assert cells.get(cfg.cell).source["sha256"]
