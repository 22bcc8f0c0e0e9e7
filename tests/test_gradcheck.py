"""rnncli.gradcheck: passes on the real code, fails on planted bugs at the right gradient.

How the defaults were chosen
============================

`eps_sweep` runs full-mode float64 checks of the correct code at each eps. An entry is
the worst relative error ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖) over the gradients of that cell and level
(both losses at the model level) and seeds 0-4, on the default dims (n_x=3, n_a=5, n_y=2,
m=10, T_x=7). Reproduce: ``eps_sweep(load_config(), seeds=range(5)).to_markdown()`` (31 s).

| check | 1e-02 | 1e-03 | 1e-04 | 1e-05 | 1e-06 | 1e-07 | 1e-08 | 1e-09 |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| rnn cell | 5.7e-05 | 5.7e-07 | 5.7e-09 | 5.7e-11 | 1.7e-10 | 2.0e-09 | 1.4e-08 | 1.2e-07 |
| rnn sequence | 7.9e-05 | 7.9e-07 | 7.9e-09 | 8.2e-11 | 6.0e-10 | 5.7e-09 | 9.9e-08 | 6.0e-07 |
| rnn model | 1.3e-04 | 1.3e-06 | 1.3e-08 | 1.5e-08 | 1.2e-07 | 1.9e-06 | 1.6e-05 | 1.4e-04 |
| lstm cell | 1.0e-04 | 1.0e-06 | 1.0e-08 | 1.1e-10 | 1.3e-09 | 1.2e-08 | 1.5e-07 | 1.2e-06 |
| lstm sequence | 7.9e-05 | 7.9e-07 | 7.9e-09 | 2.0e-10 | 1.4e-09 | 1.7e-08 | 2.3e-07 | 1.4e-06 |
| lstm model | 1.1e-04 | 1.1e-06 | 1.1e-08 | 9.4e-09 | 6.9e-08 | 8.2e-07 | 8.6e-06 | 8.0e-05 |
| gru cell | 3.9e-05 | 3.9e-07 | 3.9e-09 | 2.4e-10 | 2.2e-09 | 2.1e-08 | 1.9e-07 | 1.7e-06 |
| gru sequence | 4.8e-05 | 4.8e-07 | 4.8e-09 | 3.5e-10 | 3.6e-09 | 3.4e-08 | 3.2e-07 | 3.3e-06 |
| gru model | 5.4e-05 | 5.4e-07 | 5.4e-09 | 5.7e-09 | 5.3e-08 | 6.1e-07 | 8.7e-06 | 8.7e-05 |
| worst | 1.3e-04 | 1.3e-06 | 1.3e-08 | 1.5e-08 | 1.2e-07 | 1.9e-06 | 1.6e-05 | 1.4e-04 |

Reading it: from 1e-2 down to 1e-4 the error is truncation, exactly 100x smaller per
decade (∝ eps²); below 1e-5 it is rounding, 10x larger per decade (∝ 1/eps). The cell and
sequence levels bottom out at 1e-10 at eps 1e-5. The model level bottoms out higher,
~1e-8 at 1e-4 to 1e-5, because a few of its gradients have nearly vanished (da0 under
``mse_last``, which only looks at the last step, is ~1000x smaller than the rest), and
the same absolute rounding is a larger relative error there. Truncation C·eps² with
C ≈ 1.3 against rounding R/eps (R ≈ 1e-15 for typical rows, 1.4e-13 for the vanished
ones) balances at eps* = (R / 2C)^(1/3) = 7e-6 to 4e-5.

Chosen: **eps = 1e-5**. It is the optimum for the cell and sequence levels and within
1.2x of the best worst case (1e-4 ties on the worst case but moves every check onto the
truncation side, ~50x worse for cells and sequences and growing with nonlinearity).
config/schema.py's default (gradcheck.eps) is 1e-5; 1e-6 would also pass (8x margin).
**tol = 1e-6**: 60x above the worst correct error at eps 1e-5, 40x below the *smallest*
entry of the 1e-2 row (a coarse eps fails in every cell and level; 1e-3 fails in some),
and 10^4 below the errors of the planted bugs below (1e-2 to 1).

Vanished gradients: with longer sequences the model level's da0 under ``mse_last`` gets
arbitrarily small. A second sweep (n_a=8, m=4, T_x=25, seeds 0-1) still puts the cell and
sequence levels at their floor at 1e-5 (≤ 3.7e-10), but "rnn model" is 8e-5 there and
no eps brings it below 9e-7 (at 1e-3), though the code is right. So a row also passes when
‖g − ĝ‖ ≤ NOISE_FACTOR · u · s / eps, the rounding noise of the central difference
(u the dtype's epsilon, s = Σ|terms| of the objective at the perturbed points). The
measured ratio ‖g − ĝ‖ / (u · s / eps) never exceeded 1.7 over dims from (n_x=1, n_a=2,
m=1, T_x=1) to (n_a=16, T_x=60), float64 and float32, full and fast modes, so
NOISE_FACTOR = 10. A real bug is an error of the order of ‖g‖, far above this floor.
"""

from __future__ import annotations

import inspect
import json
import math
import textwrap
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from rnncli import gradcheck as gc
from rnncli import loss as loss_mod
from rnncli import notebook
from rnncli.config import Config, load_config
from rnncli.errors import InputError
from rnncli.gradcheck import Report, eps_sweep, render, run_gradcheck


def config(*overrides: str) -> Config:
    return load_config(None, {}, list(overrides))


def failing(report: Report) -> set[tuple[str, str, str]]:
    """{(cell, "level" or "model/loss", gradient name)} of the failing rows."""
    return {(r.cell, r.check.split(" ")[1], r.name) for r in report.failures()}


def plant(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str, *edits: tuple[str, str]
) -> None:
    """Replace module.name by a copy of its source with each (old, new) edit applied once."""
    source = textwrap.dedent(inspect.getsource(getattr(module, name)))
    for old, new in edits:
        assert source.count(old) == 1, f"{name} no longer contains {old!r}"
        source = source.replace(old, new)
    namespace = dict(vars(module))  # the copy runs with the module's globals
    exec(compile(source, f"<planted bug in {module.__name__}.{name}>", "exec"), namespace)
    monkeypatch.setattr(module, name, namespace[name])


@pytest.fixture(scope="module")
def clean() -> Report:
    """The default run on the real code: all cells, all levels."""
    return run_gradcheck(config())


# --------------------------------------------------------------------------------------
# The real code passes
# --------------------------------------------------------------------------------------


def test_real_code_passes_every_cell_and_level(clean: Report) -> None:
    assert clean.ok, [(r.check, r.name, r.rel_error, r.note) for r in clean.failures()]
    checks = {r.check for r in clean.rows}
    assert checks == {
        f"{c} {lv}"
        for c in gc.CELLS
        for lv in ("cell", "sequence", "model/xent", "model/mse_last", "model/xent_last")
    }
    # every returned gradient is a row: notebook keys at cell/sequence, engine keys at model
    names = {r.name for r in clean.rows if r.check == "lstm cell"}
    gates = {f"d{w}{g}" for w in "Wb" for g in "fico"}
    assert names == {"dxt", "da_prev", "dc_prev"} | gates
    model = {r.name for r in clean.rows if r.check == "rnn model/xent"}
    assert model == {"dx", "da0", "dWax", "dWaa", "dba", "dWya", "dby"}
    assert {r.mode for r in clean.rows} == {"full"}  # default dims are under full_limit
    assert all(r.rel_error < clean.tol for r in clean.rows)  # not even the noise rule needed


def test_default_run_is_fast_and_counts_its_work(clean: Report) -> None:
    assert clean.seconds < 5.0  # the requirement (2 cores); measured ~1 s
    assert clean.calls < clean.evals / 2  # input perturbations are batched
    entries = sum(math.prod(r.shape) for r in clean.rows)
    assert clean.evals == 2 * entries  # full mode: two perturbed copies per entry


def test_batched_input_differences_equal_one_at_a_time() -> None:
    """The batch of single perturbed columns gives the same numbers as whole-batch runs."""
    problem = gc.problems(config(), "gru", "sequence", np.dtype(np.float64))[0]
    batched = gc.numeric.full_column(problem, "x", 1e-5, gc.Tally()).value
    x = problem.columns["x"]
    slow = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        f = []
        for step in (1e-5, -1e-5):
            moved = {**problem.columns, "x": x.copy()}
            moved["x"][i] += step
            f.append(problem.per_column(problem.params, moved)[0].sum())
        slow[i] = (f[0] - f[1]) / 2e-5
    assert np.allclose(batched, slow, rtol=1e-6, atol=1e-9)


def test_narrowing_keeps_the_numbers(clean: Report) -> None:
    only = run_gradcheck(config(), cells=["gru"], levels=["model"])
    assert {r.check for r in only.rows} == {
        "gru model/xent",
        "gru model/mse_last",
        "gru model/xent_last",
    }
    same = [r for r in clean.rows if r.check.startswith("gru model")]
    assert [r.rel_error for r in only.rows] == [r.rel_error for r in same]


def test_progress_names_each_check() -> None:
    seen: list[str] = []
    run_gradcheck(config(), cells="rnn,lstm", levels=["cell", "model"], progress=seen.append)
    assert seen == [
        "rnn cell",
        "rnn model/xent",
        "rnn model/mse_last",
        "rnn model/xent_last",
        "lstm cell",
        "lstm model/xent",
        "lstm model/mse_last",
        "lstm model/xent_last",
    ]


def test_coarse_eps_fails_everywhere() -> None:
    report = run_gradcheck(config("gradcheck.eps=1e-2"))
    assert not report.ok
    assert {r.check.split("/")[0] for r in report.failures()} == {
        f"{c} {lv}" for c in gc.CELLS for lv in gc.LEVELS
    }


# --------------------------------------------------------------------------------------
# Planted bugs: each is reported as FAIL on the right gradients, and only there
# --------------------------------------------------------------------------------------


def test_lstm_forget_gate_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, notebook, "lstm_cell_backward", ("dft = dc * c_prev", "dft = -dc * c_prev"))
    report = run_gradcheck(config(), cells=["lstm"])
    cell_level = {name for cell, level, name in failing(report) if level == "cell"}
    # dft feeds dWf, dbf and, through Wf^T dft, dxt and da_prev; dc_prev and the rest are right
    assert cell_level == {"dWf", "dbf", "dxt", "da_prev"}
    # lstm_backward calls the broken cell: the wrong da_prev spreads to every gradient
    assert {n for c, lv, n in failing(report) if lv == "sequence"} >= {"dWf", "dbf", "dx", "da0"}
    assert not any(lv.startswith("model") for _, lv, _ in failing(report))  # the engine is fine


def test_fast_mode_catches_the_forget_gate_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, notebook, "lstm_cell_backward", ("dft = dc * c_prev", "dft = -dc * c_prev"))
    report = run_gradcheck(config("gradcheck.mode=fast"), cells=["lstm"], levels=["cell"])
    assert {r.mode for r in report.rows} == {"fast"}
    assert {r.checked for r in report.rows} == {4}  # directions per gradient
    assert {name for _, _, name in failing(report)} == {"dWf", "dbf", "dxt", "da_prev"}


@pytest.mark.parametrize("cell", gc.CELLS)
def test_dropped_recurrent_carry(monkeypatch: pytest.MonkeyPatch, cell: str) -> None:
    """`da_prev` not added back in <cell>_backward: every sequence-level gradient is wrong.

    Only dx at the last step is right; every earlier step, da0 and all W and b (summed
    over steps) miss the gradient that flows back through a_t. Cells are untouched.
    """
    plant(monkeypatch, notebook, f"{cell}_backward", ("da[:, :, t] + da_prevt", "da[:, :, t]"))
    report = run_gradcheck(config(), cells=[cell])
    sequence = {r.name for r in report.rows if r.level == "sequence"}
    assert failing(report) == {(cell, "sequence", name) for name in sequence}


@pytest.mark.parametrize(
    ("cell", "bias", "old", "new"),
    [
        ("rnn", "dba", "dba = np.sum(dz, axis=1, keepdims=True)", "dba = dz[:, :1]"),
        (
            "lstm",
            "dbo",
            "dbo = np.sum(dot, axis=1, keepdims=True)",
            "dbo = np.mean(dot, axis=1, keepdims=True)",
        ),
    ],
    ids=["column-0-only", "mean-not-sum"],
)
def test_bias_not_summed_over_batch(
    monkeypatch: pytest.MonkeyPatch, cell: str, bias: str, old: str, new: str
) -> None:
    plant(monkeypatch, notebook, f"{cell}_cell_backward", (old, new))
    report = run_gradcheck(config(), cells=[cell])
    assert failing(report) == {(cell, "cell", bias), (cell, "sequence", bias)}


def test_gru_reset_gate_term_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """drt loses its a_prev factor (the reset gate multiplies a_prev)."""
    plant(monkeypatch, notebook, "gru_cell_backward", ("drt = dra * a_prev * rt", "drt = dra * rt"))
    report = run_gradcheck(config(), cells=["gru"], levels=["cell"])
    # drt feeds dWr, dbr and, through Wr^T drt, dxt and da_prev; z and h are right
    assert {name for _, _, name in failing(report)} == {"dWr", "dbr", "dxt", "da_prev"}


def test_output_layer_without_batch_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    """The xent loss with dWy, dby missing the 1/m (dH keeps it): model/xent fails there.

    Patched in `loss.xent` and, where the engine calls it instead, `loss.xent_into`
    (which writes its gradients into the arrays it is given).
    """
    real_xent = loss_mod.xent

    def xent(Wy: np.ndarray, by: np.ndarray, H: np.ndarray, targets: np.ndarray) -> tuple:
        value, dWy, dby, dH = real_xent(Wy, by, H, targets)
        m = H.shape[2]
        return value, dWy * m, dby * m, dH

    monkeypatch.setattr(loss_mod, "xent", xent)
    real_into = getattr(loss_mod, "xent_into", None)
    if real_into is not None:

        def xent_into(
            Wy: Any, by: Any, Hf: Any, targets: Any, dWy: Any, dby: Any, *rest: Any, **kw: Any
        ) -> Any:
            value = real_into(Wy, by, Hf, targets, dWy, dby, *rest, **kw)
            dWy *= Hf.shape[2]  # Hf: (n_a, T, m)
            dby *= Hf.shape[2]
            return value

        monkeypatch.setattr(loss_mod, "xent_into", xent_into)
    report = run_gradcheck(config(), levels=["model"])
    assert failing(report) == {
        ("rnn", "model/xent", "dWya"),
        ("rnn", "model/xent", "dby"),
        ("lstm", "model/xent", "dWy"),
        ("lstm", "model/xent", "dby"),
        ("gru", "model/xent", "dWy"),
        ("gru", "model/xent", "dby"),
    }


def test_crashing_or_incomplete_backward_fails_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(da_next: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
        raise IndexError("tuple index out of range")

    def incomplete(da_next: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
        grads = dict(real(da_next, cache))
        del grads["dbz"]
        grads["dWh"] = grads["dWh"][:, :3]
        return grads

    real = notebook.gru_cell_backward
    monkeypatch.setattr(notebook, "rnn_cell_backward", crash)
    monkeypatch.setattr(notebook, "gru_cell_backward", incomplete)
    report = run_gradcheck(config(), cells=["rnn", "gru"], levels=["cell"])
    notes = {(r.cell, r.name): r.note for r in report.failures()}
    assert notes == {
        ("rnn", "(backward)"): "IndexError: tuple index out of range",
        ("gru", "dbz"): "dbz is missing from the returned gradients",
        ("gru", "dWh"): "dWh has shape (5, 3), expected (5, 8)",
    }
    json.dumps(report.to_json(), allow_nan=False)  # NaN norms of such rows become null


# --------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------


def test_auto_picks_fast_above_full_limit() -> None:
    # entries per check: rnn cell 30+50+15+25+5 = 125, lstm cell 30+50+50+4*45 = 310
    report = run_gradcheck(
        config("gradcheck.full_limit=200"), cells=["rnn", "lstm"], levels=["cell"]
    )
    assert {r.cell: r.mode for r in report.rows} == {"rnn": "full", "lstm": "fast"}
    assert report.ok and report.mode == "auto"
    assert report.to_json()["modes"] == ["fast", "full"]


def test_fast_mode_cost_does_not_grow_with_size() -> None:
    sizes = [config("gradcheck.mode=fast", f"dims.n_a={n_a}") for n_a in (5, 40)]
    runs = [run_gradcheck(cfg, cells=["lstm"], levels=["cell"]) for cfg in sizes]
    assert all(r.ok for r in runs)
    assert runs[0].evals == runs[1].evals == 2 * 4 * len(runs[0].rows)  # 2 per direction


def test_fast_mode_passes_real_code_everywhere() -> None:
    assert run_gradcheck(config("gradcheck.mode=fast", "gradcheck.directions=2")).ok


def test_vanished_gradient_passes_within_rounding_noise() -> None:
    """Over 30 steps a0 barely reaches the mse_last loss: rel error is rounding, not code."""
    report = run_gradcheck(config("dims.T_x=30"), cells=["rnn"], levels=["model"])
    assert report.ok
    da0 = next(r for r in report.rows if r.loss == "mse_last" and r.name == "da0")
    assert da0.rel_error > report.tol and da0.abs_error <= da0.noise
    assert da0.note == "within rounding noise"


# --------------------------------------------------------------------------------------
# Bad input, float32
# --------------------------------------------------------------------------------------


def _with(cfg: Config, **gradcheck: object) -> Config:
    """cfg with gradcheck settings that bypass the config's own validation."""
    return cfg.model_copy(update={"gradcheck": cfg.gradcheck.model_copy(update=gradcheck)})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"eps": 0.0}, "gradcheck.eps=0.0 is invalid"),
        ({"eps": -1e-6}, "gradcheck.eps=-1e-06 is invalid"),
        ({"eps": math.nan}, "gradcheck.eps=nan is invalid"),
        ({"tol": 0.0}, "gradcheck.tol=0.0 is invalid"),
        ({"tol": math.inf}, "gradcheck.tol=inf is invalid"),
        ({"directions": 0}, "gradcheck.directions=0 is invalid"),
        ({"mode": "slow"}, "gradcheck.mode='slow' is invalid"),
    ],
)
def test_bad_settings_are_input_errors(settings: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        run_gradcheck(_with(config(), **settings))


@pytest.mark.parametrize("override", ["gradcheck.eps=0", "gradcheck.eps=-1e-3", "gradcheck.tol=0"])
def test_config_refuses_non_positive_eps_and_tol(override: str) -> None:
    with pytest.raises(InputError):
        config(override)


@pytest.mark.parametrize(
    ("cells", "levels", "message"),
    [
        (["lstm", "rwkv"], None, "unknown cell 'rwkv': expected rnn, lstm, gru"),
        (None, ["step"], "unknown level 'step': expected one of cell, sequence, model"),
        ([], None, "no cell selected"),
        (None, [" , "], "no level selected"),
    ],
)
def test_unknown_names_are_input_errors(
    cells: list[str] | None, levels: list[str] | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        run_gradcheck(config(), cells=cells, levels=levels)


def test_float32_needs_an_explicit_tol() -> None:
    with pytest.raises(InputError, match="float32 needs an explicit gradcheck.tol") as info:
        run_gradcheck(config("dtype=float32"))
    assert "\n" not in str(info.value)


def test_float32_with_a_tol_runs_in_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    dtypes: set[np.dtype] = set()
    real = notebook.lstm_cell_forward

    def spy(xt: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray, parameters: dict) -> tuple:
        dtypes.update({xt.dtype, a_prev.dtype, parameters["Wf"].dtype})
        return real(xt, a_prev, c_prev, parameters)

    monkeypatch.setattr(notebook, "lstm_cell_forward", spy)
    report = run_gradcheck(
        config("dtype=float32", "gradcheck.tol=1e-2", "gradcheck.eps=1e-2"), cells=["lstm"]
    )
    assert report.dtype == "float32" and dtypes == {np.dtype(np.float32)}
    assert report.ok, [(r.check, r.name, r.rel_error) for r in report.failures()]


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def test_to_json_is_json_safe(clean: Report) -> None:
    data = json.loads(json.dumps(clean.to_json(), allow_nan=False))
    assert data["ok"] is True and data["failed"] == 0 and data["passed"] == len(data["rows"])
    assert data["eps"] == clean.eps and data["tol"] == clean.tol and data["mode"] == "auto"
    assert data["evals"] == clean.evals and data["seconds"] > 0
    row = data["rows"][0]
    assert set(row) >= {"cell", "level", "loss", "name", "shape", "mode", "checked", "passed"}
    assert set(row) >= {"analytic_norm", "numeric_norm", "rel_error", "elem_error", "noise"}
    assert isinstance(row["shape"], list)


def test_render_prints_rows_and_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    bug = ("dba = np.sum(dz, axis=1, keepdims=True)", "dba = dz[:, :1]")
    plant(monkeypatch, notebook, "rnn_cell_backward", bug)
    report = run_gradcheck(config(), cells=["rnn"], levels=["cell"])
    console = Console(record=True, width=200)
    render(report, console)
    text = console.export_text()
    assert "dWax" in text and "(5, 3)" in text and "PASS" in text and "FAIL" in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("FAIL: 5 checks, 1 failed,") and "forward evaluations" in last
    assert " s (eps" in last


# --------------------------------------------------------------------------------------
# The sweep (slow): the table above
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep() -> Iterator[gc.EpsSweep]:
    yield eps_sweep(config(), seeds=range(2))


@pytest.mark.slow
def test_sweep_supports_the_defaults(sweep: gc.EpsSweep) -> None:
    worst = {e: max(row.values()) for e, row in sweep.worst.items()}
    assert worst[gc.DEFAULT_EPS] <= 2 * min(worst.values())  # near the optimum
    assert worst[gc.DEFAULT_EPS] < gc.DEFAULT_TOL / 10
    assert min(sweep.worst[1e-2].values()) > 10 * gc.DEFAULT_TOL  # coarse eps fails everywhere
    assert sweep.to_markdown().count("\n") == len(sweep.columns) + 2  # head, rule, worst
