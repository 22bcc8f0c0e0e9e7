"""``rnncli runs``, ``show``, ``compare`` and ``cache``: the runs kept, and the text cache."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from rnncli import plot, report
from rnncli.commands.common import (
    JsonOpt,
    NoSaveOpt,
    OutOpt,
    QuietOpt,
    VerboseOpt,
    YesOpt,
    command_app,
    emit_json,
    guard,
    notice,
    split_list,
    summary_rows,
)
from rnncli.errors import InputError
from rnncli.report import Col, fit_table
from rnncli.runs import compare as cmp
from rnncli.runs import query, store

app = command_app()


@app.command("runs")
@guard
def runs_(
    out: OutOpt = Path("outputs"),
    command: Annotated[
        str | None, typer.Option("--command", help="Only this command's runs.", show_default=False)
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", help="Only this task's runs.", show_default=False)
    ] = None,
    cell: Annotated[
        str | None, typer.Option("--cell", help="Only runs of this cell.", show_default=False)
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only runs with this status (comma list).", show_default=False
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only runs started on or after this date (YYYY-MM-DD)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many rows.")
    ] = None,
    clean: Annotated[
        bool, typer.Option("--clean", help="Remove the runs listed (needs --status).")
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="With --clean: only runs older than e.g. 30d, 12h."),
    ] = None,
    yes: YesOpt = False,
    export_mlflow: Annotated[
        str | None,
        typer.Option(
            "--export-mlflow",
            metavar="URI",
            help="Copy the runs listed into this MLflow tracking store (e.g. "
            "sqlite:///mlflow.db); runs already there are skipped. Needs the [mlflow] extra.",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List past runs, newest first (runs inside sweep folders too); or remove some.

    Reads each run's run.json only. --out names the root (default outputs/) or a sweep
    folder. --clean removes the runs that match, asking first unless --yes; it never
    touches a folder without run.json or a run a live process holds. --export-mlflow
    copies the runs that match into an MLflow store (params, metrics, tags, artifacts).

    \b
    Examples:
      rnncli runs --task reber --status completed
      rnncli runs --clean --status interrupted,diverged --older-than 30d --yes
      rnncli runs --task reber --export-mlflow sqlite:///mlflow.db
    """
    wanted = split_list(status)
    entries = store.scan(out)
    rows = query.select(out, command, task, cell, wanted, since, older_than, entries)
    if clean and export_mlflow is not None:
        raise InputError("--clean and --export-mlflow: one at a time")
    if clean:
        if not wanted:
            raise InputError("--clean needs --status (e.g. --status interrupted,diverged)")
        return _clean(rows, yes)
    rows = rows[:limit] if limit is not None else rows
    if export_mlflow is not None:
        return _export_mlflow([e for e, _ in rows], export_mlflow, json_out, quiet, verbose)
    if json_out:
        return emit_json({"root": str(out), "runs": [r for _, r in rows]}, "runs")
    con = report.console()
    if not rows:
        any_runs = bool(entries)
        con.print(f"no runs under {out}" + (" match" if any_runs else ""), markup=False)
        return None
    taken = [cmp.row(e, out)["path"] for e in entries]
    con.print(cmp.runs_table([r for _, r in rows], con.width, taken))
    return None


def _export_mlflow(entries: list[Any], uri: str, json_out: bool, quiet: bool,
                   verbose: bool) -> None:  # fmt: skip
    from rnncli.runs import mlflow_export

    err = report.console(stderr=True)
    result = mlflow_export.export(entries, uri, notice(err) if verbose and not quiet else None)
    if json_out:
        return emit_json(result.to_json(), "runs-mlflow")
    there = sum(s["reason"] == "already in the store" for s in result.skipped)
    busy = len(result.skipped) - there
    extra = [f"{there} already there"] * bool(there) + [f"{busy} still running"] * bool(busy)
    line = f"exported {len(result.exported)} runs to {uri}"
    report.console().print(line + (f" ({', '.join(extra)})" if extra else ""), markup=False,
                           highlight=False)  # fmt: skip
    return None


def confirm_removal(what: str, yes: bool) -> None:
    """Ask before removing `what` ("3 runs") unless --yes; where nobody can answer (stdin
    not a terminal), refuse with one line instead."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError(f"--clean would remove {what}: add --yes to confirm")
    if not typer.confirm(f"remove these {what}?", default=False):
        raise typer.Exit(1)


def _clean(rows: list[Any], yes: bool) -> None:
    doomed = [(e, r) for e, r in rows if not store.removable(e)]
    kept = len(rows) - len(doomed)
    con = report.console(stderr=True)
    if not doomed:
        con.print("nothing to remove", markup=False)
        return
    for _, r in doomed:
        con.print(f"  {r['path']}  ({r['status']})", markup=False, highlight=False)
    confirm_removal(f"{len(doomed)} {_runs(len(doomed))}", yes)
    removed, busy = store.remove_runs([e for e, _ in doomed])  # each under its lock
    kept += len(busy)
    skipped = f" ({kept} in use, left alone)" if kept else ""
    con.print(f"removed {len(removed)} {_runs(len(removed))}{skipped}", markup=False)


def _runs(n: int) -> str:
    return "run" if n == 1 else "runs"


@app.command()
@guard
def show(
    run_dir: Annotated[
        str, typer.Argument(metavar="RUN_DIR", help="A run folder, latest, or a unique start.")
    ],
    out: OutOpt = Path("outputs"),
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """One run: its config (the keys not at their defaults), summary, files and, for a
    training run, the curve in the terminal.

    \b
    Examples:
      rnncli show latest
    """
    view = query.describe(store.resolve(run_dir, out))
    if json_out:
        return emit_json(view.to_json(), "show")
    con, info, w = report.console(), view.info, report.console().width
    head = {k: info.get(k) for k in ("command", "status", "task", "cell", "name", "start_time")
            if info.get(k) is not None}  # fmt: skip
    for key, label in (("duration_s", "running (all sessions)"), ("elapsed_s", "since start")):
        if isinstance(info.get(key), (int, float)):
            head[label] = cmp.duration_text(info[key])
    head["run folder"] = str(view.path)
    report.print_key_values(con, "run", head)
    changes = view.config_changes or {"-": "-"}
    con.print(report.key_values("config (not at the defaults)", changes, w))
    summary = info.get("summary")
    if isinstance(summary, dict):
        report.print_key_values(con, "summary", summary_rows(summary))
    files = {n: f"{size:,} bytes" for n, size in view.files.items()}
    con.print(report.key_values("files", files, w))
    metric = str(summary.get("metric") or "") if isinstance(summary, dict) else ""
    for key in ("loss", metric) if view.metrics else ():
        values = [r[key] for r in view.metrics if key and isinstance(r.get(key), (int, float))]
        if values:
            con.print(f"{key} over {len(values)} evaluations", markup=False)
            con.print(plot.text_plot(values, width=min(60, con.width - 12)), markup=False)
    return None


@app.command()
@guard
def compare(
    run_dirs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN_DIR... | SWEEP_DIR",
            help="Runs to compare (folders, latest, unique starts), or one sweep folder.",
        ),
    ],
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric", help="The metric to plot (default: the task's).", show_default=False
        ),
    ] = None,
    x: Annotated[
        str,
        typer.Option(
            "--x", help="The x axis: sequences, steps or wall_s.", metavar="sequences|steps|wall_s"
        ),
    ] = "sequences",
    out: OutOpt = Path("outputs"),
    no_save: NoSaveOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Runs side by side: the config keys that differ, the final metrics, and
    compare.png with the curves overlaid (for a sweep: mean and spread over seeds per
    grid point, written into the sweep folder).

    \b
    Examples:
      rnncli compare outputs/2026-11-30/10-00-00-train-reber-lstm latest
      rnncli compare 10-00-00-reber-cells --metric outer_acc
    """
    if x not in cmp.X_AXES:
        raise InputError(f"--x {x!r}: expected one of {', '.join(cmp.X_AXES)}")
    folders = [store.resolve(d, out) for d in run_dirs]
    result = query.compare(folders, metric, x, None if no_save else out, sys.argv)
    if json_out:
        return emit_json(result.to_json(), "compare")
    con = report.console()
    if result.groups:  # a sweep: its grid points, each over its seeds
        con.print(f"sweep: {folders[0]}", markup=False, highlight=False, soft_wrap=True)
    for lab, d in [] if result.groups else zip(result.labels, result.dirs, strict=True):
        con.print(f"{lab} = {d}", markup=False, highlight=False, soft_wrap=True)
    diff = result.differences
    con.print(cmp.diff_table(result.labels, diff, con.width) if diff else "same config",
              markup=False)  # fmt: skip
    if result.groups:  # a sweep: its grid points over their seeds
        con.print(cmp.groups_table(result.metric, result.groups, con.width))
    else:
        con.print(cmp.finals_table(result.labels, result.finals, con.width))
    err = report.console(stderr=True)
    if result.figure and not quiet:
        err.print(f"figure: {result.figure}", markup=False, highlight=False, soft_wrap=True)
    elif result.figure_wanted and not plot.have_matplotlib():
        err.print("matplotlib is not installed (pip install 'rnncli[plot]'): no compare.png",
                  markup=False)  # fmt: skip
    return None


@app.command()
@guard
def cache(
    clean: Annotated[
        bool, typer.Option("--clean", help="Remove the entries listed (asks unless --yes).")
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Only entries unused for longer than e.g. 30d, 12h."),
    ] = None,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """The cache: the encoded texts that text runs memory-map and the compiled kernels,
    most recently used first; or remove some.

    The cache is $RNNCLI_CACHE, else $XDG_CACHE_HOME/rnncli, else ~/.cache/rnncli; the
    compiled kernels (numba's machine code) are its numba/ folder unless NUMBA_CACHE_DIR
    is set. Removing an entry is always safe: the next run on that text encodes it again,
    the next compiled run compiles its kernel again. A run that is reading an entry keeps
    reading it.

    \b
    Examples:
      rnncli cache
      rnncli cache --clean --older-than 30d --yes
    """
    from rnncli import cachedir
    from rnncli.tasks.text import cache as text_cache

    folder = text_cache.text_dir()
    texts = [{**r, "group": "text"} for r in text_cache.listing()]
    rows = texts + cachedir.kernel_listing()
    if older_than is not None:
        age = store.parse_age(older_than).total_seconds()
        rows = [r for r in rows if text_cache.unused_for(r) > age]
    if clean:
        return _clean_cache(rows, yes, lambda r: (cachedir.remove_kernel if r["group"] ==
                            cachedir.KERNELS else text_cache.remove)(r))  # fmt: skip
    if json_out:
        return emit_json({"folder": str(folder), "entries": rows}, "cache")
    _show_cache(rows, folder, cachedir.numba_dir(), older_than is not None)
    return None


def _show_cache(rows: list[dict[str, Any]], folder: Path, kernels: Path, aged: bool) -> None:
    from rnncli.cachedir import KERNELS

    con = report.console()
    for group, where, table in (("text", folder, _cache_table), (KERNELS, kernels, _kernel_table)):
        mine = [r for r in rows if r["group"] == group]
        label = "text cache" if group == "text" else group
        if not mine:
            con.print(f"{label}: nothing in {where}" + (" unused for that long" if aged else ""),
                      markup=False, highlight=False)  # fmt: skip
            continue
        total = sum(r["bytes"] for r in mine)
        n = f"{len(mine)} {'entry' if len(mine) == 1 else 'entries'}"
        con.print(table(mine, con.width, f"{label}: {where} · {n} · {total / 2**20:,.1f} MiB"))


def _kernel_table(rows: list[dict[str, Any]], width: int, title: str) -> Any:
    cols = [Col("kernel"), Col("MiB", "right"), Col("last used", priority=1),
            Col("note", priority=3, wrap=True)]  # fmt: skip
    body = [[r["source"] or r["name"], f"{r['bytes'] / 2**20:,.2f}",
             datetime.fromtimestamp(r["last_used"]).strftime("%Y-%m-%d %H:%M"), r["problem"] or ""]
            for r in rows]  # fmt: skip
    return fit_table(title, cols, body, width)


def _cache_table(rows: list[dict[str, Any]], width: int, title: str) -> Any:
    cols = [Col("entry"), Col("source", priority=2, wrap=True), Col("characters", "right"),
            Col("MiB", "right"), Col("last used", priority=1), Col("note", priority=3,
            wrap=True)]  # fmt: skip
    body = [
        [_short_entry(r["name"]), r["source"] or "-",
         f"{r['characters']:,}" if r["characters"] is not None else "-",
         f"{r['bytes'] / 2**20:,.1f}",
         datetime.fromtimestamp(r["last_used"]).strftime("%Y-%m-%d %H:%M"),
         r["problem"] or ""]
        for r in rows
    ]  # fmt: skip
    return fit_table(title, cols, body, width)


def _short_entry(name: str) -> str:
    """An entry's name as the table shows it: the text's hash cut to 12 digits."""
    sha, _, k = name.rpartition("-k")
    if name.startswith(".") or not sha:
        return name[:16] + ("…" if len(name) > 16 else "")
    return f"{sha[:12]}-k{k}"


def _clean_cache(rows: list[dict[str, Any]], yes: bool, remove: Callable[[Any], None]) -> None:
    doomed = [r for r in rows if r["removable"]]
    con = report.console(stderr=True)
    if not doomed:
        con.print("nothing to remove", markup=False)
        return
    total = sum(r["bytes"] for r in doomed) / 2**20
    for r in doomed:
        con.print(f"  {r['name']}  ({r['source'] or r['problem']})", markup=False,
                  highlight=False)  # fmt: skip
    entries = "cache entry" if len(doomed) == 1 else "cache entries"
    confirm_removal(f"{len(doomed)} {entries} ({total:,.1f} MiB)", yes)
    for r in doomed:
        remove(r)
    kept = len(rows) - len(doomed)
    left = f" ({kept} left alone: a write under way, or not rnncli's)" if kept else ""
    n = len(doomed)
    con.print(f"removed {n} {'entry' if n == 1 else 'entries'}, {total:,.1f} MiB{left}",
              markup=False)  # fmt: skip
