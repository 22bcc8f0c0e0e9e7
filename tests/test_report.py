"""report.html: one self-contained page (images inline, no scripts, text escaped), written
by ``rnncli report`` and by ``rnncli train --report``, and rendered in a real headless
Chromium through the DevTools protocol (skipped, saying why, where none is installed):
the page loads without console errors and every figure decodes."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rnncli import plot
from rnncli.cli import app

CHROMIUM = next((p for name in ("chromium", "chromium-browser", "google-chrome")
                 if (p := shutil.which(name))), None)  # fmt: skip
NO_BROWSER = "no Chromium installed (Debian: apt-get install chromium): report.html not rendered"


def invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1"}, catch_exceptions=False)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small text run trained with --report, on a file whose name needs escaping."""
    root = tmp_path_factory.mktemp("report")
    corpus = root / "a<b>&.txt"
    corpus.write_text('<p>Tom & "Jerry" (cat & mouse)</p>\nsaid "hi".\n' * 60, encoding="utf-8")
    result = invoke(["train", "--data", str(corpus), "--out", str(root), "--report",
                     "train.steps=20", "train.hidden=8", "train.bptt=16",
                     "train.eval_every=10"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run = next(p for p in root.glob("*/*-train-*") if p.is_dir())
    assert "report: " in result.stderr
    return run


def test_train_report_is_self_contained(text_run: Path) -> None:
    page = (text_run / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<img src="data:image/png;base64,') == 4  # loss, gradflow, gates, states
    assert "<script" not in page.lower()
    assert not re.findall(r'(?:src|href)="(?!data:)', page)  # nothing to fetch
    assert "a&lt;b&gt;&amp;.txt" in page and "a<b>&.txt" not in page  # the config, escaped
    for heading in ("Metrics", "Inside the network", "Gradient flow through time",
                    "Gate saturation", "States over time", "Units that track the text",
                    "Samples", "Config"):  # fmt: skip
        assert f">{heading}</h" in page


def test_report_command_and_without_matplotlib(
    text_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plot, "have_matplotlib", lambda: False)
    run = shutil.copytree(text_run, tmp_path / "run")  # the browser test reads text_run's
    result = invoke(["report", str(run), "--json"])
    assert result.exit_code == 0, result.stderr
    path = Path(json.loads(result.stdout)["report"])
    page = path.read_text(encoding="utf-8")
    assert "<img" not in page and "pip install &#x27;rnncli[plot]&#x27;" in page
    assert "‖∂L_T/∂a_t‖" in page  # the tables are there all the same


def test_report_of_a_run_inspect_cannot_read(tmp_path: Path) -> None:
    """A stacked model: the report is written, saying why it has no inspect part."""
    result = invoke(["train", "--task", "adding", "--out", str(tmp_path), "--report", "-q",
                     "model.layers=2", "train.T=10", "train.hidden=4",
                     "train.steps=10"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    page = next(tmp_path.glob("*/*/report.html")).read_text(encoding="utf-8")
    assert "Not inspected:" in page and "one-layer models" in page and "2 layers" in page


def test_report_refuses_what_is_not_a_run(tmp_path: Path) -> None:
    result = invoke(["report", str(tmp_path)])
    assert result.exit_code == 2 and "not a train run" in result.stderr


# ----------------------------------------------------------------------------- the browser


class DevTools:
    """Chromium's DevTools protocol over --remote-debugging-pipe: JSON messages ending in
    a NUL byte, commands on the browser's fd 3, replies and events from its fd 4."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser = os.pipe()
        from_browser = os.pipe()
        # high numbers first, so that putting them at 3 and 4 in the child clobbers nothing
        r_in = fcntl.fcntl(to_browser[0], fcntl.F_DUPFD, 100)
        w_out = fcntl.fcntl(from_browser[1], fcntl.F_DUPFD, 100)

        def child_fds() -> None:
            os.dup2(r_in, 3)
            os.dup2(w_out, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--remote-debugging-pipe",
             "about:blank"],
            pass_fds=(3, 4), preexec_fn=child_fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for fd in (to_browser[0], from_browser[1], r_in, w_out):
            os.close(fd)
        self.write, self.read = to_browser[1], from_browser[0]
        self.buffer = b""
        self.events: list[dict[str, Any]] = []
        self.next_id = 0

    def close(self) -> None:
        os.close(self.write)
        os.close(self.read)
        self.proc.kill()
        self.proc.wait(timeout=30)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.read], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.read, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, session: str | None = None, timeout: float = 60,
             **params: Any) -> dict[str, Any]:  # fmt: skip
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.write, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event


def errors(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions and error log entries (failed loads)."""
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(f"console: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            out.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            out.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
    return out


@pytest.mark.skipif(CHROMIUM is None, reason=NO_BROWSER)
def test_report_renders_in_headless_chromium(text_run: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    tools = DevTools(CHROMIUM, tmp_path / "profile")
    try:
        target = tools.send("Target.createTarget", url="about:blank")["targetId"]
        session = tools.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            tools.send(f"{domain}.enable", session)
        tools.send("Page.navigate", session, url=(text_run / "report.html").resolve().as_uri())
        tools.wait_for("Page.loadEventFired")
        probe = ("JSON.stringify({images: Array.from(document.images).map("
                 "i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt]), "
                 "text: document.body.innerText, title: document.title})")  # fmt: skip
        got = tools.send("Runtime.evaluate", session, expression=probe, returnByValue=True)
        page = json.loads(got["result"]["value"])
        time.sleep(0.2)  # let late log entries arrive
        tools.send("Runtime.evaluate", session, expression="1")
    finally:
        tools.close()
    assert errors(tools.events) == []
    assert len(page["images"]) == 4
    for complete, width, height, alt in page["images"]:
        assert complete and width > 100 and height > 100, alt
    assert page["title"].startswith("rnncli report")
    assert "Gradient flow through time" in page["text"] and 'Tom & "Jerry"' in page["text"]
