"""``rnncli export``: a trained run's parameters as a weights file other tools read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnncli import report, weights
from rnncli.commands.common import JsonOpt, QuietOpt, VerboseOpt, command_app, emit_json, guard
from rnncli.runs import store

app = command_app()


@app.command()
@guard
def export(
    run_dir: Annotated[
        str,
        typer.Argument(metavar="RUN_DIR", help="A train run folder, latest, or a unique start."),
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="safetensors (the [export] extra) or npz.", metavar="safetensors|npz"
        ),
    ] = "safetensors",
    names: Annotated[
        str | None,
        typer.Option(
            "--names",
            help="torch (nn.RNN/LSTM/GRU + nn.Linear state-dict names, PyTorch's gate order) "
            "or notebook (Wf, bf, ..., Wy, by). Default: torch where a PyTorch layer computes "
            "the cell, else notebook.",
            show_default=False,
            metavar="torch|notebook",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="The file to write (default: RUN_DIR/model.FORMAT).", show_default=False
        ),
    ] = None,
    best: Annotated[bool, typer.Option("--best", help="Export best.npz, not the last.")] = False,
    runs: Annotated[Path, typer.Option("--runs", help="Where RUN_DIR names are looked up.")] = Path(
        "outputs"
    ),
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write a trained run's parameters as a weights file other tools read.

    With torch names the file loads into PyTorch: nn.LSTM / nn.RNN / nn.GRU (for the
    torch-gru cell) take the tensors without the fc. prefix, nn.Linear takes fc.weight and
    fc.bias. The notebook's gru computes a different function than nn.GRU and is refused.
    A model read out at the last step (adding) reads h_n of the top layer, forward then
    reverse. The safetensors metadata says what model it is.

    \b
    Examples:
      rnncli export latest
      rnncli export RUN_DIR --format npz --names notebook --out weights.npz
    """
    folder = store.resolve(run_dir, runs, "train")
    path, names = weights.export(folder, fmt, names, out, "best" if best else "last")
    if json_out:
        return emit_json({"path": str(path), "format": fmt, "names": names}, "export")
    if not quiet:
        report.console(stderr=True).print(f"wrote {path}", markup=False, highlight=False,
                                          soft_wrap=True)
    return None
