"""What ``rnncli cells`` shows: every built-in and registered cell, or the named ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rnncli.cells import BUILTIN, SHIPPED, canonical, get, registered
from rnncli.cells.spec import CellSpec
from rnncli.errors import CheckFailed, InputError


def describe(spec: CellSpec, n_x: int, n_a: int) -> dict[str, Any]:
    """A cell's facts as plain data, with parameter shapes for (n_x, n_a)."""
    return {
        "name": spec.name,
        "label": spec.label,
        "kind": spec.source.get("kind", "builtin"),
        "states": list(spec.states),
        "parameters": {k: list(v) for k, v in spec.shapes(n_x, n_a).items()},
        "output": spec.output,
        "gates": [g.name for g in spec.gates],
        "source": dict(spec.source),
    }


def list_cells(names: Sequence[str] | None, n_x: int, n_a: int) -> list[dict[str, Any]]:
    """The built-in cells and the registered ones (entry points), or just `names`. A
    registered cell that fails to load is listed with its error instead of its facts."""
    if names:
        return [describe(get(canonical(n)), n_x, n_a) for n in names]
    out = [describe(spec, n_x, n_a) for spec in BUILTIN.values()]
    out += [describe(get(name), n_x, n_a) for name in SHIPPED]
    for name, entry in sorted(registered().items()):
        try:
            out.append(describe(get(name), n_x, n_a))
        except (InputError, CheckFailed) as exc:  # one broken plugin must not hide the others
            out.append({"name": name, "kind": "entry-point", "value": entry.value,
                        "error": " ".join(str(exc).split())})  # fmt: skip
    return out


def render(rows: list[dict[str, Any]], n_x: int, n_a: int, console: Any) -> None:
    """One table row per cell: name, kind, states, parameters and their shapes, gates."""
    from rnncli.report import Col, fit_table

    cols = [Col("cell"), Col("kind", priority=2), Col("states", priority=1),
            Col("parameters", wrap=True, min_width=24), Col("gates", priority=3)]  # fmt: skip
    body = []
    for row in rows:
        if "error" in row:
            body.append([row["name"], row["kind"], "", row["error"], ""])
            continue
        params = " ".join(f"{k}{tuple(v)}".replace(" ", "") for k, v in row["parameters"].items())
        body.append([row["label"], row["kind"], ", ".join(row["states"]), params,
                     ", ".join(row["gates"]) or "-"])  # fmt: skip
    title = f"cells (parameter shapes for n_x={n_x}, n_a={n_a})"
    console.print(fit_table(title, cols, body, console.width))
