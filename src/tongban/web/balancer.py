"""Several web processes, each connection dealt to the least busy one
(``tongban serve`` with ``web_workers`` > 1; 连接分发).

uvicorn's own workers all accept from one shared socket: whichever process
is idle when connections arrive takes them (uvloop drains the whole backlog
at once), and a kept-alive connection stays where it landed. Measured with
32 kept-alive clients on two processes (``bench/run.py --timeline``): splits
of 7/25, 9/23 … 16/16, each process's latency in proportion to its share,
so the crowded one set the p99.

Here the parent process holds the listening socket and accepts; each
connection goes to the worker with the fewest open connections, passed as
a file descriptor over a Unix socket pair (``SCM_RIGHTS``). The worker runs
uvicorn's ``Server`` without a listening socket of its own
(``_HandedServer``): it takes each descriptor as an accepted connection
(``loop.connect_accepted_socket``) and reports back, after every
connection it closes, how many it has closed in all; the parent's count of
a worker's open connections is then what it sent less what came back
closed. The parent never reads or writes a request.

Stopping: SIGTERM or SIGINT to the parent closes the listening socket and
sends each worker SIGTERM; each finishes its requests as uvicorn does (a
service manager that signals the whole group: the same). A worker that
dies is started again; one that dies at start three times in a row (the
database unreachable, a bad setting) stops the platform with exit code 1.

Hung workers (健康检查): once a worker has started (its first report), the
parent pings it whenever it has been silent for a few seconds; the worker's
event loop answers with its closed count. One that does not answer within
``health_timeout`` seconds (``web_worker_timeout``) — its loop blocked, the
process stopped — is killed and, as any dead worker, started again. A
worker still starting (migrations, a slow first connection) is not pinged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from typing import Any

import uvicorn

_CLOSED = struct.Struct("!Q")  # a worker's report: connections it has closed in all
_STOP_GRACE_SECONDS = 30.0
_SEND_TIMEOUT_SECONDS = 5.0
_EARLY_DEATH_SECONDS = 10.0
_EARLY_DEATHS_MAX = 3
_PING = b"p"  # the parent's health ping; the worker answers with a report
_PING_EVERY_SECONDS = 5.0


# --- the parent ------------------------------------------------------------------------


class _Worker:
    __slots__ = ("channel", "closed", "heard", "killed", "pinged", "proc", "sent", "started")

    def __init__(self, proc: subprocess.Popen[bytes], channel: socket.socket) -> None:
        self.proc = proc
        self.channel = channel
        self.sent = 0
        self.closed = 0
        self.started = time.monotonic()
        self.heard: float | None = None  # its last report; None while it starts
        self.pinged: float | None = None  # an unanswered ping, sent then
        self.killed = False

    @property
    def open(self) -> int:
        return self.sent - self.closed


def _start_worker(server_options: dict[str, Any]) -> _Worker:
    # packets: each descriptor and each report a message of its own
    parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [
                sys.executable,
                "-m",
                "tongban.web.balancer",
                str(child_end.fileno()),
                json.dumps(server_options),
            ],
            pass_fds=[child_end.fileno()],
        )
    finally:
        child_end.close()
    parent_end.setblocking(True)
    # a send to a worker that stopped reading fails after this (the kernel's
    # timeout: Python's own would also make every MSG_DONTWAIT read wait)
    parent_end.setsockopt(
        socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(_SEND_TIMEOUT_SECONDS), 0)
    )
    return _Worker(proc, parent_end)


def run(
    host: str,
    port: int,
    workers: int,
    server_options: dict[str, Any],
    health_timeout: float = 30.0,
) -> None:
    """Listen on host:port and deal connections to ``workers`` processes, each
    running the app with uvicorn's ``server_options`` (``uvicorn.Config``'s
    keyword arguments); a started worker that does not answer a ping within
    ``health_timeout`` seconds is killed and replaced. Returns when stopped
    by SIGTERM or SIGINT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=2048)
    listener.setblocking(False)
    pool = [_start_worker(server_options) for _ in range(workers)]
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    for w in pool:
        selector.register(w.channel, selectors.EVENT_READ, w)
    stopping: list[int] = []
    early_deaths = 0  # in a row: workers that died within _EARLY_DEATH_SECONDS of starting

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    failed = False
    try:
        while not stopping and not failed:
            for key, _ in selector.select(timeout=1.0):
                if key.data is None:
                    _deal(listener, pool)
                else:
                    worker = key.data
                    if not _read_reports(worker):  # the worker is gone: start another
                        selector.unregister(worker.channel)
                        worker.channel.close()
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            worker.proc.wait(timeout=5)
                        if stopping:
                            continue
                        early = time.monotonic() - worker.started < _EARLY_DEATH_SECONDS
                        early_deaths = early_deaths + 1 if early else 0
                        if early_deaths >= _EARLY_DEATHS_MAX:  # it cannot start: say so, stop
                            print(
                                f"工作进程启动后立即退出（连续 {early_deaths} 次，退出码"
                                f" {worker.proc.returncode}），平台停止 / a worker process keeps"
                                " exiting at start; stopping",
                                file=sys.stderr,
                            )
                            failed = True
                            break
                        fresh = _start_worker(server_options)
                        pool[pool.index(worker)] = fresh
                        selector.register(fresh.channel, selectors.EVENT_READ, fresh)
            if not stopping:
                _check_health(pool, health_timeout)
    finally:
        selector.close()
        listener.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
        _stop(pool)
    if failed:
        raise SystemExit(1)


def _deal(listener: socket.socket, pool: list[_Worker]) -> None:
    """Accept what is waiting; each connection to the worker with the fewest open."""
    while True:
        try:
            conn, _addr = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # e.g. too many open files: a moment, then the next wake-up
            time.sleep(0.05)
            return
        try:
            live = [w for w in pool if not w.killed and w.proc.poll() is None] or pool
            worker = min(live, key=lambda w: w.open)
            try:
                socket.send_fds(worker.channel, [b"c"], [conn.fileno()])
                worker.sent += 1
            except OSError:
                pass  # the worker just died: the client sees the connection close
        finally:
            conn.close()


def _read_reports(worker: _Worker) -> bool:
    """Take the worker's latest count of closed connections; False when it is gone."""
    while True:
        try:
            data = worker.channel.recv(64, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not data:
            return False
        if len(data) == _CLOSED.size:
            worker.closed = _CLOSED.unpack(data)[0]
            worker.heard = time.monotonic()  # its loop runs: whatever was pinged is answered
            worker.pinged = None


def _check_health(pool: list[_Worker], timeout: float) -> None:
    """Ping each started worker silent for a while; kill one whose ping is
    ``timeout`` seconds unanswered (the death path then starts another)."""
    now = time.monotonic()
    for w in pool:
        if w.heard is None or w.killed:
            continue
        if w.pinged is None:
            if now - w.heard >= min(_PING_EVERY_SECONDS, timeout / 2):
                with contextlib.suppress(OSError):  # full or gone: the next round sees it
                    w.channel.send(_PING, socket.MSG_DONTWAIT)
                w.pinged = now
        elif now - w.pinged > timeout:
            print(
                f"工作进程 {w.proc.pid} 超过 {timeout:g} 秒无响应，已结束并重新启动"
                f" / worker {w.proc.pid} did not answer for {timeout:g} s; restarting it",
                file=sys.stderr,
            )
            with contextlib.suppress(OSError):
                w.proc.kill()
            w.killed = True


def _stop(pool: list[_Worker]) -> None:
    # SIGTERM whatever stopped the parent: after a Ctrl-C the workers have a
    # SIGINT of their own from the terminal, and a second SIGINT would make
    # uvicorn drop its connections instead of finishing their requests
    for w in pool:
        with contextlib.suppress(OSError):
            w.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_SECONDS
    for w in pool:
        try:
            w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
        with contextlib.suppress(OSError):
            w.channel.close()


# --- a worker ---------------------------------------------------------------------------


class _HandedServer(uvicorn.Server):
    """uvicorn's server, fed connections by the parent instead of a listening socket."""

    def __init__(self, config: Any, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self.closed = 0

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        if self.should_exit:
            return
        config = self.config
        loop = asyncio.get_running_loop()

        def protocol() -> asyncio.Protocol:
            proto = config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
            )
            lost = proto.connection_lost

            def connection_lost(exc: Exception | None) -> None:
                lost(exc)
                self.closed += 1
                self._report()

            proto.connection_lost = connection_lost  # type: ignore[method-assign]
            return proto

        def receive() -> None:
            while True:
                try:
                    msg, fds, _flags, _addr = socket.recv_fds(self.channel, 64, 64)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    msg, fds = b"", []
                for fd in fds:
                    sock = socket.socket(fileno=fd)
                    sock.setblocking(False)
                    with contextlib.suppress(OSError):  # as a listening server's
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    task = loop.create_task(loop.connect_accepted_socket(protocol, sock))
                    self.server_state.tasks.add(task)
                    task.add_done_callback(self.server_state.tasks.discard)
                if not msg:  # the parent is gone: stop as on a signal
                    loop.remove_reader(self.channel.fileno())
                    self.should_exit = True
                    return
                if msg == _PING:
                    self._report()

        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), receive)
        self._report()  # started: from now on the parent pings

    def _report(self) -> None:
        with contextlib.suppress(OSError):  # full or gone: the next report has it
            self.channel.send(_CLOSED.pack(self.closed), socket.MSG_DONTWAIT)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=sockets)


def worker_main(channel_fd: int, server_options: dict[str, Any]) -> None:
    channel = socket.socket(fileno=channel_fd)
    _HandedServer(uvicorn.Config(**server_options), channel).run()


if __name__ == "__main__":
    worker_main(int(sys.argv[1]), json.loads(sys.argv[2]))
