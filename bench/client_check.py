"""How much load can the harness's client push, and at what CPU cost?

``.venv/bin/python bench/client_check.py [--clients N] [--seconds S]`` starts
a null HTTP server (raw asyncio protocol on uvloop, in its own process,
answering every GET with a fixed 200) and drives it with the same client the
harness uses. It prints requests/s and the client's CPU per request: the
client's cost in a real run is about ``rps × µs/request``, which must stay a
small share of one core next to the server's.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
import uvloop  # noqa: E402

from bench.client import HTTPConnection, Request, drive  # noqa: E402
from bench.pg import free_port  # noqa: E402

NULL_SERVER = textwrap.dedent(
    """
    import asyncio, sys, uvloop
    RESP = (b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\n"
            b"content-length: 15\\r\\n\\r\\n{\\"status\\":\\"ok\\"}")
    class P(asyncio.Protocol):
        def connection_made(self, t):
            self.t = t; self.buf = b""
        def data_received(self, data):
            self.buf += data
            n = self.buf.count(b"\\r\\n\\r\\n")
            if n:
                self.buf = self.buf[self.buf.rfind(b"\\r\\n\\r\\n") + 4:]
                self.t.write(RESP * n)
    async def main():
        srv = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]))
        print("ready", flush=True)
        await srv.serve_forever()
    uvloop.run(main())
    """
)


async def measure(port: int, clients: int, seconds: float) -> tuple[float, float, float]:
    conns = [HTTPConnection("127.0.0.1", port) for _ in range(clients)]
    for c in conns:
        await c.connect()
    me = psutil.Process()
    c0 = me.cpu_times()
    t0 = time.perf_counter()
    result = await drive(
        conns, [[Request("GET", "/healthz")]] * clients, seconds=seconds, warmup=0.0
    )
    wall = time.perf_counter() - t0
    c1 = me.cpu_times()
    for c in conns:
        c.close()
    cpu = (c1.user + c1.system) - (c0.user + c0.system)
    return result.rps, cpu / wall, cpu / max(1, result.total) * 1e6


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/client_check.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", NULL_SERVER, str(port)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("null server failed to start")
        sp = psutil.Process(server.pid)
        s0 = sp.cpu_times()
        rps, share, us = uvloop.run(measure(port, args.clients, args.seconds))
        s1 = sp.cpu_times()
        server_share = ((s1.user + s1.system) - (s0.user + s0.system)) / args.seconds
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    print(f"null server, {args.clients} clients, {args.seconds:g} s")
    print(
        f"  client: {rps:,.0f} requests/s, {share * 100:.0f}% of one core, {us:.1f} µs CPU/request"
    )
    print(f"  null server: {server_share * 100:.0f}% of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
