"""``rnncli check``: a learner's own implementation of the notebook's functions, checked."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from rnncli import check as ck
from rnncli import report
from rnncli.check.report import gradescope_error
from rnncli.commands.common import (
    ConfigOpt,
    JsonOpt,
    NoSaveOpt,
    OutOpt,
    QuietOpt,
    ShowOpt,
    VerboseOpt,
    command_app,
    emit_json,
    flags,
    guard,
    print_config,
    status,
)
from rnncli.config import config_view, load_config, to_dict
from rnncli.errors import CheckFailed, InputError

app = command_app()


@app.command()
@guard
def check(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH... [KEY=VALUE]...",
            help="Your .py file or .ipynb notebook; or a class: folders and files. Then "
            "key=value overrides, e.g. check.timeout=5.",
            show_default=False,
        ),
    ],
    config: ConfigOpt = None,
    only: Annotated[
        str | None,
        typer.Option("--only", help="Check only these functions (comma list).", show_default=False),
    ] = None,
    require: Annotated[
        str | None,
        typer.Option(
            "--require",
            help="Fail if these are missing (comma list; 'notebook' = the eight).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="table, json, or gradescope (Gradescope's results.json).",
            metavar="table|json|gradescope",
        ),
    ] = "table",
    gradescope_out: Annotated[
        Path | None,
        typer.Option(
            "--gradescope-out",
            help="Also write Gradescope's results.json here.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds per function (check.timeout, default 10).",
            show_default=False,
        ),
    ] = None,
    memory: Annotated[
        int | None,
        typer.Option(
            "--memory", help="Memory cap in MiB (check.memory, default 2048).", show_default=False
        ),
    ] = None,
    keep_source: Annotated[
        bool, typer.Option("--keep-source", help="Keep a copy of the file in the run folder.")
    ] = False,
    class_dir: Annotated[
        Path | None,
        typer.Option(
            "--class-dir",
            help="A class: keep (and resume) its results in this folder, not a new one "
            "under --out.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="A class: its folder's name.", show_default=False),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", help="A class: checks at a time (default: the cores).",
            show_default=False,
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask", help="A class: check on a Dask scheduler, e.g. tcp://127.0.0.1:8786.",
            show_default=False,
        ),
    ] = None,
    out: OutOpt = Path("outputs"),
    no_save: NoSaveOpt = False,
    show_config: ShowOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Check your own implementation of the notebook's functions.

    Finds the notebook's functions (rnn_cell_forward, rnn_forward,
    rnn_cell_backward, rnn_backward, lstm_cell_forward, lstm_forward,
    lstm_cell_backward, lstm_backward; also gru_*) in a .py file or a
    .ipynb notebook (read as JSON: no Jupyter needed), and checks each: the
    returned structure, shapes and dtypes; whole arrays on the notebook's
    test cells and on fresh shapes; a backward against finite differences
    of your own forward, and with zero, doubled and partial upstreams. A
    failing function gets a hint: what is most likely wrong. Exit 1 if a
    function that is there fails (or a --require'd one is missing).

    Only definitions run: imports, def, class, and assignments of literal
    values. Test code (np.random.seed(1) ... print(...)), IPython magics
    and shell lines are skipped. Checking your code means running it: it
    runs in a child process, with a time limit per function and a memory
    cap, but otherwise with your user's rights.

    A class: give a folder, or many files. Each submission is checked
    as above, several at a time (--workers, or a Dask cluster with
    --dask), into a class folder (outputs/<date>/<time>-check-class-<name>/,
    or --class-dir DIR) that keeps each result by the file's hash: run it
    again with the same --class-dir and only new or changed files are
    checked. It writes report.txt, report.html, gradebook.csv,
    gradebook.json, class.json and gradescope/<submission>/results.json.

    \b
    Examples:
      rnncli check my_rnn.py
      rnncli check submissions/ --class-dir grading/hw3
      rnncli check Building_a_RNN_Step_by_Step.ipynb
      rnncli check my_rnn.py --only lstm_backward --json
      rnncli check hw.ipynb --require notebook --gradescope-out results.json
    """
    paths, overrides = split_args(args)
    if len(paths) != 1 or Path(paths[0]).is_dir() or class_dir or workers or dask:
        given = flags(**{"check.timeout": timeout, "check.memory": memory})
        cfg = load_config(config, given, overrides)
        if show_config:
            return print_config(config_view(cfg, "check"), json_out)
        refuse = {"--no-save": no_save, "--keep-source": keep_source,
                  "--gradescope-out": gradescope_out is not None,
                  f"--format {fmt}": fmt not in ("table", "json")}  # fmt: skip
        return check_class(
            paths, overrides, cfg, [k for k, v in refuse.items() if v],
            ClassOptions(only, require, out, class_dir, name, workers, dask),
            json_out or fmt == "json", quiet,
        )
    path = Path(paths[0])
    if json_out and fmt not in ("table", "json"):
        raise InputError(f"--json and --format {fmt} ask for two outputs: give one")
    fmt = "json" if json_out else fmt
    if fmt not in ("table", "json", "gradescope"):
        raise InputError(f"--format {fmt!r}: expected table, json or gradescope")
    if keep_source and no_save:
        raise InputError("--keep-source keeps the file in the run folder: drop --no-save")
    given = flags(**{"check.timeout": timeout, "check.memory": memory})
    cfg = load_config(config, given, overrides)
    if show_config:
        return print_config(config_view(cfg, "check"), json_out)
    err_console = report.console(stderr=True)
    try:
        with status(err_console, fmt != "table" or quiet, verbose) as progress:
            result = ck.run_check(
                path, only=only, require=require, timeout=cfg.check.timeout,
                memory_mib=cfg.check.memory, seed=cfg.seed, progress=progress,
                scoring=cfg.check.scoring, weights=cfg.check.weights,
            )  # fmt: skip
    except InputError as err:  # a submission that cannot be checked still gets its results.json
        if gradescope_out is not None:
            ck.write_gradescope(err, gradescope_out)
        if fmt == "json":  # and one document on stdout, so `> results.json` stays valid
            emit_json({"command": "check", "ok": False, "error": str(err)}, "check-error")
        elif fmt == "gradescope":
            emit_json(gradescope_error(str(err)), "gradescope")
        raise
    run_dir = None
    if not no_save:
        folder = ck.save_run(
            result, out, sys.argv, to_dict(cfg), overrides, cfg.seed, keep_source
        )
        run_dir = str(folder)
    if gradescope_out is not None:
        ck.write_gradescope(result, gradescope_out)
    if fmt == "json":
        emit_json({**result.to_json(), "run_dir": run_dir}, "check")
    elif fmt == "gradescope":
        emit_json(ck.gradescope(result), "gradescope")
    else:
        ck.render(result, report.console(), quiet=quiet)
        if run_dir and not quiet:
            err_console.print(f"run folder: {run_dir}", soft_wrap=True,
                              markup=False, highlight=False)
    if not result.ok:
        raise CheckFailed(result.failure_line())


_OVERRIDE = re.compile(r"^[A-Za-z_][\w.-]*=")


def split_args(args: list[str]) -> tuple[list[str], list[str]]:
    """(paths, key=value overrides): an argument that looks like ``key=value`` and is
    not an existing file is an override."""
    paths = [a for a in args if not (_OVERRIDE.match(a) and not Path(a).exists())]
    overrides = [a for a in args if a not in paths]
    if not paths:
        raise InputError("give a .py file, a .ipynb notebook, or a class (folders and files)")
    return paths, overrides


@dataclass
class ClassOptions:
    """What to check of a class, where, and where to keep it."""

    only: str | None
    require: str | None
    out: Path
    class_dir: Path | None
    name: str | None
    workers: int | None
    dask: str | None


def check_class(
    paths: list[str], overrides: list[str], cfg: Any, refused: list[str],
    where: ClassOptions, json_out: bool, quiet: bool,
) -> None:  # fmt: skip
    """A class: check every submission (those not done in its folder), print the class
    report (or the class document)."""
    from rnncli.check import classroom
    from rnncli.check.gradebook import render_class
    from rnncli.runs import read_json

    settings = classroom.settings_of(
        where.only, where.require, cfg.check.timeout, cfg.check.memory, cfg.seed
    )
    err_console = report.console(stderr=True)
    counter = {"n": 0}

    def progress(sub: classroom.Submission, record: dict[str, Any]) -> None:
        counter["n"] += 1
        line = record["check"]["summary"]["text"] if "check" in record else record["error"]
        err_console.print(f"[{counter['n']}] {sub.id}: {line}", markup=False, highlight=False)

    meta = {"config": to_dict(cfg), "overrides": overrides, "seed": cfg.seed}
    result = classroom.check_class(
        paths, settings=settings, meta=meta, out=where.out, class_dir=where.class_dir,
        name=where.name, workers=where.workers, dask=where.dask,
        dask_timeout=float(getattr(cfg.sweep, "dask_timeout", 10.0)), argv=sys.argv,
        progress=None if quiet or json_out else progress, refused=refused,
    )  # fmt: skip
    doc = read_json(result.path / "class.json")
    if json_out:
        emit_json(doc, "check-class")
        return
    render_class(doc, report.console())
    if not quiet:
        err_console.print(f"class folder: {result.path}", markup=False, highlight=False)
