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
