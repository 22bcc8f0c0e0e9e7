"""One-shot jobs: a forward or backward pass, or a gradcheck, at a config, kept in a run
folder. ``rnncli forward|backward|gradcheck`` are these functions plus printing.

A job computes first and writes its folder last, so a folder that cannot be written
costs no results: the job keeps the error (`save_error`) for the caller to raise after
printing what was computed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnncli import gradcheck as gc
from rnncli import passes, report, samples
from rnncli.config import Config, check_memory, to_dict
from rnncli.errors import InputError
from rnncli.runs import Run, check_out
from rnncli.runs.names import ARRAYS_NPZ, GRADCHECK_JSON
from rnncli.runs.query import params_record, source


def given_params(
    cfg: Config, path: Path | None, out: Path = Path("outputs")
) -> tuple[dict[str, np.ndarray] | None, dict[str, Any]]:
    """The parameters of --params FILE for the config's model (every shape checked), and
    what run.json records of them."""
    if path is None:
        return None, {}
    from rnncli import weights

    path = source(path, out, "--params")
    d, layers = cfg.dims, cfg.model.layers
    D = passes.directions(cfg)
    named = weights.named_for(path, cfg.cell, d.n_x, d.n_a, d.n_y, cfg.dtype, layers, D)
    return named, params_record(path)


@dataclass
class Kept:
    """Where a job's results were kept: the run folder, or why it could not be written."""

    run_dir: str | None = None
    error: str | None = None

    def raise_error(self) -> None:
        """After the results are printed: a folder that could not be written is exit 2."""
        if self.error:
            raise InputError(self.error)


def keep(save: Callable[[], Path] | None) -> Kept:
    """Run `save` (which writes a run folder), keeping its folder or the reason it failed."""
    if save is None:
        return Kept()
    try:
        return Kept(str(save()))
    except InputError as err:
        return Kept(None, str(err))


@dataclass
class Saving:
    """Where and how a job writes its run folder (out=None: it writes none)."""

    out: Path | None = Path("outputs")
    argv: Sequence[str] = ()
    flags: Mapping[str, Any] = field(default_factory=dict)
    overrides: Sequence[str] = ()
    record: Mapping[str, Any] = field(default_factory=dict)  # more run.json entries

    def start(self, cfg: Config, command: str, cell: str | None = None) -> Run:
        assert self.out is not None
        return Run.start(
            self.out, command, cell or cfg.cell, to_dict(cfg), list(self.overrides),
            list(self.argv), cfg.seed, dict(self.flags), extra=dict(self.record),
        )  # fmt: skip


# ----------------------------------------------------------------------------- passes


@dataclass
class PassJob:
    """A forward or backward pass, its sampled values and where it was kept."""

    command: str
    cfg: Config
    run: passes.Pass
    values: dict[str, Any]
    kept: Kept

    def groups(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        r = self.run
        return [("input", r.inputs), ("param", r.params), ("output", r.outputs)]

    def to_json(self) -> dict[str, Any]:
        r = self.run
        doc: dict[str, Any] = {
            "command": self.command,
            "config": to_dict(self.cfg),
            "arrays": {n: report.stats(a) for _, g in self.groups() for n, a in g.items()},
            "caches": {name: report.stats(a) for name, a in r.caches.items()},
            "samples": {k: samples.to_jsonable(v) for k, v in self.values.items()},
            "loss": r.loss,
            "run_dir": self.kept.run_dir,
        }
        if r.grads:
            doc["gradients"] = {name: report.stats(g) for name, g in r.grads.items()}
        if r.step_norms is not None:
            doc["da_t_norms"] = r.step_norms.tolist()
        return doc


def sampled(cfg: Config, run: passes.Pass) -> dict[str, Any]:
    """The config's sample expressions (or a deterministic default pick), resolved."""
    if cfg.samples:
        exprs = list(cfg.samples)
    elif run.grads:
        exprs = samples.default_samples({}, per_array=2, seed=cfg.seed, gradients=run.grads)
    else:
        exprs = samples.default_samples(run.outputs, per_array=2, seed=cfg.seed)
    lookup = run.lookup()
    return {e: samples.resolve(e, lookup, run.grads) for e in exprs}


def pass_job(
    command: str, cfg: Config, params: Path | None = None, saving: Saving | None = None
) -> PassJob:
    """``rnncli forward`` (command "forward") or ``backward``: run the pass at `cfg` (at
    the parameters of `params` if given), resolve the sample expressions, keep the arrays
    in a run folder under ``saving.out``."""
    saving = saving or Saving(out=None)
    check_memory(cfg)
    if saving.out is not None:
        check_out(saving.out)
    given, record = given_params(cfg, params, saving.out or Path("outputs"))
    if command == "forward":
        run = passes.forward_only(passes.forward(cfg, given))
    else:
        run = passes.backward(cfg, given)
    values = sampled(cfg, run)  # may refuse a bad expression: before anything is written

    def save() -> Path:
        saving.record = {**saving.record, **record}
        with saving.start(cfg, command) as folder:
            folder.save_arrays(ARRAYS_NPZ, run.arrays())
            folder.finish("completed", loss=run.loss)
            return folder.path

    return PassJob(command, cfg, run, values, keep(None if saving.out is None else save))


# ----------------------------------------------------------------------------- gradcheck


@dataclass
class GradcheckJob:
    """A gradcheck's report and where it was kept."""

    cfg: Config
    result: Any  # rnncli.gradcheck.Report
    kept: Kept

    def to_json(self) -> dict[str, Any]:
        return {**self.result.to_json(), "config": to_dict(self.cfg), "run_dir": self.kept.run_dir}

    def failure_line(self) -> str:
        """What failed, in one line (at most six names)."""
        result = self.result
        names = ", ".join(f"{r.cell} {r.level} {r.name}" for r in result.failures()[:6])
        more = f" and {result.failed - 6} more" if result.failed > 6 else ""
        return f"gradcheck failed: {names}{more}"

    def __repr__(self) -> str:
        r = self.result
        verdict = "ok" if r.ok else self.failure_line()
        kept = f", run folder {self.kept.run_dir}" if self.kept.run_dir else ""
        return f"GradcheckJob({verdict}: {r.passed} passed, {r.failed} failed{kept})"

    def _repr_html_(self) -> str:
        from rnncli import displays

        keys = ["cell", "level", "loss", "name", "mode", "rel_error", "passed", "note"]
        rows = [[getattr(row, k) for k in keys] for row in self.result.rows]
        caption = f"gradcheck: {self.result.passed} passed, {self.result.failed} failed"
        return displays.table(keys, rows, caption)


def gradcheck_job(
    cfg: Config,
    cells: str | None = None,
    levels: str | None = None,
    params: Path | None = None,
    saving: Saving | None = None,
    progress: Callable[[str], None] | None = None,
) -> GradcheckJob:
    """``rnncli gradcheck``: check every gradient of `cells` at `levels` (comma lists,
    default all), at the parameters of `params` if given (one cell), keep the report."""
    saving = saving or Saving(out=None)
    if saving.out is not None:
        check_out(saving.out)
    record: dict[str, Any] = {}
    given = None
    if params is not None:
        if cells is not None and "," in cells:
            raise InputError("--params holds one model's parameters: give one --cell")
        if cells is not None:
            cfg = cfg.model_copy(update={"cell": cells})
        cells = cfg.cell
        given, record = given_params(cfg, params, saving.out or Path("outputs"))
    result = gc.run_gradcheck(cfg, cells=cells, levels=levels, progress=progress, given=given)
    doc = result.to_json()

    def save() -> Path:
        saving.record = {**saving.record, **record}
        with saving.start(cfg, "gradcheck", cells or "all") as run:
            run.write_json(GRADCHECK_JSON, doc)
            status = "completed" if result.ok else "failed"
            run.finish(status, passed=result.passed, failed=result.failed)
            return run.path

    return GradcheckJob(cfg, result, keep(None if saving.out is None else save))
