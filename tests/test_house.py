"""The shape of the code: a thin, lazily loaded command layer, and a package whose
import costs nothing it does not use."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import typer

from rnncli.cli import COMMANDS, app


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def test_each_command_is_listed_with_its_own_description():
    group = typer.main.get_command(app)
    ctx = click.Context(group, info_name="rnncli")
    for name, (_, text) in COMMANDS.items():
        command = group.get_command(ctx, name)
        assert command is not None and command.name == name
        assert _first_paragraph(command.help or "") == text, name


def test_every_registered_command_is_in_the_table():
    import importlib
    import pkgutil

    import rnncli.commands

    defined = set()
    for info in pkgutil.iter_modules(rnncli.commands.__path__):
        module = importlib.import_module(f"rnncli.commands.{info.name}")
        if hasattr(module, "app"):
            defined |= set(typer.main.get_group(module.app).commands)
    assert defined == set(COMMANDS)


def _loaded(code: str) -> dict:
    probe = (
        "import sys, json\n" + code + "\n"
        "mods = sorted(m for m in sys.modules if m.startswith('rnncli'))\n"
        "print(json.dumps({'rnncli': mods, 'numpy': 'numpy' in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_rnncli_loads_only_the_package():
    loaded = _loaded("import rnncli")
    assert loaded == {"rnncli": ["rnncli"], "numpy": False}


def test_help_loads_no_command():
    code = (
        "import contextlib, io\n"
        "from rnncli import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    cli.app(['--help'], standalone_mode=False)\n"
    )
    loaded = _loaded(code)
    assert loaded == {"rnncli": ["rnncli", "rnncli.cli"], "numpy": False}


def test_public_names_load_on_first_use():
    import rnncli

    assert callable(rnncli.lstm_forward) and callable(rnncli.train)
    assert set(rnncli.__all__) <= set(dir(rnncli))
    try:
        rnncli.no_such_name  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:  # pragma: no cover
        raise AssertionError("an unknown name must raise AttributeError")


def test_all_lists_exactly_the_lazy_names():
    import rnncli

    assert set(rnncli.__all__) == {"__version__", *rnncli._NAMES}


def test_every_module_imports_first():
    """Each module imports on its own, first, in a fresh package (an import cycle that
    only bites in one order shows here)."""
    probe = (
        "import importlib, pkgutil, sys, rnncli\n"
        "names = [m.name for m in pkgutil.walk_packages(rnncli.__path__, 'rnncli.')\n"
        "         if not m.name.endswith('__main__')]\n"
        "bad = []\n"
        "for name in names:\n"
        "    for m in [m for m in sys.modules if m.startswith('rnncli')]:\n"
        "        del sys.modules[m]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as err:\n"
        "        if 'numba' not in str(err) and 'torch' not in str(err):\n"
        "            bad.append(f'{name}: {err}')\n"
        "print('\\n'.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", done.stdout


# ----------------------------------------------------------------------------- layers

#: The layers, lowest first: a module imports from its own layer or below. The pipeline
#: reads upwards: config and cells, the engine, the tasks, what trains and checks and
#: keeps runs, the Python API, the commands.
LAYERS = [
    ["errors", "hashing", "cachedir", "activations", "schemas", "workspace", "runs.files", "",
     "callable", "displays"],
    ["config", "cells", "params", "notebook", "seed_cells", "samples", "report", "plot",
     "runs", "runs.folder", "engine.layout", "tasks.spec", "tasks.registry"],
    ["engine", "loss", "reference", "passes"],
    ["tasks"],
    ["gradcheck", "training", "check", "inspect", "bench", "sweep", "jobs", "weights",
     "runs.store", "runs.compare", "runs.query", "runs.mlflow_export", "model_card",
     "onnx_export"],
    ["api"],
    ["commands", "cli", "completion", "__main__"],
]  # fmt: skip
#: Upward edges that are the design: the registry imports the built-in tasks, its
#: plugins, on the first question asked of it.
ALLOWED_UP = {("rnncli.tasks.registry", "rnncli.tasks.builtin")}


def _import_graph() -> dict[str, set[str]]:
    """Module -> the rnncli modules it imports, at any level, outside TYPE_CHECKING."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (root / "rnncli").rglob("*.py")}  # fmt: skip
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guards = [n for n in ast.walk(tree) if isinstance(n, ast.If)
                  and "TYPE_CHECKING" in ast.unparse(n.test)]  # fmt: skip
        hidden = {id(n) for guard in guards for n in ast.walk(guard)}
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in hidden:
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnncli"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in files else str(node.module))
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("rnncli")}
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def _layer(module: str) -> int:
    name = module.removeprefix("rnncli").removeprefix(".")
    best = (-1, -1)
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if name == prefix or name.startswith(prefix + ".") and prefix:
                best = max(best, (len(prefix), i))
    assert best[1] >= 0, f"{module} is in no layer"
    return best[1]


def test_no_module_imports_a_layer_above_it():
    graph = _import_graph()
    up = [(a, b) for a, deps in graph.items() for b in deps
          if _layer(b) > _layer(a) and (a, b) not in ALLOWED_UP]  # fmt: skip
    assert up == []


def test_no_import_cycles():
    graph = _import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                cycles.append(sorted(part))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []
