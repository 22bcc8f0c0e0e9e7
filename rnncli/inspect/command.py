"""What ``rnncli inspect`` and ``rnncli report`` do, as library calls: load the models,
choose their data, inspect them, make the files, write them.

    subjects_from_runs(["latest"], root)       trained runs
    subjects_from_config(None, {"cell": "gru"}, ["train.T=50"])   untrained models
    inspections = analyse(subjects, Options())
    files, notices = outputs(inspections, Options())
    save_outputs(subjects, files, root, ...)   RUN_DIR/inspect/ or a new run folder
    run_inspect(runs, overrides, opts, where)  all of these, as ``rnncli inspect``
    write_report(RUN_DIR)                      RUN_DIR/report.html
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnncli import plot
from rnncli.errors import InputError
from rnncli.inspect import figures, html
from rnncli.inspect import run as run_mod
from rnncli.inspect import units as units_mod
from rnncli.inspect.analysis import Inspection, inspect
from rnncli.inspect.run import Subject
from rnncli.runs import Lock, jsonable, to_json, write_bytes_atomic
from rnncli.runs.files import write_error
from rnncli.runs.names import INSPECT_JSON, METRICS_JSONL, REPORT_HTML, SAMPLES_TXT
from rnncli.tasks import registry

PLOT_HINT = "pip install 'rnncli[plot]'"


@dataclass
class Options:
    """How to inspect (the command's options)."""

    text: str | None = None  # text models: this text
    data: Path | None = None  # text models: the start of this file
    length: int = run_mod.TEXT_LENGTH  # characters of a passage
    batch: int = run_mod.BATCH  # sequences of a task batch
    batch_seed: int = run_mod.BATCH_SEED
    find: bool = False  # rank units against features of the text
    unit: str | None = None  # colour the text by this unit ("a:17")
    best: bool = False  # a run's best parameters (best.npz), not the last
    compare: bool = False  # overlay several runs or cells


@dataclass
class Where:
    """What to inspect an untrained model of, and where the files go."""

    out: Path = Path("outputs")
    config: Path | None = None
    flags: dict[str, Any] = field(default_factory=dict)  # cell, seed, task
    params: Path | None = None  # a weights file, run folder or best.npz
    threads: int | None = None
    no_save: bool = False
    argv: Sequence[str] = ()


def subjects_from_runs(
    args: Sequence[str],
    root: Path,
    best: bool = False,
    compare: bool = False,
    config: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    params: Path | None = None,
) -> list[Subject]:
    """The models of the runs named (paths, latest, unique starts of names under
    `root`); `config`, `flags`, `overrides` and `params` are refused (a run keeps its
    own)."""
    from rnncli.runs import store

    given = [n for n, v in (("overrides", overrides), ("--config", config),
                            ("--params", params)) if v]  # fmt: skip
    given += [f"--{k}" for k in (flags or {})]
    if given:
        raise InputError(f"{', '.join(given)}: a run keeps its own config and model; give "
                         "them without RUN_DIR for an untrained model")  # fmt: skip
    if len(args) > 1 and not compare:
        raise InputError(f"{len(args)} runs: give --compare to overlay them")
    if compare and len(args) < 2:
        raise InputError("--compare needs two runs or more")
    which = "best" if best else "last"
    return [run_mod.from_run(store.resolve(a, root, "train").resolve(), which) for a in args]


def subjects_from_config(
    config: Path | None,
    flags: Mapping[str, Any],
    overrides: Sequence[str],
    compare: bool = False,
    best: bool = False,
    data: Path | None = None,
    params: Path | None = None,
) -> list[Subject]:
    """Untrained models, as ``rnncli train`` would initialise them, from a config, the
    flags cell (a comma list with `compare`), seed and task, key=value overrides, and
    `data`, a text file (its vocabulary; it implies the text task, as for train); or one
    model at the parameters of `params` (a weights file or run folder)."""
    from rnncli.config import load_config

    if best:
        raise InputError("--best picks a run's best parameters: give a RUN_DIR")
    cell = flags.get("cell")
    cells = [c.strip() for c in str(cell).split(",")] if cell else [None]
    if len(cells) > 1 and not compare:
        raise InputError(f"--cell {cell}: give --compare to overlay several cells")
    if compare and len(cells) < 2:
        raise InputError("--compare needs two runs or more, or --cell a,b,...")
    if params is not None and compare:
        raise InputError("--params gives one model's parameters: not with --compare")
    task = flags.get("task") or (registry.data_task() if data else None)
    keys = {"seed": flags.get("seed"), "train.task": task,
            "train.data": str(data) if data else None}  # fmt: skip
    return [
        run_mod.from_config(
            load_config(config, {"cell": c, **keys}, overrides, training=True), params
        )
        for c in cells
    ]


def save_outputs(
    subjects: Sequence[Subject],
    files: dict[str, bytes],
    root: Path,
    compare: bool,
    overrides: Sequence[str],
    flags: Mapping[str, Any],
    argv: Sequence[str],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write the files: into RUN_DIR/inspect/ for one run, else into a new run folder
    under `root` (``<date>/<time>-inspect-<cell>`` or ``-inspect-compare``), with `extra`
    in its run.json. Returns it."""
    from rnncli.config import to_dict
    from rnncli.runs import Run

    first = subjects[0]
    if first.run_dir is not None and not compare:
        folder = first.run_dir / "inspect"
        save(folder, files)
        return folder
    untrained = first.run_dir is None
    with Run.start(
        root, "inspect", first.cfg.cell, to_dict(first.cfg) if untrained else {}, overrides,
        argv, first.cfg.seed, dict(flags), what=["compare" if compare else first.p.spec.label],
        extra={"inspected": [s.label for s in subjects], **(extra or {})},
    ) as run:  # fmt: skip
        save(run.path, files, lock=False)
        run.finish("completed")
    return run.path


def chosen_unit(subject: Subject, text: str | None) -> tuple[str, int] | None:
    """--unit as (state, unit), checked against the model."""
    if text is None:
        return None
    if not subject.is_text:
        kind = subject.task.get("task")
        raise InputError(f"--unit colours a text; {subject.label} is a {kind} model")
    try:
        return units_mod.parse_unit(text, subject.p.spec.states, subject.p.n_a)
    except ValueError as err:
        raise InputError(str(err)) from None


def analyse(subjects: Sequence[Subject], opts: Options) -> list[Inspection]:
    """Each subject on its sample (every one checked before any is run)."""
    if len(subjects) > 1 and (opts.find or opts.unit):
        raise InputError("--find and --unit look at one model; drop --compare or them")
    if opts.find and not subjects[0].is_text:
        raise InputError(f"--find ranks units against a text; {subjects[0].label} is a "
                         f"{subjects[0].task['task']} model")  # fmt: skip
    chosen_unit(subjects[0], opts.unit)
    samples = [
        run_mod.sample_for(s, opts.text, opts.data, opts.length, opts.batch, opts.batch_seed)
        for s in subjects
    ]
    return [inspect(s, sample) for s, sample in zip(subjects, samples, strict=True)]


def document(inspections: Sequence[Inspection], **extra: Any) -> dict[str, Any]:
    """The JSON document: every number inspect computed."""
    return {"command": "inspect", "inspections": [i.to_json() for i in inspections], **extra}


def outputs(inspections: Sequence[Inspection], opts: Options) -> tuple[dict[str, bytes], list[str]]:
    """The files of an inspection (name -> content) and notices for the user: figures
    (with matplotlib), cells.html (text models), inspect.json."""
    files: dict[str, bytes] = {}
    notices: list[str] = []
    if plot.have_matplotlib():
        files.update(figure_files(inspections))
    else:
        notices.append(f"matplotlib is not installed: no figures ({PLOT_HINT} for "
                       "gradflow.png, gates.png and states.png)")  # fmt: skip
    if len(inspections) == 1 and inspections[0].sample.text is not None:
        ins = inspections[0]
        unit = chosen_unit(ins.subject, opts.unit)
        files["cells.html"] = html.cells_page(ins, unit).encode("utf-8")
    files[INSPECT_JSON] = (to_json(jsonable(document(inspections))) + "\n").encode("utf-8")
    return files, notices


def figure_files(inspections: Sequence[Inspection]) -> dict[str, bytes]:
    """gradflow.png (every model), and for one model gates.png and states.png."""
    from rnncli.inspect.show import labels

    names = labels(inspections) if len(inspections) > 1 else [inspections[0].subject.cell]
    flows = [(n, i.flow) for n, i in zip(names, inspections, strict=True)]
    sources = {i.sample.source for i in inspections}
    title = sources.pop() if len(sources) == 1 else "inspect --compare"
    out = {"gradflow.png": figures.gradflow_png(flows, title)}
    if len(inspections) == 1:
        ins = inspections[0]
        if ins.gates:
            out["gates.png"] = figures.gates_png(ins.gates, ins.subject.label)
        text = ins.sample.text
        out["states.png"] = figures.states_png(ins.sequence_states(), ins.subject.label, text)
    return out


def save(folder: Path, files: dict[str, bytes], lock: bool = True) -> list[Path]:
    """Write the files into `folder` (created), each atomically, holding its lock
    (`lock`; False: the caller holds it, as a new run folder's `Run` does)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc) from None
    held = Lock.acquire(folder, "inspect folder") if lock else None
    try:
        return [write_bytes_atomic(folder / name, data) for name, data in files.items()]
    finally:
        if held is not None:
            held.release()


# ----------------------------------------------------------------------------- report


def write_report(run_dir: Path, best: bool = False) -> Path:
    """RUN_DIR/report.html: config, metrics, loss curves, the inspect figures and
    tables, samples; one self-contained file. A run inspect cannot read (a stacked
    model, a text run whose file is gone) gets its report without the inspect part,
    saying why."""
    from rnncli.runs import Run, read_jsonl
    from rnncli.weights import run_model

    cfg, task = run_model(run_dir)
    info = Run.load_json(run_dir)
    ins: Inspection | None = None
    why_not = ""
    try:
        ins = analyse([run_mod.from_run(run_dir, "best" if best else "last")], Options())[0]
    except InputError as err:
        why_not = str(err)
    history = read_jsonl(run_dir / METRICS_JSONL) if (run_dir / METRICS_JSONL).exists() else []
    loss_png = None
    figs: dict[str, bytes] = {}
    if plot.have_matplotlib():
        figs = figure_files([ins]) if ins is not None else {}
        if history:
            metric = info.get("summary", {}).get("metric") or ""
            spec = registry.find(task.get("task"))
            text = spec is not None and spec.evaluation == "characters"  # per-character losses
            unit = "nats per character" if text else "per sequence"
            loss_png = plot.loss_png(history, metric, unit, text)
    path = run_dir / SAMPLES_TXT
    samples = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    config_yaml = _train_sections(run_dir)
    page = html.report_page(
        str(run_dir), info, cfg, task, config_yaml, history, loss_png, ins, figs, samples,
        why_not,
    )  # fmt: skip
    return write_bytes_atomic(run_dir / REPORT_HTML, page.encode("utf-8"))


def _train_sections(run_dir: Path) -> str:
    """The run's config.yaml, the sections training reads only (no dims, gradcheck...)."""
    import yaml

    from rnncli.config import config_view
    from rnncli.runs.compare import load_config_dict

    view = config_view(load_config_dict(run_dir), "train")
    return yaml.safe_dump(view, sort_keys=False, default_flow_style=False)


@dataclass
class Inspected:
    """What ``rnncli inspect`` did: the inspections, the files written (names), the
    notices to print, and the folder they went to (None with no_save)."""

    subjects: list[Subject]
    inspections: list[Inspection]
    files: list[str]
    notices: list[str]
    folder: Path | None

    def to_json(self) -> dict[str, Any]:
        out_dir = str(self.folder) if self.folder else None
        return document(self.inspections, files=self.files, out_dir=out_dir)


def run_inspect(
    runs: Sequence[str],
    overrides: Sequence[str],
    opts: Options,
    where: Where,
) -> Inspected:
    """Inspect trained runs (`runs`: folders, latest, unique starts) or, without any, an
    untrained model of the config; write the files (unless ``where.no_save``)."""
    from rnncli import engine
    from rnncli.runs.query import params_record, source

    params = where.params
    if runs:
        subjects = subjects_from_runs(runs, where.out, opts.best, opts.compare, where.config,
                                      where.flags, overrides, params)  # fmt: skip
    else:
        params = source(params, where.out, "--params") if params is not None else None
        subjects = subjects_from_config(where.config, where.flags, overrides, opts.compare,
                                        opts.best, opts.data, params)  # fmt: skip
    n_a = max(s.p.n_a for s in subjects)
    with engine.limit_threads(engine.threads_for(where.threads, n_a)):
        inspections = analyse(subjects, opts)
    files, notices = outputs(inspections, opts)
    folder = None
    if not where.no_save:
        extra = params_record(params) if params is not None and not runs else None
        folder = save_outputs(subjects, files, where.out, opts.compare, overrides, where.flags,
                              where.argv, extra)  # fmt: skip
    return Inspected(list(subjects), inspections, sorted(files), notices, folder)
