"""``rnncli cells``: the cells there are, with their states and parameter shapes."""

from __future__ import annotations

from typing import Annotated

import typer

from rnncli import report
from rnncli.cells import listing
from rnncli.commands.common import JsonOpt, QuietOpt, VerboseOpt, command_app, emit_json, guard

app = command_app()


@app.command()
@guard
def cells(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[CELL]...",
            help="Cells to show (default: built-in and registered).",
            show_default=False,
        ),
    ] = None,
    n_x: Annotated[int, typer.Option("--n-x", min=1, help="Input size for the shapes.")] = 3,
    n_a: Annotated[int, typer.Option("--n-a", min=1, help="Hidden size for the shapes.")] = 5,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List the cells: built-in, registered by installed packages (entry-point group
    rnncli.cells), or the ones named, with their states and parameter shapes.

    A cell of your own is a class in a file or module (see rnncli/cells/protocol.py);
    naming one loads it, which runs its code.

    \b
    Examples:
      rnncli cells
      rnncli cells examples/cells/mgu.py:MGU --n-a 16
    """
    rows = listing.list_cells(names, n_x, n_a)
    if json_out:
        return emit_json({"n_x": n_x, "n_a": n_a, "cells": rows}, "cells")
    listing.render(rows, n_x, n_a, report.console())
    return None
