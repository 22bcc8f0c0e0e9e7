"""The command reference, generated from the command line itself so that help and docs
cannot drift.

As a MkDocs hook (``hooks:`` in mkdocs.yml) it adds ``reference/commands.md`` to the
site at every build, written from ``rnncli.cli.app``: each command's name, summary,
usage, options (with their help and defaults) and its ``--help`` exactly as an 80-column
terminal shows it. Run as a script it prints the page (or writes it: ``python
docs/hooks.py FILE``).

It imports nothing from rnncli but ``rnncli.cli.app``, the command line's entry point.
"""

from __future__ import annotations

import html
import re
import sys
from typing import Any

import click

PAGE = "reference/commands.md"
WIDTH = 80


def _context(cmd: Any, name: str, parent: Any) -> Any:
    """A context for ``cmd`` as the command line makes it (its own and its parent's
    settings, such as ``-h``), at a fixed terminal width."""
    # the command's own Context class: Typer may bring its own copy of Click
    context_class = getattr(cmd, "context_class", click.Context)
    return context_class(
        cmd,
        info_name=name,
        parent=parent,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
        **cmd.context_settings,
    )


def _cell(text: str) -> str:
    """Plain text for one cell of a markdown table: on one line, HTML escaped, and
    Markdown's emphasis, links, code and the table's pipes taken literally."""
    text = html.escape(" ".join(text.split()), quote=False)
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text)


def _code(text: str) -> str:
    """Code for one cell of a markdown table (a pipe inside a code span would end it)."""
    return "<code>" + html.escape(text).replace("|", "&#124;") + "</code>"


def _record(param: Any, ctx: Any) -> tuple[str, str, str]:
    """(name, help, default) of one argument or option, as its ``--help`` line shows
    them (the default taken out of the help's ``[default: ...]``)."""
    record = param.get_help_record(ctx)
    opts = ", ".join(sorted([*param.opts, *param.secondary_opts], key=lambda o: o[:2] == "--"))
    if record is None:
        return (opts if param.param_type_name == "option" else param.name or ""), "", ""
    name, help_text = record
    if param.param_type_name == "option":
        name = opts  # the options themselves; the help line adds a metavar
    default = ""
    extra = re.search(r"\s*\[([^\[\]]*)\]\s*$", help_text)
    if extra:
        kept = []
        for part in extra.group(1).split("; "):
            if part.startswith("default: "):
                default = part.removeprefix("default: ")
            else:
                kept.append(part)
        help_text = help_text[: extra.start()] + (f"  [{'; '.join(kept)}]" if kept else "")
    return name, help_text, default


def _params(cmd: Any, ctx: Any) -> list[str]:
    """A table of the command's arguments and options."""
    rows = []
    for param in cmd.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        name, help_text, default = _record(param, ctx)
        default = _code(default) if default else ""
        rows.append(f"| {_code(name)} | {_cell(help_text)} | {default} |")
    if not rows:
        return []
    return ["| argument or option | what | default |", "|---|---|---|", *rows, ""]


def _section(cmd: Any, name: str, parent: Any, level: int) -> list[str]:
    """The command's section of the page, then its subcommands' (a group's)."""
    ctx = _context(cmd, name, parent)
    title = ctx.command_path
    summary = cmd.get_short_help_str(limit=10_000)
    usage = cmd.get_usage(ctx).removeprefix("Usage: ").strip()
    lines = [
        f"{'#' * level} `{title}`",
        "",
        summary,
        "",
        f"Usage: `{usage}`",
        "",
        *_params(cmd, ctx),
        "```text",
        f"$ {title} --help",
        cmd.get_help(ctx),
        "```",
        "",
    ]
    if hasattr(cmd, "list_commands"):  # a group
        for sub_name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                lines += _section(sub, sub_name, ctx, level)
    return lines


def render() -> str:
    """The command reference page, from the command line as it is now."""
    import typer

    from rnncli.cli import app

    group = typer.main.get_command(app)
    lines = [
        "# Command reference",
        "",
        "Generated from the command line (`rnncli.cli.app`) when this site is built, by",
        "`docs/hooks.py`: each command's `--help` is what an 80-column terminal shows.",
        "Exit codes: 0 ok, 1 a check failed or training diverged, 2 bad usage or input,",
        "130 interrupted (143 for SIGTERM, 129 for SIGHUP).",
        "",
    ]
    lines += _section(group, "rnncli", None, 2)
    return "\n".join(lines).rstrip("\n") + "\n"


def on_files(files: Any, config: Any) -> Any:
    """MkDocs hook: add the generated page to the site's files."""
    from mkdocs.structure.files import File

    existing = files.get_file_from_path(PAGE)
    if existing is not None:  # a stale copy on disk never wins over the command line
        files.remove(existing)
    files.append(File.generated(config, PAGE, content=render()))
    return files


if __name__ == "__main__":
    page = render()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as f:
            f.write(page)
    else:
        sys.stdout.write(page)
