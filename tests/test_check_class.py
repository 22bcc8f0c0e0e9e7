"""rnncli check PATH...: a whole class, checked in parallel, resumably, on a process pool
or a real Dask scheduler and worker; and rnncli.check(globals()) from a notebook.

The class is made from the fixtures of test_check.py (the correct file, the planted bugs,
the course notebook as shipped and fixed), each copy made distinct by a comment (or a
notebook's metadata), so every one is really checked.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rnncli import schemas
from rnncli.check import classroom, run_check
from rnncli.cli import app

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"
SOURCES = sorted(p for p in FIXTURES.iterdir() if p.name != "isolation.py")


def make_class(folder: Path, n: int, sources: list[Path] = SOURCES) -> list[Path]:
    """`n` distinct submissions in `folder`, cycling through `sources`."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(n):
        src = sources[i % len(sources)]
        dest = folder / f"s{i:03d}_{src.name}"
        if src.suffix == ".ipynb":
            doc = json.loads(src.read_text(encoding="utf-8"))
            doc.setdefault("metadata", {})["submission"] = i
            dest.write_text(json.dumps(doc), encoding="utf-8")
        else:
            dest.write_bytes(src.read_bytes() + f"\n# submission {i}\n".encode())
        made.append(dest)
    return made


def invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1", "COLUMNS": "100"})


def verdicts_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per submission: each function's verdict and diagnosis ids, or its error."""
    return {
        e["id"]: {f["name"]: (f["verdict"], f["diagnoses"]) for f in e["functions"]}
        or {"error": e["error"]}
        for e in doc["submissions"]
    }


def single(path: Path) -> dict[str, Any]:
    from rnncli.errors import InputError

    try:
        report = run_check(path)
    except InputError as err:
        return {"error": str(err)}
    return {f.name: (f.verdict, [d.id for d in f.diagnosis]) for f in report.functions}


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """12 submissions (and a file that cannot be checked), checked on the pool."""
    root = tmp_path_factory.mktemp("class")
    make_class(root / "hw", 12)
    (root / "hw" / "broken.py").write_text("def rnn_forward(:\n")
    (root / "hw" / ".ipynb_checkpoints").mkdir()
    (root / "hw" / ".ipynb_checkpoints" / "old.ipynb").write_text("{}")
    result = invoke(["check", str(root / "hw"), "--class-dir", str(root / "graded"),
                     "--workers", "2", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return root, json.loads(result.stdout)


def test_a_class_gets_the_verdicts_of_single_file_runs(klass: Any) -> None:
    root, doc = klass
    schemas.validate(doc)
    assert doc["schema"] == "rnncli.check-class/1"
    assert len(doc["submissions"]) == 13  # the checkpoint folder is not a submission
    got = verdicts_of(doc)
    for path in sorted(p for p in (root / "hw").iterdir() if p.is_file()):
        assert got[str(path)] == single(path), path.name
    counts = doc["summary"]["counts"]
    assert counts == {"submissions": 13, "distinct": 13, "checked": 13, "kept": 0,
                      "passed": 1, "failed": 12, "errors": 0}  # fmt: skip


def test_the_class_folder_has_every_file(klass: Any) -> None:
    root, doc = klass
    folder = Path(doc["class_dir"])
    assert folder == root / "graded"
    names = {p.name for p in folder.iterdir()}
    assert {"class.json", "gradebook.csv", "gradebook.json", "report.txt", "report.html",
            "results", "gradescope", "run.json"} <= names  # fmt: skip
    csv = (folder / "gradebook.csv").read_text().splitlines()
    assert csv[0].startswith("submission,sha256,ok,score,max_score,rnn_cell_forward,")
    assert len(csv) == 14
    for e in doc["submissions"]:
        grades = json.loads((folder / e["gradescope"]).read_text())
        assert grades["score"] == e["score"] and "tests" in grades
    text = (folder / "report.txt").read_text()
    assert "Pass rate per function" in text and "bias-mean" in text
    top = doc["summary"]["diagnoses"][0]
    assert top["example"]["evidence"] and top["count"] >= 1


def test_a_rerun_skips_every_done_submission(klass: Any) -> None:
    root, doc = klass
    start = time.monotonic()
    result = invoke(["check", str(root / "hw"), "--class-dir", str(root / "graded"), "--json"])
    seconds = time.monotonic() - start
    assert result.exit_code == 0, result.stderr
    again = json.loads(result.stdout)
    assert again["summary"]["counts"]["checked"] == 0 and again["summary"]["counts"]["kept"] == 13
    assert verdicts_of(again) == verdicts_of(doc)
    assert seconds < 10
    # a changed file is checked again, and only it
    changed = sorted((root / "hw").glob("s000_*"))[0]
    changed.write_bytes(changed.read_bytes() + b"# changed\n")
    result = invoke(["check", str(root / "hw"), "--class-dir", str(root / "graded"), "--json"])
    assert json.loads(result.stdout)["summary"]["counts"]["checked"] == 1
    info = json.loads((root / "graded" / "run.json").read_text())
    assert info["command"] == "check-class" and len(info["resumed"]) == 2


def test_limits_are_reported(tmp_path: Path) -> None:
    make_class(tmp_path / "hw", 2, [FIXTURES / "isolation.py", FIXTURES / "learner_ok.py"])
    result = invoke(["check", str(tmp_path / "hw"), "--out", str(tmp_path / "out"),
                     "--timeout", "2", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    limits = {(r["function"], r["limit"]) for r in doc["summary"]["limits"]}
    assert {("rnn_cell_forward", "timeout"), ("rnn_forward", "memory"),
            ("lstm_cell_forward", "crashed")} <= limits  # fmt: skip
    assert "-check-class-hw" in doc["class_dir"]  # a new run folder under --out


def test_class_options_are_refused_for_what_they_do_not_fit(tmp_path: Path) -> None:
    make_class(tmp_path / "hw", 1)
    for extra, needle in ((["--no-save"], "--no-save"), (["--format", "gradescope"], "--format"),
                          (["--workers", "0"], "--workers")):  # fmt: skip
        result = invoke(["check", str(tmp_path / "hw"), *extra, "--out", str(tmp_path / "o")])
        assert result.exit_code == 2 and needle in result.stderr, result.stderr
    (tmp_path / "empty").mkdir()
    result = invoke(["check", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no .py file or .ipynb notebook" in result.stderr
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    result = invoke(["check", str(tmp_path / "hw"), "--class-dir", str(tmp_path / "mine")])
    assert result.exit_code == 2 and "not a class folder" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("dask", path=os.path.dirname(sys.executable)) is None,
                    reason="the dask command (dask[distributed]) is not installed")  # fmt: skip
def test_a_class_on_a_real_dask_scheduler_and_worker(klass: Any, tmp_path: Path) -> None:
    root, doc = klass
    dask = str(Path(sys.executable).parent / "dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]  # fmt: skip
    try:
        procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "2",
                                       "--no-dashboard"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))  # fmt: skip
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
        result = invoke(["check", str(root / "hw"), "--dask", address,
                         "--out", str(tmp_path / "out"), "--json"])  # fmt: skip
        assert result.exit_code == 0, result.stderr
        on_dask = json.loads(result.stdout)
        assert on_dask["where"].startswith(f"dask {address}")
        assert on_dask["summary"]["counts"]["checked"] == len(on_dask["submissions"])
        assert verdicts_of(on_dask) == verdicts_of(
            json.loads(invoke(["check", str(root / "hw"), "--class-dir",
                               str(root / "graded"), "--json"]).stdout)  # fmt: skip
        )
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


# ----------------------------------------------------------------------------- the page


def test_the_page_is_self_contained(klass: Any) -> None:
    root, doc = klass
    page = (Path(doc["class_dir"]) / "report.html").read_text()
    lowered = page.lower()
    assert "<script" not in lowered and "http://" not in lowered and "https://" not in lowered
    assert "src=" not in lowered and "@import" not in lowered and "default-src 'none'" in page


def test_learner_text_is_escaped_in_the_page(tmp_path: Path) -> None:
    from rnncli.check.classhtml import class_html

    bad = "<script>alert(1)</script>"
    doc = {"where": bad, "summary": {"text": bad, "functions": [], "diagnoses": [],
           "limits": [], "errors": [{"submission": bad, "error": bad}],
           "counts": {"submissions": 1, "distinct": 1, "checked": 1, "kept": 0}},
           "submissions": [{"id": bad, "functions": [], "error": bad, "score": 0,
                            "max_score": 0}]}  # fmt: skip
    assert "<script" not in class_html(doc)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no Chromium installed (Debian: "
                    "apt-get install chromium): the class page not rendered")  # fmt: skip
def test_the_page_renders_in_headless_chromium(klass: Any, tmp_path: Path) -> None:
    from test_report import DevTools, errors

    root, doc = klass
    tools = DevTools(str(shutil.which("chromium")), tmp_path / "profile")
    try:
        target = tools.send("Target.createTarget", url="about:blank")["targetId"]
        session = tools.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            tools.send(f"{domain}.enable", session)
        url = (Path(doc["class_dir"]) / "report.html").resolve().as_uri()
        tools.send("Page.navigate", session, url=url)
        tools.wait_for("Page.loadEventFired")
        probe = ("JSON.stringify({text: document.body.innerText, title: document.title, "
                 "rows: document.querySelectorAll('tbody tr').length, "
                 "scripts: document.scripts.length})")  # fmt: skip
        got = tools.send("Runtime.evaluate", session, expression=probe, returnByValue=True)
        page = json.loads(got["result"]["value"])
        time.sleep(0.2)
        tools.send("Runtime.evaluate", session, expression="1")
    finally:
        tools.close()
    assert errors(tools.events) == []
    assert page["title"] == "rnncli check: a class" and page["scripts"] == 0
    assert "Pass rate per function" in page["text"] and "bias-mean" in page["text"]
    assert page["rows"] >= 13 + len(doc["summary"]["functions"])


# ----------------------------------------------------------------------------- a notebook


def test_rnncli_check_of_a_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    import rnncli
    from rnncli.check import CheckReport

    monkeypatch.syspath_prepend(str(Path(classroom.__file__).parent / "stand_in"))
    path = FIXTURES / "bias_mean.py"
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    result = rnncli.check(ns)
    assert isinstance(result, CheckReport)
    assert {f.name: f.verdict for f in result.functions} == {
        f.name: f.verdict for f in run_check(path).functions
    }
    assert repr(result).startswith("<rnncli check of __main__: FAIL: 3 of 4 functions pass")
    html = result._repr_html_()
    assert "<table>" in html and "bias-mean" in html and "rnn_cell_backward" in html
    assert "gru_forward" not in html  # missing and not required: not a row
    assert rnncli.check.run_check is run_check  # the package is still the package


def test_rnncli_check_reads_ipythons_cells_where_there_is_no_source() -> None:
    from rnncli.check.inline import check

    cells = ["%matplotlib inline", "import numpy as np\nfrom rnn_utils import *",
             (FIXTURES / "learner_ok.py").read_text(), "print(rnn_forward)"]  # fmt: skip
    ns: dict[str, Any] = {"__name__": "__main__", "In": ["", *cells]}
    exec("import numpy as np\ndef rnn_forward(x, a0, parameters):\n    return None\n", ns)
    result = check(ns, only="rnn_forward")
    assert result.path == "this notebook" and result.ok
