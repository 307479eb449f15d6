"""A minimal HTTP/1.1 keep-alive client and the load driver.

On two cores the load generator competes with the server for CPU, so it must
cost as little as possible per request: one TCP connection per simulated
client, requests encoded to bytes once (again only when the cookie jar
changes), the response head read in one ``readuntil`` and parsed by hand.
No third-party HTTP client is involved.

Latency is measured with ``time.perf_counter_ns()`` around send + full read.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import orjson

_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024


class HTTPError(Exception):
    """The server broke the protocol or closed the connection mid-response."""


@dataclass(frozen=True, slots=True)
class Request:
    """One request a client sends. ``expect``: acceptable status codes
    (default: any 2xx). ``expect_cookie``: a cookie the response must set
    (e.g. the session cookie of a sign-in), else it counts as an error."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    expect: tuple[int, ...] | None = None
    expect_cookie: str | None = None

    def check(self, resp: Response) -> str | None:
        """None when the response is what this request expects, else why not."""
        if not (200 <= resp.status < 300 if self.expect is None else resp.status in self.expect):
            return f"{self.method} {self.path} -> {resp.status} {resp.body[:200]!r}"
        if self.expect_cookie is not None:
            prefix = self.expect_cookie + "="
            if not any(k == "set-cookie" and v.startswith(prefix) for k, v in resp.headers):
                return f"{self.method} {self.path} -> {resp.status} without Set-Cookie {self.expect_cookie}"
        return None


def json_request(
    method: str,
    path: str,
    obj: object,
    headers: Sequence[tuple[str, str]] = (),
    expect: tuple[int, ...] | None = None,
    expect_cookie: str | None = None,
) -> Request:
    return Request(
        method,
        path,
        (("content-type", "application/json"), *headers),
        orjson.dumps(obj),
        expect,
        expect_cookie,
    )


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]  # names lower-cased, in order received
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def json(self) -> object:
        return orjson.loads(self.body)


class HTTPConnection:
    """One keep-alive connection with its own cookie jar."""

    def __init__(self, host: str, port: int, *, send_cookies: bool = True) -> None:
        self.host = host
        self.port = port
        self.send_cookies = send_cookies
        self.cookies: dict[str, str] = {}
        self._jar_version = 0
        self._cache: dict[Request, tuple[int, bytes]] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._host_header = f"{host}:{port}"

    async def connect(self) -> None:
        self.close()
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=_MAX_HEAD
        )

    @property
    def connected(self) -> bool:
        return self._writer is not None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    # -- encoding ------------------------------------------------------------
    def encode(self, req: Request) -> bytes:
        lines = [f"{req.method} {req.path} HTTP/1.1", f"host: {self._host_header}"]
        lines.extend(f"{k}: {v}" for k, v in req.headers)
        if req.body or req.method in ("POST", "PUT", "PATCH"):
            lines.append(f"content-length: {len(req.body)}")
        if self.send_cookies and self.cookies:
            lines.append("cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body

    def _encoded(self, req: Request) -> bytes:
        # Keyed by value (frozen dataclass): equal requests encode equally.
        hit = self._cache.get(req)
        if hit is not None and (hit[0] == self._jar_version or not self.send_cookies):
            return hit[1]
        data = self.encode(req)
        self._cache[req] = (self._jar_version, data)
        return data

    # -- one exchange ----------------------------------------------------------
    async def request(self, req: Request) -> Response:
        if self._writer is None:
            await self.connect()
        reader, writer = self._reader, self._writer
        assert reader is not None and writer is not None
        writer.write(self._encoded(req))
        try:
            head = await reader.readuntil(_HEAD_END)
        except asyncio.IncompleteReadError as e:
            self.close()
            raise HTTPError("connection closed before the response") from e
        except asyncio.LimitOverrunError as e:
            self.close()
            raise HTTPError("response head too large") from e
        lines = head[:-4].decode("latin-1").split("\r\n")
        status_line = lines[0]
        if not status_line.startswith("HTTP/1."):
            self.close()
            raise HTTPError(f"bad status line {status_line!r}")
        status = int(status_line[9:12])
        headers: list[tuple[str, str]] = []
        length = -1
        chunked = False
        close = status_line.startswith("HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            value = value.strip()
            headers.append((name, value))
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif name == "set-cookie":
                self._set_cookie(value)
            elif name == "connection":
                close = value.lower() == "close"
        try:
            if chunked:
                body = await self._read_chunked(reader)
            elif length >= 0:
                body = await reader.readexactly(length) if length else b""
            elif req.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                body = b""
            else:  # body delimited by close
                body = await reader.read()
                close = True
        except asyncio.IncompleteReadError as e:
            self.close()
            raise HTTPError("connection closed mid-body") from e
        if close:
            self.close()
        return Response(status, headers, body)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                # trailers until an empty line
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def _set_cookie(self, value: str) -> None:
        pair, _, attrs = value.partition(";")
        name, eq, val = pair.partition("=")
        if not eq:
            return
        name = name.strip()
        val = val.strip()
        attrs_l = attrs.lower().replace(" ", "")
        expired = "max-age=0" in attrs_l or "expires=thu,01jan1970" in attrs_l
        if expired or val in ("", '""'):
            if self.cookies.pop(name, None) is not None:
                self._jar_version += 1
        elif self.cookies.get(name) != val:
            self.cookies[name] = val
            self._jar_version += 1


# -- the load driver -------------------------------------------------------------


@dataclass(slots=True)
class LoadResult:
    seconds: float  # measured window
    ok: int = 0  # 2xx (or expected) responses completed in the window
    errors: int = 0  # unexpected status or exception in the window
    total: int = 0  # every completed request, warm-up included
    latencies_ns: list[int] = field(default_factory=list)  # window only
    # per sample of latencies_ns (same order): its end, ns after the window's
    # start, and the index of its connection (``--timeline``)
    ends_ns: list[int] = field(default_factory=list)
    conn_index: list[int] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)  # first few, for stderr

    @property
    def requests(self) -> int:
        return self.ok + self.errors

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile_ms(self.latencies_ns, q)


def timeline(result: LoadResult, step_s: float = 1.0) -> list[str]:
    """``--timeline``: the window per ``step_s`` (requests, p50, p99 — a tail
    made of one stall shows in one line) and the connections' mean latency
    (several server processes sharing the connections unevenly show as two
    groups)."""
    lines = []
    buckets: dict[int, list[int]] = {}
    per_conn: dict[int, list[int]] = {}
    step = int(step_s * 1e9)
    for lat, end, conn in zip(result.latencies_ns, result.ends_ns, result.conn_index, strict=True):
        buckets.setdefault(end // step, []).append(lat)
        per_conn.setdefault(conn, []).append(lat)
    for k in sorted(buckets):
        got = buckets[k]
        lines.append(
            f"{k * step_s:5.1f} s  {len(got):6,}  p50 {percentile_ms(list(got), 50):7.2f}  "
            f"p99 {percentile_ms(list(got), 99):7.2f} ms"
        )
    means = sorted((sum(v) / len(v) / 1e6, c) for c, v in per_conn.items() if v)
    if means:
        lines.append("connections' mean latency ms: " + " ".join(f"{m:.0f}" for m, _ in means))
    return lines


def percentile_ms(samples_ns: list[int], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of nanosecond samples, in ms.
    Sorts ``samples_ns`` in place."""
    if not samples_ns:
        return 0.0
    samples_ns.sort()
    rank = max(1, math.ceil(q / 100 * len(samples_ns)))
    return samples_ns[min(rank, len(samples_ns)) - 1] / 1e6


async def drive(
    conns: Sequence[HTTPConnection],
    requests: Sequence[Sequence[Request]],
    *,
    seconds: float,
    warmup: float,
    on_window_start: Callable[[], None] | None = None,
    grace: float = 10.0,
) -> LoadResult:
    """Run one coroutine per connection, each cycling through its requests
    back to back until the deadline. Requests that complete inside
    [start + warmup, start + warmup + seconds] are counted."""
    result = LoadResult(seconds=seconds)
    start = time.perf_counter_ns()
    window_start = start + int(warmup * 1e9)
    deadline = window_start + int(seconds * 1e9)
    lat, ends, owners = result.latencies_ns, result.ends_ns, result.conn_index

    def record_error(msg: str) -> None:
        if len(result.error_samples) < 5:
            result.error_samples.append(msg)

    async def one(conn: HTTPConnection, reqs: Sequence[Request], index: int) -> None:
        n = len(reqs)
        i = 0
        clock = time.perf_counter_ns
        while True:
            t0 = clock()
            if t0 >= deadline:
                return
            req = reqs[i % n]
            i += 1
            err: str | None = None
            try:
                err = req.check(await conn.request(req))
            except Exception as e:  # any failure is an error sample, never a crash
                conn.close()
                err = f"{req.method} {req.path} -> {type(e).__name__}: {e}"
            t1 = clock()
            result.total += 1
            if window_start <= t1 <= deadline:
                lat.append(t1 - t0)
                ends.append(t1 - window_start)
                owners.append(index)
                if err is None:
                    result.ok += 1
                else:
                    result.errors += 1
                    record_error(err)
            if err is not None and not conn.connected:
                await asyncio.sleep(0.01)  # do not spin on a dead server

    async def mark_window() -> None:
        await asyncio.sleep(max(0.0, (window_start - time.perf_counter_ns()) / 1e9))
        if on_window_start is not None:
            on_window_start()

    marker = asyncio.create_task(mark_window())
    tasks = [
        asyncio.create_task(one(c, r, i))
        for i, (c, r) in enumerate(zip(conns, requests, strict=True))
    ]
    budget = warmup + seconds + grace
    try:
        done, pending = await asyncio.wait(tasks, timeout=budget)
    finally:
        for t in tasks:
            t.cancel()
        marker.cancel()
    for t in done:
        exc = t.exception()
        if exc is not None:
            result.errors += 1
            record_error(f"client crashed: {type(exc).__name__}: {exc}")
    if pending:
        record_error(f"{len(pending)} clients still waiting {grace:.0f} s after the deadline")
        await asyncio.gather(*pending, return_exceptions=True)
    return result


async def gather_limited(coros: Sequence[Awaitable[object]], limit: int = 8) -> list[object]:
    """Await coroutines with at most ``limit`` in flight (client setup:
    signing in 32 clients at once would only queue on the server)."""
    sem = asyncio.Semaphore(limit)

    async def guarded(c: Awaitable[object]) -> object:
        async with sem:
            return await c

    return await asyncio.gather(*(guarded(c) for c in coros))
