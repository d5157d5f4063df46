"""Rater mode under attack: login brute force and spraying, every route a rater can reach, clip URLs bound to the
rater and expiring, code resets ending sessions, and one live server per campaign."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from workbench.campaigns import db
from workbench.campaigns.lease import ServerLease
from workbench.campaigns.service import RaterService
from workbench.campaigns.throttle import LoginThrottle, ThrottlePolicy
from workbench.core.errors import InputError
from workbench.core.store import Store

POLICY = ThrottlePolicy(ip_failures=20, rater_failures=8, window_s=600.0, lockout_s=900.0)


class Clock:
    """A clock the test moves by hand: lockouts and URL lifetimes expire without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def serve(
    store: Store, campaign: str, port: int, clock: Clock, **service_kw: Any
) -> Iterator[tuple[Any, str]]:
    from workbench.ui.launch import ServeOptions, launch
    from workbench.ui.rater import build_rater_app

    factory = functools.partial(
        RaterService, throttle=LoginThrottle(POLICY, clock), clock=clock, **service_kw
    )
    app = build_rater_app(store, campaign=campaign, tracking=False, service_factory=factory)
    launch(app, ServeOptions(port=port), prevent_thread_lock=True, quiet=True)
    try:
        yield app, f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def login(http: httpx.Client, rater: str, code: str) -> httpx.Response:
    return http.post("login", data={"username": rater, "password": code})


def logged_in(url: str, rater: str, code: str) -> httpx.Client:
    http = httpx.Client(base_url=url)
    assert login(http, rater, code).status_code == 200
    return http


def current(http: httpx.Client) -> list[Any]:
    """The rater page's /current call, the way the browser makes it (unqueued, direct)."""
    response = http.post("gradio_api/run/current", json={"data": []})
    response.raise_for_status()
    return list(response.json()["data"])


def vote(http: httpx.Client, pair_id: str, outcome: str = "tie") -> list[Any]:
    response = http.post(f"gradio_api/run/vote_{outcome}", json={"data": [pair_id, None, None, "", 0, 0]})
    response.raise_for_status()
    return list(response.json()["data"])


def clip_urls(view: list[Any]) -> list[str]:
    return re.findall(r'src="([^"]+)"', view[0])


def test_brute_force_of_200_codes_is_locked_out_and_the_right_code_works_after_expiry(
    tmp_path, new_campaign, free_port
):
    store, clock = Store(), Clock()
    new_campaign(store, tmp_path / "imp", name="sec-brute", raters=2, quota=10)
    with serve(store, "sec-brute", free_port(), clock) as (app, url):
        http = httpx.Client(base_url=url)
        statuses = [login(http, "rater00", f"guess-{i:04d}").status_code for i in range(200)]
        assert statuses[: POLICY.rater_failures] == [400] * POLICY.rater_failures
        assert set(statuses[POLICY.rater_failures :]) == {429}
        # the flood cost eight hashes, not two hundred
        assert app.service.throttle.hash_checks == POLICY.rater_failures
        locked = login(http, "rater00", "code-0000")
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "try again in" in locked.json()["detail"]
        assert login(http, "rater01", "code-0001").status_code == 200  # the address itself is not locked yet
        clock.now += POLICY.lockout_s + 1
        assert login(http, "rater00", "code-0000").status_code == 200

        # spraying many names from one address locks the address, for every name, until it expires
        spray = [login(http, f"ghost{i:03d}", "code-0000").status_code for i in range(200)]
        assert spray.count(400) == POLICY.ip_failures and spray.count(429) == 200 - POLICY.ip_failures
        assert login(http, "rater01", "code-0001").status_code == 429
        clock.now += POLICY.lockout_s + 1
        assert login(http, "rater01", "code-0001").status_code == 200


# Paths a rater's browser never needs: all must answer 404, logged in or not.
BLOCKED = [
    ("POST", "gradio_api/upload"),
    ("POST", "upload"),
    ("GET", "gradio_api/upload_progress"),
    ("GET", "monitoring"),
    ("GET", "monitoring/summary"),
    ("GET", "gradio_api/monitoring/summary"),
    ("GET", "monitoring/0123456789abcdef"),
    ("GET", "gradio_api/file=/etc/passwd"),
    ("GET", "gradio_api/proxy=http://127.0.0.1:1/config"),
    ("GET", "gradio_api/dev/reload"),
    ("GET", "openapi.json"),
    ("GET", "docs"),
    ("GET", "redoc"),
]
# Server-sent-event streams (long-lived, or broken off mid-body for an unknown event): covered by the other tests
STREAMING = ("heartbeat", "queue/data", "stream", "sse", "{event_id}")


def reachable_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, str]]:
    """(method, path) of every route, mounted routers included; logout last, since it ends the session."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router (gradio_api/...)
        if included is not None:
            found += reachable_routes(included.routes, prefix)
            continue
        path = prefix + getattr(route, "path", "")
        if hasattr(route, "routes"):  # a mounted app
            found += reachable_routes(route.routes, path)
            continue
        if not path or any(s in path for s in STREAMING):
            continue
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method not in ("HEAD", "OPTIONS"):
                found.append((method, path))
    return sorted(found, key=lambda mp: mp[1].startswith("/logout"))


def test_every_route_a_rater_reaches_leaks_nothing_and_the_hardened_ones_are_off(
    tmp_path, new_campaign, free_port, system_names
):
    store, clock = Store(), Clock()
    new_campaign(store, tmp_path / "imp", name="sec-routes", raters=2, quota=10)
    with serve(store, "sec-routes", free_port(), clock) as (app, url):
        http = logged_in(url, "rater00", "code-0000")
        view = current(http)
        assert clip_urls(view) and all(http.get(u).status_code == 200 for u in clip_urls(view))
        for method, path in BLOCKED:
            for client in (http, httpx.Client(base_url=url)):
                files = {"files": ("blob.bin", b"x" * 4096)} if method == "POST" else None
                response = client.request(method, path, files=files)
                assert response.status_code == 404, (method, path, response.status_code)
        forbidden = [*system_names, "rater01", "sec-routes", str(tmp_path)]
        reached = []
        for method, path in reachable_routes(app.blocks.app.routes):
            response = http.request(method, re.sub(r"\{[^}]+\}", "x", path).lstrip("/"))
            reached.append((method, path))
            assert response.status_code < 500, (method, path, response.status_code, response.text[:200])
            leaks = [f for f in forbidden if f in response.text]
            assert not leaks, (method, path, leaks)
        assert len(reached) > 40  # Gradio's own routes (top level and under gradio_api) plus ours
        assert all(http.get(u).status_code == 404 for u in clip_urls(view))  # /logout (tried last) ended it


def test_clip_urls_serve_only_their_rater_until_answered_or_expired(tmp_path, new_campaign, free_port):
    store, clock = Store(), Clock()
    new_campaign(store, tmp_path / "imp", name="sec-clips", raters=2, quota=10)
    with serve(store, "sec-clips", free_port(), clock, clip_ttl_s=600.0) as (app, url):
        alice, bob = logged_in(url, "rater00", "code-0000"), logged_in(url, "rater01", "code-0001")
        anonymous = httpx.Client(base_url=url)
        view = current(alice)
        first = clip_urls(view)
        assert len(first) == 2
        for u in first:
            assert alice.get(u).status_code == 200
            assert anonymous.get(u).status_code == 404  # the token alone is not a credential
            assert bob.get(u).status_code == 404  # another rater's session does not open it
        nxt = vote(alice, view[1])
        assert all(alice.get(u).status_code == 404 for u in first)  # answered: its URLs are dead
        second = clip_urls(nxt)
        assert all(alice.get(u).status_code == 200 for u in second)
        clock.now += 601
        assert all(alice.get(u).status_code == 404 for u in second)  # expired
        fresh = clip_urls(current(alice))  # a page load issues new URLs for the same open pair
        assert current(alice)[1] == nxt[1] and set(fresh).isdisjoint(second)
        assert all(alice.get(u).status_code == 200 for u in fresh)
        # a Range header with a huge number is a client error, never a server error
        assert alice.get(fresh[0], headers={"Range": "bytes=0-" + "9" * 5000}).status_code == 200


def test_resetting_a_code_ends_that_raters_sessions(tmp_path, new_campaign, free_port):
    store, clock = Store(), Clock()
    new_campaign(store, tmp_path / "imp", name="sec-reset", raters=2, quota=10)
    with serve(store, "sec-reset", free_port(), clock) as (app, url):
        alice, bob = logged_in(url, "rater00", "code-0000"), logged_in(url, "rater01", "code-0001")
        urls = clip_urls(current(alice))
        assert alice.get("gradio_api/user").json() == "rater00"
        new_code = db.reset_code(store, "sec-reset", "rater00")  # as `workbench campaign code` does
        assert alice.get("gradio_api/user").json() is None
        assert alice.post("gradio_api/run/current", json={"data": []}).status_code in (401, 403)
        assert all(alice.get(u).status_code == 404 for u in urls)
        assert bob.get("gradio_api/user").json() == "rater01"  # other raters stay logged in
        assert login(httpx.Client(base_url=url), "rater00", "code-0000").status_code == 400
        again = logged_in(url, "rater00", new_code)
        assert again.get("gradio_api/user").json() == "rater00" and clip_urls(current(again))


def test_a_second_server_on_the_campaign_refuses_and_names_the_first(tmp_path, new_campaign, free_port):
    from workbench.ui.rater import build_rater_app

    store, clock = Store(), Clock()
    new_campaign(store, tmp_path / "imp", name="sec-dual", raters=1, quota=6)
    port = free_port()
    with serve(store, "sec-dual", port, clock) as (app, url):
        lease = db.get_lease(store.connect(), "sec-dual")
        assert lease is not None and lease.port == port
        with pytest.raises(InputError, match=rf"already served .*pid {lease.pid} .*port {port}"):
            build_rater_app(store, campaign="sec-dual", tracking=False)
        http = logged_in(url, "rater00", "code-0000")
        view = current(http)
        while view[1]:
            view = vote(http, view[1])
    assert db.get_lease(store.connect(), "sec-dual") is None  # released on close
    assert len(db.vote_rows(store, "sec-dual")) == 6
    second = build_rater_app(store, campaign="sec-dual", tracking=False)  # now free
    second.close()


def test_a_stale_lease_is_taken_over_after_expiry_and_the_old_holder_stores_nothing(tmp_path, new_campaign):
    store = Store()
    new_campaign(store, tmp_path / "imp", name="sec-stale", raters=1, quota=6)
    now = [0.0]
    first = ServerLease(store, "sec-stale", ttl_s=30.0, clock=lambda: now[0])
    first.acquire(port=7001)
    service = RaterService(store, "sec-stale", lease=first)
    pair = service.current("rater00")
    now[0] = 20.0
    with pytest.raises(InputError, match="already served"):
        ServerLease(store, "sec-stale", ttl_s=30.0, clock=lambda: now[0]).acquire()
    assert first.renew()  # the heartbeat keeps it alive past the first expiry
    now[0] = 49.0
    with pytest.raises(InputError, match="already served"):
        ServerLease(store, "sec-stale", ttl_s=30.0, clock=lambda: now[0]).acquire()
    now[0] = 51.0  # 30 s without a heartbeat: stale
    taker = ServerLease(store, "sec-stale", ttl_s=30.0, clock=lambda: now[0])
    taker.acquire()
    assert not first.renew() and first.lost
    with pytest.raises(InputError, match="no longer holds the campaign"):
        service.vote("rater00", pair.pair_id, "tie")
    assert db.vote_rows(store, "sec-stale") == []
    taker.release()


def test_a_lease_whose_process_died_on_this_host_is_taken_over_at_once(tmp_path, new_campaign):
    store = Store()
    new_campaign(store, tmp_path / "imp", name="sec-dead", raters=1, quota=6)
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(done.stdout)  # exited and reaped: no such process any more
    now = [0.0]
    ServerLease(store, "sec-dead", clock=lambda: now[0], pid=dead_pid).acquire()
    now[0] = 1.0  # far from expiry
    ServerLease(store, "sec-dead", clock=lambda: now[0]).acquire()
    assert db.get_lease(store.connect(), "sec-dead").pid != dead_pid  # type: ignore[union-attr]


def test_the_throttled_address_is_the_peer_or_what_a_local_proxy_appended():
    from workbench.ui.rater import client_address

    def scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return {"client": (peer, 5000), "headers": headers}

    assert client_address(scope("203.0.113.9")) == "203.0.113.9"
    assert client_address(scope("203.0.113.9", "1.1.1.1")) == "203.0.113.9"  # not a local proxy: ignored
    assert client_address(scope("127.0.0.1")) == "127.0.0.1"
    # a local tunnel or proxy: the hop it appended, whatever the client put before it
    assert client_address(scope("127.0.0.1", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
    assert client_address(scope("::1", "198.51.100.8")) == "198.51.100.8"
