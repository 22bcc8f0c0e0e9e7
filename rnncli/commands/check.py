"""``rnncli check``: a learner's own implementation of the notebook's functions, checked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

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
    path: Annotated[Path, typer.Argument(help="Your .py file or .ipynb notebook.")],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="key=value overrides, e.g. check.timeout=5.", show_default=False),
    ] = None,
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

    \b
    Examples:
      rnncli check my_rnn.py
      rnncli check Building_a_RNN_Step_by_Step.ipynb
      rnncli check my_rnn.py --only lstm_backward --json
      rnncli check hw.ipynb --require notebook --gradescope-out results.json
    """
    if json_out and fmt not in ("table", "json"):
        raise InputError(f"--json and --format {fmt} ask for two outputs: give one")
    fmt = "json" if json_out else fmt
    if fmt not in ("table", "json", "gradescope"):
        raise InputError(f"--format {fmt!r}: expected table, json or gradescope")
    if keep_source and no_save:
        raise InputError("--keep-source keeps the file in the run folder: drop --no-save")
    given = flags(**{"check.timeout": timeout, "check.memory": memory})
    cfg = load_config(config, given, overrides or [])
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
            result, out, sys.argv, to_dict(cfg), overrides or [], cfg.seed, keep_source
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
            err_console.print(f"run folder: {run_dir}")
    if not result.ok:
        raise CheckFailed(result.failure_line())
