"""``rnncli export``: a trained run's parameters as a weights file or an ONNX graph other
tools read, with a model card beside it."""

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
            "--format",
            help="safetensors (the [export] extra), npz, or onnx (the [onnx] extra: a graph of "
            "ONNX's RNN/LSTM/GRU operators and the output layer, float32).",
            metavar="safetensors|npz|onnx",
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
    """Write a trained run's parameters as a weights file or ONNX graph other tools read.

    With torch names the file loads into PyTorch: nn.LSTM / nn.RNN / nn.GRU (for the
    torch-gru cell) take the tensors without the fc. prefix, nn.Linear takes fc.weight and
    fc.bias. The notebook's gru computes a different function than nn.GRU and is refused.
    A model read out at the last step (adding) reads h_n of the top layer, forward then
    reverse. The safetensors metadata says what model it is. --format onnx writes the
    whole model (rnn, lstm, gru, torch-gru; stacked, bidirectional) with its output
    layer as the task reads it: logits (and probs for a softmax task) at every step or
    at the last. Every export writes a model card beside the file (STEM_card.json).

    \b
    Examples:
      rnncli export latest
      rnncli export latest --format onnx
      rnncli export RUN_DIR --format npz --names notebook --out weights.npz
    """
    folder = store.resolve(run_dir, runs, "train")
    done = weights.export(folder, fmt, names, out, "best" if best else "last")
    if json_out:
        return emit_json({"path": str(done.path), "format": fmt, "names": done.names,
                          "card": str(done.card), "notes": list(done.notes)}, "export")  # fmt: skip
    if not quiet:
        err = report.console(stderr=True)
        for line in (*done.notes, f"wrote {done.path}", f"wrote {done.card}"):
            err.print(line, markup=False, highlight=False, soft_wrap=True)
    return None
