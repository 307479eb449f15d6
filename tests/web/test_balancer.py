"""``tongban serve`` with two workers (``web.balancer``): each connection goes
to the worker with the fewest open connections; a worker that dies or stops
answering is replaced, one that is still starting is left to start;
SIGTERM stops them all. The real command, on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.web.conftest import _free_port
from tongban.core.settings import Settings


def _get(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    resp.read()
    return resp.status


def _until(cond, timeout: float = 60.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached in {timeout:.0f} s: {what}")


@pytest.fixture
def served(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    extra = getattr(request, "param", {})
    env = {
        **os.environ,
        "TONGBAN_DATABASE_URL": settings.effective_database_url,
        "TONGBAN_DATA_DIR": str(tmp_path),
        "TONGBAN_EMBEDDED_WORKER": "false",
        "TONGBAN_SECRET_KEY": settings.secret_key,
        "TONGBAN_LOG_LEVEL": "WARNING",
        "TONGBAN_WEB_WORKERS": "2",
        **extra,
    }
    cmd = [sys.executable, "-c", "from tongban.cli import app; app()"]
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own command
        [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _up(port: int) -> bool:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        ok = _get(c) == 200
        c.close()
        return ok
    except OSError:
        return False


def _workers(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return [
        c
        for c in psutil.Process(proc.pid).children()
        if c.status() != psutil.STATUS_ZOMBIE and "tongban.web.balancer" in " ".join(c.cmdline())
    ]


def _server_of(conn: http.client.HTTPConnection, workers: list[psutil.Process]) -> int | None:
    """The pid of the worker holding this client connection's other end."""
    local = conn.sock.getsockname()[1]
    for w in workers:
        for c in w.net_connections(kind="tcp"):
            if c.raddr and c.raddr.port == local and c.status == psutil.CONN_ESTABLISHED:
                return w.pid
    return None


def test_connections_go_to_the_least_busy_worker(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = served
    _until(lambda: _up(port), what="GET /healthz")
    _until(lambda: len(_workers(proc)) == 2, what="two workers")
    workers = _workers(proc)

    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(6)]
    for c in conns:  # one after another, each kept alive
        assert _get(c) == 200
    owner = {id(c): _server_of(c, workers) for c in conns}
    assert Counter(owner.values()) == {workers[0].pid: 3, workers[1].pid: 3}

    # two of one worker's connections close: the next two go to that worker
    a = workers[0].pid
    for c in [c for c in conns if owner[id(c)] == a][:2]:
        c.close()
        conns.remove(c)
    time.sleep(0.5)  # the worker reports its closed connections
    fresh = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(2)]
    for c in fresh:
        assert _get(c) == 200
    assert [_server_of(c, workers) for c in fresh] == [a, a]
    for c in conns + fresh:
        assert _get(c) == 200  # every connection still served on its worker
        c.close()

    # a worker that dies is replaced, and serves
    workers[1].kill()
    workers[1].wait(10)
    _until(
        lambda: len(_workers(proc)) == 2 and workers[1].pid not in {w.pid for w in _workers(proc)},
        what="a new worker",
    )
    _until(lambda: _up(port), what="served after the restart")

    # SIGTERM to the parent alone stops every worker
    everyone = _workers(proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=40) == 0
    for w in everyone:
        _until(lambda w=w: not w.is_running() or w.status() == psutil.STATUS_ZOMBIE, 10)


@pytest.mark.parametrize("served", [{"TONGBAN_WEB_WORKER_TIMEOUT": "2"}], indirect=True)
def test_a_worker_that_stops_answering_is_replaced(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    """A worker whose event loop no longer runs (here: the process stopped)
    does not answer the parent's ping; after the timeout it is killed and a
    fresh one serves, while the other never stopped serving."""
    proc, port = served
    _until(lambda: _up(port), what="GET /healthz")
    _until(lambda: len(_workers(proc)) == 2, what="two workers")
    time.sleep(3)  # longer than the timeout: answering workers are left alone
    stuck, other = _workers(proc)
    assert {w.pid for w in _workers(proc)} == {stuck.pid, other.pid}

    stuck.suspend()  # SIGSTOP: alive, holding its connections, answering nothing
    try:
        _until(
            lambda: not stuck.is_running() or stuck.status() == psutil.STATUS_ZOMBIE,
            30,
            what="the stopped worker killed",
        )
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            stuck.resume()
    _until(
        lambda: len(_workers(proc)) == 2 and stuck.pid not in {w.pid for w in _workers(proc)},
        what="a new worker",
    )
    assert other.pid in {w.pid for w in _workers(proc)}
    assert all(_up(port) for _ in range(4))


def test_a_slow_start_is_not_taken_for_a_hang(tmp_path: Path) -> None:
    """The parent pings a worker only once it has started: an app whose start
    takes longer than the timeout is served, by the same two processes."""
    port = _free_port()
    code = (
        "from tongban.web import balancer; "
        f"balancer.run('127.0.0.1', {port}, 2, "
        "{'app': 'tests.web.slow_start_app:create_app', 'factory': True, 'log_config': None,"
        " 'lifespan': 'on'}, health_timeout=1.0)"
    )
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-c", code],
        env={**os.environ, "SLOW_START_SECONDS": "4"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _until(lambda: len(_workers(proc)) == 2, what="two workers")
        first = {w.pid for w in _workers(proc)}
        _until(lambda: _up(port), 60, what="served after the slow start")
        time.sleep(3)  # pinged and answering, well past the timeout
        assert all(_up(port) for _ in range(4))
        assert {w.pid for w in _workers(proc)} == first
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.stderr is not None
    assert "无响应" not in proc.stderr.read().decode()


def test_a_worker_that_cannot_start_stops_the_platform() -> None:
    """Three deaths at start in a row (here: an app that does not import) end
    the parent with exit code 1 and a message, not a restart loop."""
    code = (
        "from tongban.web import balancer; "
        f"balancer.run('127.0.0.1', {_free_port()}, 2, "
        "{'app': 'tongban.no_such_module:create_app', 'factory': True, 'log_config': None})"
    )
    proc = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "工作进程启动后立即退出" in proc.stderr
