"""Page-test fixtures: a small world of accounts, page sign-in, a live server."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests import builders as b
from tongban.core.settings import Settings

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def page_login(client, username: str, password: str = b.PASSWORD, *, next_url: str = ""):
    """Sign in through the sign-in page (as a browser would); returns the redirect response."""
    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": next_url},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return r


def token_of(client, path: str = "/") -> str:
    """The CSRF token the pages carry for the current client (visitor or signed in)."""
    return csrf_from(client.get(path).text)


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)


@pytest.fixture
async def world(session) -> World:
    """历下 (LIXIA) and 市中 (SHIZHONG) in 济南: staff of every kind, two citizens
    with an enterprise each, a third citizen who can be made an agent."""
    s = session
    w = World()
    d_lixia = await b.department(s, region=b.LIXIA, name="历下区行政审批服务局")
    d_city = await b.department(s, region=b.JINAN, name="济南市大数据局")
    await b.staff(s, roles=["clerk"], region=b.LIXIA, dept=d_lixia, username="clerk")
    await b.staff(s, roles=["approver"], region=b.LIXIA, dept=d_lixia, username="approver")
    await b.staff(s, roles=["leader"], region=b.JINAN, username="leader")
    await b.staff(s, roles=["supervisor"], region=b.JINAN, dept=d_city, username="supervisor")
    await b.staff(s, roles=["dispatcher"], region=b.JINAN, dept=d_city, username="dispatcher")
    await b.staff(s, roles=["platform_admin"], region=b.SHANDONG, username="admin")
    alice, _ = await b.citizen(s, region=b.LIXIA, username="alice")
    bob, _ = await b.citizen(s, region=b.SHIZHONG, username="bob")
    carol = await b.person(s, region=b.LIXIA, name="陈经办")
    e1 = await b.enterprise(s, rep=alice)
    e2 = await b.enterprise(s, rep=bob)
    await s.commit()
    w.ids = {"alice": alice.id, "bob": bob.id, "carol": carol.id, "e1": e1.id, "e2": e2.id}
    w.numbers = {"alice": alice.id_number, "bob": bob.id_number, "carol": carol.id_number}
    w.phones = {"alice": alice.phone or ""}
    return w


# --- live server for the browser tests ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The real application under uvicorn on 127.0.0.1 and a free port, on this test's database."""
    import uvicorn

    from tongban.web.app import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
