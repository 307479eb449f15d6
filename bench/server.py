"""The server under test: migrate, start, wait for health, sample, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

DEFAULT_APP = "tongban.web.app:create_app"


class ServerError(SystemExit):
    pass


class Server:
    """The server as a subprocess in its own session, logging to ``log_path``
    (never to our stdout, whose last line is the JSON).

    The product's app runs through ``tongban serve`` — what a deployment runs
    (uvloop, httptools, no access log, ``TONGBAN_WEB_WORKERS`` processes); any
    other app (harness development) through ``python -m uvicorn APP --factory``
    with the same options."""

    def __init__(
        self,
        *,
        python: str,
        env: dict[str, str],
        cwd: Path,
        port: int,
        log_path: Path,
        app: str = DEFAULT_APP,
        host: str = "127.0.0.1",
    ) -> None:
        if app == DEFAULT_APP:
            tongban = str(Path(python).parent / "tongban")
            self.cmd = [tongban, "serve", "--host", host, "--port", str(port)]
        else:
            self.cmd = [
                python, "-m", "uvicorn", app, "--factory", "--host", host, "--port", str(port),
                "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            ]  # fmt: skip
        self.env = env
        self.cwd = cwd
        self.host = host
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        try:
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Poll GET /healthz until 200; return seconds taken."""
        assert self.proc is not None
        url = f"http://{self.host}:{self.port}/healthz"
        start = time.monotonic()
        last = "no answer"
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"the server exited with {self.proc.returncode} before answering "
                    f"/healthz\n--- server log\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - start
                    last = f"status {r.status}"
            except urllib.error.HTTPError as e:
                last = f"status {e.code}"
            except (OSError, urllib.error.URLError) as e:
                last = str(e)
            time.sleep(0.1)
        raise ServerError(
            f"GET {url} did not answer 200 within {timeout:.0f} s (last: {last})\n"
            f"--- server log\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL after 10 s."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print("[bench] server ignored SIGTERM for 10 s; killing it", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class Sampler:
    """Samples the server's RSS (process and children) and CPU time."""

    def __init__(self, pid: int, interval: float = 0.1, rescan: float = 2.0) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.rescan = rescan  # listing children walks /proc: not every sample
        self.peak_rss = 0
        self._task: asyncio.Task[None] | None = None
        self._procs: list[psutil.Process] = [self.proc]
        self._scanned = 0.0

    def _tree(self) -> list[psutil.Process]:
        now = time.monotonic()
        if now - self._scanned >= self.rescan:
            self._scanned = now
            try:
                self._procs = [self.proc, *self.proc.children(recursive=True)]
            except psutil.Error:
                self._procs = [self.proc]
        return self._procs

    def sample(self) -> None:
        total = 0
        for p in self._tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        self.peak_rss = max(self.peak_rss, total)

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self._tree():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with contextlib.suppress(psutil.Error):
                self.sample()
