"""A headless Chromium driven over the DevTools protocol, to check a report in a real browser.

The browser test and ``bench/report.py`` open a report with it: navigate, evaluate JavaScript,
click at an element's centre with a real mouse event, take a screenshot. It talks to Chromium
through ``--remote-debugging-pipe`` (NUL-terminated JSON messages on the child's file
descriptors 3 and 4), so it needs no websocket client, no driver binary and no open port: the
Python standard library and a ``chromium`` executable (Debian's package) are enough.

    with Browser.launch() as browser:
        browser.open(Path("runs/demo/report/index.html"))
        browser.wait_for("window.reportReady === true")
        browser.click("#rows .row")
        browser.screenshot(Path("shot.png"))
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--mute-audio",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-file-access-from-files",
)


class BrowserError(RuntimeError):
    """Chromium did not start, went away, or a command failed or timed out."""


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` when set, else the first of ``CANDIDATES`` on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def _above(fd: int, lowest: int) -> int:
    """``fd`` moved to a descriptor number >= ``lowest`` (the old one closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return moved


class Browser:
    """One headless Chromium with one page; use ``Browser.launch()`` as a context manager."""

    def __init__(
        self,
        process: subprocess.Popen,
        send_fd: int,
        recv_fd: int,
        profile: tempfile.TemporaryDirectory,
        timeout: float,
    ) -> None:
        self.process, self._send_fd, self._recv_fd, self._profile = process, send_fd, recv_fd, profile
        self.timeout = timeout
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self.console: list[str] = []  # console messages and uncaught exceptions of the page
        threading.Thread(target=self._read, daemon=True).start()
        target = next(t for t in self._call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self._session = self._call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        for domain in ("Page", "Runtime"):
            self.send(f"{domain}.enable")

    @classmethod
    def launch(
        cls, executable: str | None = None, width: int = 1400, height: int = 900, timeout: float = 30.0
    ) -> Browser:
        """Start Chromium headless with a fresh profile folder (removed on ``close``)."""
        executable = executable or find_chromium()
        if not executable:
            msg = f"no Chromium found (looked for $CHROMIUM and {', '.join(CANDIDATES)} on PATH)"
            raise BrowserError(msg)
        profile = tempfile.TemporaryDirectory(prefix="groundwork-chromium-")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # the child's ends must not sit on 3 or 4 themselves (the moves below would close them)
        to_child_r, from_child_w = (_above(fd, 10) for fd in (to_child_r, from_child_w))

        # Chromium reads commands on fd 3 and writes replies on fd 4: a shell moves the pipe ends
        # there and execs it (no preexec_fn, which is unsafe beside threads; dash takes only fds 0-9)
        moves = f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w} {to_child_r}<&- {from_child_w}>&-'
        args = [
            shutil.which("bash") or "/bin/bash",
            "-c",
            moves,
            executable,
            *FLAGS,
            f"--user-data-dir={profile.name}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(to_child_r, from_child_w),
            )
        except OSError as exc:
            profile.cleanup()
            msg = f"could not start {executable}: {exc}"
            raise BrowserError(msg) from None
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        browser = None
        try:
            browser = cls(process, to_child_w, from_child_r, profile, timeout)
            browser.send(
                "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
            )
            return browser
        except BaseException:
            if browser is not None:
                browser.close()
            else:
                process.kill()
                process.wait()
                for fd in (to_child_w, from_child_r):  # the reader thread may have closed its end already
                    with contextlib.suppress(OSError):
                        os.close(fd)
                profile.cleanup()
            raise

    # -- the pipe ---------------------------------------------------------------------------------
    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._recv_fd, "rb", buffering=0, closefd=True) as pipe:
            while chunk := pipe.read(1 << 16):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    self._inbox.put(json.loads(raw))
        self._inbox.put(None)  # the browser closed its end

    def _pump(self, deadline: float) -> None:
        """Move one message from the reader thread into replies / events, waiting until ``deadline``."""
        try:
            message = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return
        if message is None:
            msg = f"Chromium exited (code {self.process.poll()})"
            raise BrowserError(msg)
        if "id" in message:
            self._replies[message["id"]] = message
            return
        self.events.append(message)
        params = message.get("params", {})
        if message.get("method") == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif message.get("method") == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console.append(f"uncaught: {details.get('exception', {}).get('description') or details.get('text')}")

    def _call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        message = {"id": ident, "method": method, "params": params} | ({"sessionId": session} if session else {})
        os.write(self._send_fd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while ident not in self._replies:
            if time.monotonic() > deadline:
                msg = f"{method}: no reply within {self.timeout:.0f} s"
                raise BrowserError(msg)
            self._pump(deadline)
        reply = self._replies.pop(ident)
        if "error" in reply:
            msg = f"{method}: {reply['error'].get('message')} {reply['error'].get('data', '')}".strip()
            raise BrowserError(msg)
        return reply.get("result", {})

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command to the page (``Page.navigate``, ``Input.dispatchMouseEvent``, ...)."""
        return self._call(method, self._session, **params)

    # -- what a test does ---------------------------------------------------------------------------
    def open(self, path_or_url: str | Path, timeout: float | None = None) -> None:
        """Navigate to a file (made a ``file://`` URL) or a URL; return once the load event fired."""
        url = path_or_url.resolve().as_uri() if isinstance(path_or_url, Path) else path_or_url
        seen = len(self.events)
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            msg = f"could not open {url}: {result['errorText']}"
            raise BrowserError(msg)
        deadline = time.monotonic() + (timeout or self.timeout)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events[seen:]):
            if time.monotonic() > deadline:
                msg = f"{url}: no load event within {timeout or self.timeout:.0f} s"
                raise BrowserError(msg)
            self._pump(deadline)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            what = details.get("exception", {}).get("description") or details["text"]
            msg = f"JavaScript error in {expression!r}: {what}"
            raise BrowserError(msg)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float | None = None, interval: float = 0.05) -> Any:
        """Poll until ``expression`` is truthy in the page; its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                msg = f"still false after {timeout or self.timeout:.0f} s: {expression}"
                raise BrowserError(msg)
            time.sleep(interval)
        return value

    def click(self, selector: str) -> None:
        """A real left click (mouse pressed and released) at the centre of the first element that
        matches ``selector``, after scrolling it into view."""
        box = self.evaluate(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return null;
            el.scrollIntoView({{block: "center"}});
            const r = el.getBoundingClientRect();
            return {{x: r.left + r.width / 2, y: r.top + r.height / 2}};
        }})()""")
        if box is None:
            msg = f"no element matches {selector!r}"
            raise BrowserError(msg)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the viewport."""
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Ask Chromium to quit, kill it if it does not within a few seconds, remove the profile."""
        if self.process.poll() is None:
            try:
                os.write(self._send_fd, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        os.close(self._send_fd)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
