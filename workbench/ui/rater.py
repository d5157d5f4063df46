"""Rater mode: the blind A/B rating page and nothing else (``workbench app --mode rater --campaign NAME``).

What the browser gets is limited on purpose: the venue instructions, two players labelled A and B whose URLs are
``ab/clip/<random token>`` (a token per served pair and side, resolved only in server memory), an opaque
``pair_id``, progress and messages. No system name, campaign name, prompt, file name or path. Audio goes through
our own route instead of Gradio's file cache so that no path and no ``Last-Modified`` date (which would group
clips by when each system was generated) ever reach the browser.

Raters log in with Gradio's login form: user name = rater id, password = their login code (hashed in the store).
Admin credentials are not accepted here and admin endpoints do not exist in this app.

Hardening (``RaterGate``, an ASGI middleware around every route): failed logins are throttled per client address
and per rater name (``campaigns.throttle``; a locked attempt gets HTTP 429 before any hashing); every session
is tied to the code it logged in with, so a code reset logs that rater out (``campaigns.access``); uploads,
``/monitoring``, Gradio's file and proxy routes, the dev-reload stream and FastAPI's ``/openapi.json`` and
``/docs`` answer 404; a clip URL serves only the rater it was issued to, until the pair is answered or the
URL expires. The server holds the campaign's lease (``campaigns.lease``): a second server refuses to start.
The client address is the TCP peer's, except when the peer is this machine (a share tunnel's local client or a
reverse proxy on the host): then it is the last entry of ``X-Forwarded-For``, the one that proxy appended
(entries before it are whatever the client sent). Nobody off the machine can connect from a loopback address,
so that header cannot be forged from outside; a proxy elsewhere on the network is not trusted. (A tunnel that
passes the client's header on without appending its own lets that client choose its "address"; the per-rater
lockout still bounds guessing at each code.)
"""

from __future__ import annotations

import contextvars
import html
import logging
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
import gradio as gr
from fastapi import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from workbench.campaigns import db
from workbench.campaigns.lease import ServerLease
from workbench.campaigns.service import CLIP_ROUTE, PairView, RaterService
from workbench.campaigns.stimuli import campaign_dir
from workbench.campaigns.stream import VoteStream
from workbench.campaigns.throttle import Refusal
from workbench.core.errors import InputError
from workbench.core.store import Store
from workbench.ui.context import ui_errors
from workbench.ui.launch import ServeExtras, WebApp

log = logging.getLogger("workbench.ui.rater")

OUTCOME_BUTTONS = (
    ("left", "A is better", "a"),
    ("right", "B is better", "b"),
    ("tie", "About the same", "t"),
    ("both_bad", "Both unacceptable", "x"),
)
FIT_CHOICES = ["1", "2", "3", "4", "5"]
_RANGE_RE = re.compile(r"bytes=(\d{0,15})-(\d{0,15})$")  # bounded: int() of a 5000-digit end raises
# Routes a rater never needs. Uploads (the page has no upload component), traffic monitoring (it counts every
# rater's clicks), Gradio's file and proxy routes, the dev-reload stream (never ends) and the API docs.
BLOCKED_ROUTES = re.compile(
    r"^(?:/gradio_api)?/(?:upload(?:_progress)?|monitoring(?:/.*)?|dev/reload|file=.*|proxy=.*"
    r"|openapi\.json|docs(?:/.*)?|redoc)/?$"
)
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
# The login attempt in flight, set by RaterGate around Gradio's /login route, which calls our login function
# with the user name and code only: this carries the client address in, and the checked code generation out.
_LOGIN: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("rater_login", default=None)

# Runs in the rater's page. It measures how much of each clip was actually played (the union of the played
# ranges), pauses one clip when the other starts, unlocks the vote buttons once both clips reached the minimum,
# and maps keys: 1 / 2 play-pause A / B; A, B, T, X vote; [ and ] set a loop's start and end at the playing
# position, \ clears it. The server repeats every check (service._gate).
# - Switching: starting one clip while the other plays starts it at the other's position, so the same passage is
#   compared (the clips have the same length and timeline).
# - A vote key re-checks the gate when pressed instead of trusting the last 250 ms tick, so a key pressed just as
#   the gate opens votes; a key pressed while it is still closed says why in #ab-key-note instead of vanishing.
# - Loop: one section for both clips, kept when switching; cleared when the next pair arrives.
PLAYER_JS = """
<script>
(() => {
  const VOTES = {a: ['ab_vote_left', 'A is better'], b: ['ab_vote_right', 'B is better'], t: ['ab_vote_tie', 'About the same'], x: ['ab_vote_both_bad', 'Both unacceptable']};
  const played = (el) => { let s = 0; for (let i = 0; i < el.played.length; i++) s += el.played.end(i) - el.played.start(i); return s; };
  const audios = () => Array.from(document.querySelectorAll('audio[data-ab-side]'));
  const clip = (side) => document.querySelector(`audio[data-ab-side="${side}"]`);
  window.abListened = (side) => { const el = clip(side); return el ? Math.round(played(el) * 100) / 100 : 0; };
  const button = (id) => { const el = document.getElementById(id); return el && el.tagName !== 'BUTTON' ? el.querySelector('button') : el; };
  const need = () => { const box = document.querySelector('[data-ab-min]'); return box ? parseFloat(box.dataset.abMin) : null; };
  const gateOpen = () => { const n = need(); return n !== null && audios().every((el) => played(el) >= n); };
  const note = (text) => { const el = document.getElementById('ab-key-note'); if (el) el.textContent = text; };
  let loop = null;  // {start, end, key}: key = clip A's URL, so a new pair drops the loop
  const loopLabel = () => {
    const el = document.getElementById('ab-loop-label'); if (!el) return;
    el.textContent = loop && loop.end > loop.start ? `Loop ${loop.start.toFixed(2)}-${loop.end.toFixed(2)} s` : (loop ? `Loop from ${loop.start.toFixed(2)} s: press ] at its end` : 'No loop');
  };
  const tick = () => {
    const n = need(); const ok = gateOpen();
    for (const el of audios()) {
      const s = played(el); const label = document.querySelector(`[data-ab-count="${el.dataset.abSide}"]`);
      if (label) label.textContent = s >= n ? 'listened' : `${Math.min(s, n).toFixed(1)} / ${n} s`;
    }
    for (const [id] of Object.values(VOTES)) { const b = button(id); if (b) b.disabled = !ok; }
    const gate = document.getElementById('ab-gate-note'); if (gate) gate.style.visibility = ok ? 'hidden' : 'visible';
    const a = clip('A'); if (loop && (!a || a.getAttribute('src') !== loop.key)) { loop = null; loopLabel(); }
  };
  setInterval(tick, 250);
  const wrap = () => {
    if (loop && loop.end > loop.start) for (const el of audios()) {
      if (!el.paused && (el.currentTime >= loop.end || el.currentTime < loop.start - 0.05)) {
        el.currentTime = loop.start; el.dataset.abLoops = String(parseInt(el.dataset.abLoops || '0') + 1);
      }
    }
    requestAnimationFrame(wrap);
  };
  requestAnimationFrame(wrap);
  document.addEventListener('play', (e) => {
    if (!e.target.dataset || !e.target.dataset.abSide) return;
    for (const el of audios()) {
      if (el === e.target) continue;
      if (!el.paused && el.currentTime <= (e.target.duration || Infinity)) e.target.currentTime = el.currentTime;
      el.pause();
    }
  }, true);
  const playing = () => audios().find((el) => !el.paused) || audios().find((el) => el.currentTime > 0) || clip('A');
  const setLoop = (edge) => {
    const el = playing(); const a = clip('A'); if (!el || !a) return;
    const t = el.currentTime;
    if (edge === 'clear') loop = null;
    else if (edge === 'start' || !loop) loop = {start: edge === 'end' ? 0 : t, end: edge === 'end' ? t : 0, key: a.getAttribute('src')};
    else loop.end = t;
    if (loop && loop.end && loop.end <= loop.start) loop = {start: loop.end, end: 0, key: loop.key};
    loopLabel();
  };
  document.addEventListener('click', (e) => {
    const t = e.target.closest ? e.target.closest('[data-ab-loop]') : null;
    if (t) { setLoop(t.dataset.abLoop); e.preventDefault(); }
  });
  document.addEventListener('keydown', (e) => {
    const t = e.target; if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    const toggle = (side) => { const el = clip(side); if (el) { el.paused ? el.play() : el.pause(); } };
    if (k === '1') { toggle('A'); e.preventDefault(); return; }
    if (k === '2') { toggle('B'); e.preventDefault(); return; }
    if (k === '[' || k === ']' || k === '\\\\') { setLoop(k === '[' ? 'start' : k === ']' ? 'end' : 'clear'); e.preventDefault(); return; }
    if (!VOTES[k]) return;
    e.preventDefault();
    tick();  // the gate as of now, not as of the last tick
    const b = button(VOTES[k][0]);
    if (b && !b.disabled) { note(''); b.click(); return; }
    const n = need();
    const left = audios().map((el) => `${el.dataset.abSide}: ${Math.max(0, n - played(el)).toFixed(1)} s`).join(', ');
    note(`Not sent: "${VOTES[k][1]}" unlocks once both clips have played ${n} s (still to play: ${left}).`);
  });
})();
</script>
"""

# Sent as the vote's js= preprocessor: replaces the two listened-seconds inputs with the measured values.
COLLECT_JS = "(pid, fa, fb, c, la, lb) => [pid, fa, fb, c, window.abListened ? window.abListened('A') : 0, window.abListened ? window.abListened('B') : 0]"

CSS = """
.ab-players { display: flex; gap: 24px; flex-wrap: wrap; }
.ab-clip { flex: 1 1 280px; padding: 12px; border-radius: 8px; background: var(--block-background-fill); }
.ab-clip h3 { margin: 0 0 8px 0; font-size: 1.4rem; }
.ab-clip audio { width: 100%; }
.ab-count { font-size: 0.9rem; opacity: 0.8; }
.ab-loop { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-top: 8px; }
.ab-loop button { padding: 2px 10px; border-radius: 6px; border: 1px solid var(--border-color-primary); }
#ab-key-note { min-height: 1.2em; font-weight: 600; }
"""


def player_html(view: PairView, min_listen_s: float) -> str:
    if view.finished:
        return ""
    parts = [f'<div class="ab-players" data-ab-min="{min_listen_s:g}">']
    for side, url in (("A", view.url_left), ("B", view.url_right)):
        parts.append(
            f'<div class="ab-clip"><h3>{side}</h3>'
            f'<audio controls preload="none" controlslist="nodownload noplaybackrate" data-ab-side="{side}" '
            f'src="{html.escape(url)}"></audio>'
            f'<div class="ab-count">Listened: <span data-ab-count="{side}">0 / {min_listen_s:g} s</span></div></div>'
        )
    parts.append("</div>")
    parts.append(
        '<div class="ab-loop"><button type="button" data-ab-loop="start">Loop start [</button>'
        '<button type="button" data-ab-loop="end">Loop end ]</button>'
        '<button type="button" data-ab-loop="clear">No loop \\</button>'
        '<span id="ab-loop-label">No loop</span></div>'
        '<p id="ab-key-note" role="status" aria-live="polite"></p>'
    )
    if min_listen_s > 0:
        parts.append(
            f'<p id="ab-gate-note">Play both clips for at least {min_listen_s:g} seconds each to unlock the '
            "buttons. Keys: 1 / 2 play A / B (switching keeps the position); A, B, T, X vote; [ and ] loop a "
            "section, \\ ends the loop.</p>"
        )
    return "".join(parts)


def progress_text(view: PairView) -> str:
    if view.closed:
        return f"**This campaign has closed: no more trials are needed. You did {view.done}; thank you.**"
    if view.finished:
        return f"**Finished: {view.done} of {view.quota} trials.**"
    return f"Trial {min(view.done + 1, view.quota)} of {view.quota}"


def pick_campaign(store: Store, campaign: str | None) -> str:
    """The named campaign, else ``WORKBENCH_CAMPAIGN``, else the newest open one."""
    campaign = campaign or os.environ.get("WORKBENCH_CAMPAIGN")
    if campaign:
        return campaign
    names = db.open_campaigns(store)
    if not names:
        raise InputError(
            "campaign", None, "no open campaign: create one with `workbench campaign create FILE.yaml`"
        )
    return str(names[0])


def session_token(request: Request | Scope) -> str | None:
    """The Gradio session token a request carries (either of its two cookies), or None."""
    req = request if isinstance(request, Request) else Request(request)
    cookie_id = getattr(req.app, "cookie_id", None)
    if cookie_id is None:
        return None
    return req.cookies.get(f"access-token-{cookie_id}") or req.cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )


def clip_response(service: RaterService, token: str, rater: str | None, range_header: str | None) -> Any:
    """The bytes of one served clip, with single-range support so players can seek. No dates, no names.
    Unknown, expired, answered and other raters' tokens all get the same 404."""
    data = service.clip_bytes(token, rater)
    if data is None:
        return Response(status_code=404)
    headers = {"Cache-Control": "no-store", "Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff"}
    match = _RANGE_RE.match(range_header or "")
    if match and (match.group(1) or match.group(2)):
        size = len(data)
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        else:
            start, end = max(0, size - int(match.group(2))), size - 1
        if start > end or start >= size:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Response(data[start : end + 1], status_code=206, media_type="audio/wav", headers=headers)
    return Response(data, media_type="audio/wav", headers=headers)


def clip_route(service: RaterService) -> Route:
    """The token route every clip is served through (the launcher puts it before Gradio's catch-all routes)."""

    async def clip(request: Request) -> Any:
        token = session_token(request)
        rater = service.session_rater(token) if token else None
        return clip_response(service, request.path_params["token"], rater, request.headers.get("range"))

    return Route(f"/{CLIP_ROUTE}/{{token}}", clip, methods=["GET"])


def login_function(service: RaterService) -> Callable[[str, str], Awaitable[bool]]:
    """Gradio's auth function: the throttled code check. A throttled attempt is answered 429 with Retry-After at
    once; a code check (a PBKDF2 hash, ~50 ms of CPU) runs in a worker thread, one at a time, so a flood of
    logins neither blocks the event loop that serves votes nor takes both cores of a small server."""
    limiter: list[anyio.CapacityLimiter] = []  # made on first use: it belongs to the server's event loop

    def refuse(refusal: Refusal) -> HTTPException:
        wait_s = max(1, int(refusal.retry_after_s + 0.999))
        return HTTPException(429, detail=refusal.message, headers={"Retry-After": str(wait_s)})

    async def login(rater: str, code: str) -> bool:
        attempt = _LOGIN.get()
        ip = attempt["ip"] if attempt else ""
        locked = service.throttle.locked(ip, rater)
        if locked is not None:
            raise refuse(locked)
        if not limiter:
            limiter.append(anyio.CapacityLimiter(1))
        result = await anyio.to_thread.run_sync(service.attempt_login, ip, rater, code, limiter=limiter[0])
        if result.refusal is not None:
            raise refuse(result.refusal)
        if result.ok and attempt is not None:
            attempt.update(rater=rater, generation=result.generation)
        return result.ok

    return login


def client_address(scope: Scope) -> str:
    """The address the login throttle counts (see the module docstring)."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    if peer not in ("127.0.0.1", "::1") and not peer.startswith("127."):
        return peer
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-forwarded-for":
            hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            if hops:
                return hops[-1][:64]
    return peer


class RaterGate:
    """ASGI middleware of the rater app: blocked routes, login throttling context, session revocation."""

    def __init__(self, app: Any, service: RaterService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root) :]
        if BLOCKED_ROUTES.match(path):
            await Response(status_code=404)(scope, receive, send)
            return
        self._revoke_stale_session(scope)
        if path.rstrip("/") == "/login" and scope.get("method") == "POST":
            await self._login(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _revoke_stale_session(self, scope: Scope) -> None:
        """Drop a Gradio session this server did not issue under the rater's current code: the request then
        goes on as a logged-out one (the page shows the login form)."""
        tokens = getattr(scope.get("app"), "tokens", None)
        token = session_token(scope)
        if tokens is None or not token or token not in tokens:
            return
        if self.service.session_rater(token) != tokens.get(token):
            tokens.pop(token, None)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        attempt: dict[str, Any] = {"ip": client_address(scope)}
        locked = self.service.throttle.address_locked(attempt["ip"])
        if locked is not None:  # answered before the form is parsed: a flood from a locked address is cheap
            wait_s = str(max(1, int(locked.retry_after_s + 0.999)))
            response = JSONResponse(
                {"detail": locked.message}, status_code=429, headers={"Retry-After": wait_s}
            )
            await response(scope, receive, send)
            return
        reset = _LOGIN.set(attempt)

        async def send_and_record(message: MutableMapping[str, Any]) -> None:
            if (
                message["type"] == "http.response.start"
                and message.get("status") == 200
                and "rater" in attempt
            ):
                # Recorded before the reply leaves, so no request can carry the token before it is known.
                for name, value in message.get("headers", []):
                    if name.lower() == b"set-cookie" and value.startswith(b"access-token-"):
                        token = value.split(b";", 1)[0].split(b"=", 1)[1].decode()
                        self.service.sessions.add(token, attempt["rater"], attempt["generation"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            _LOGIN.reset(reset)


@dataclass(frozen=True)
class RaterApp(WebApp):
    """The rating page, its service, the vote stream it feeds and the campaign lease (closed with the app)."""

    service: RaterService
    stream: VoteStream | None = None
    lease: ServerLease | None = None

    def close(self) -> None:
        super().close()
        if self.stream is not None:
            self.stream.close()
        if self.lease is not None:
            self.lease.release()


def _tracking(store: Store, name: str, tracking: bool, mode: str | None) -> VoteStream | None:
    if not tracking:
        return None
    config = db.get_campaign(store, name).config
    return VoteStream(store, name, campaign_dir(name) / "tracking", mode=mode, config=config.to_dict())


def build_rater_app(
    store: Store,
    *,
    campaign: str | None = None,
    tracking: bool = True,
    tracking_mode: str | None = None,
    lease: ServerLease | None = None,
    service_factory: Callable[..., RaterService] = RaterService,
) -> RaterApp:
    """The rating page for ``campaign`` (default: $WORKBENCH_CAMPAIGN, else the newest open one). Serve it with
    ``launch.launch``: its extras are the rater login, the gate middleware, the clip route, the player script and
    the stylesheet. Takes the campaign's lease first: raises ``InputError`` naming the server that holds it.
    ``lease`` / ``service_factory``: injectable (clocks, policies) for tests."""
    name = pick_campaign(store, campaign)
    db.get_campaign(store, name)  # an unknown name fails with the known ones before a lease row is written
    lease = lease or ServerLease(store, name)
    lease.acquire()
    try:
        stream = _tracking(store, name, tracking, tracking_mode)
        service = service_factory(store, name, stream=stream.submit if stream else None, lease=lease)
    except BaseException:
        lease.release()
        raise
    with gr.Blocks(title="Listening test", analytics_enabled=False) as demo:
        _wire(demo, service, _layout(service.config))

    def started() -> None:
        if demo.server_port:
            lease.set_port(int(demo.server_port))
        lease.start_heartbeat()

    extras = ServeExtras(
        # Raters always log in with their own codes, never with admin credentials.
        auth_fn=login_function(service),
        auth_message="Log in with the rater name and code you were given.",
        allowed_paths=(),  # clips go through the token route only, never Gradio's file route
        head=PLAYER_JS,
        css=CSS,
        routes=(clip_route(service),),
        on_started=started,
        middleware=(Middleware(RaterGate, service=service),),
        max_file_size=0,
        monitoring=False,
        api_docs=False,
    )
    return RaterApp(blocks=demo, extras=extras, service=service, stream=stream, lease=lease)


@dataclass
class RaterComponents:
    rating: Any  # the column shown while trials remain
    finished: Any  # the thank-you column
    progress: Any
    player: Any
    fit_a: Any
    fit_b: Any
    comment: Any
    buttons: dict[str, Any]  # outcome -> vote button
    message: Any
    pair_id: Any
    listened_a: Any
    listened_b: Any

    @property
    def outputs(self) -> list[Any]:
        """What every render fills, in ``render``'s order."""
        return [
            self.player,
            self.pair_id,
            self.progress,
            self.message,
            self.fit_a,
            self.fit_b,
            self.comment,
            self.rating,
            self.finished,
        ]

    @property
    def vote_inputs(self) -> list[Any]:
        return [self.pair_id, self.fit_a, self.fit_b, self.comment, self.listened_a, self.listened_b]


def _fit(side: str, visible: bool) -> Any:
    return gr.Radio(
        FIT_CHOICES,
        label=f"Fit for this venue: {side.upper()} (optional, 1-5)",
        visible=visible,
        elem_id=f"ab_fit_{side}",
    )


def _layout(config: Any) -> RaterComponents:
    gr.Markdown("## Listening test")
    # outside the rating column, so that the count (and "this campaign has closed") stays on the finish screen
    progress = gr.Markdown("", elem_id="ab_progress")
    with gr.Column(visible=True) as rating:
        if config.instructions.strip():
            gr.Markdown(config.instructions, elem_id="ab_instructions")
        gr.Markdown(
            "Listen to **A** and **B**, then choose the one that fits the venue better. "
            "Choose *About the same* if neither is better and *Both unacceptable* if you would play neither."
        )
        player = gr.HTML("", elem_id="ab_player")
        with gr.Row():
            fit_a, fit_b = _fit("a", config.fit_ratings), _fit("b", config.fit_ratings)
        comment = gr.Textbox(label="Comment (optional)", lines=1, max_lines=3, visible=config.comments)
        with gr.Row():
            buttons = {
                outcome: gr.Button(
                    f"{label} ({key.upper()})", elem_id=f"ab_vote_{outcome}", variant="primary"
                )
                for outcome, label, key in OUTCOME_BUTTONS
            }
        message = gr.Markdown("", elem_id="ab_message")
    with gr.Column(visible=False) as finished:
        gr.Markdown("### Thank you!\nThere are no more trials for you. You can close this page.")
    pair_id = gr.Textbox(visible=False)
    listened_a, listened_b = gr.Number(visible=False), gr.Number(visible=False)
    return RaterComponents(
        rating,
        finished,
        progress,
        player,
        fit_a,
        fit_b,
        comment,
        buttons,
        message,
        pair_id,
        listened_a,
        listened_b,
    )


def rater_of(request: gr.Request | None) -> str:
    user = getattr(request, "username", None)
    if not user:
        raise InputError("login", None, "log in with your rater name and code (reload the page)")
    return str(user)


def render(view: PairView, min_s: float, *, reset: bool) -> list[Any]:
    """Values for ``RaterComponents.outputs``."""
    # gr.skip() and plain values instead of gr.update(...): an update rebuilds the component's config on
    # every call, which was a third of the server's CPU per vote (benchmarks/rating_latency.py).
    return [
        player_html(view, min_s),
        view.pair_id,
        progress_text(view),
        view.message,
        None if reset else gr.skip(),
        None if reset else gr.skip(),
        "" if reset else gr.skip(),
        gr.update(visible=False) if view.finished else gr.skip(),
        gr.update(visible=True) if view.finished else gr.skip(),
    ]


def vote(service: RaterService, rater: str, outcome: str, form: dict[str, Any]) -> list[Any]:
    """One vote from the page's ``vote_inputs`` values; a new pair resets the fit and comment fields."""
    pair_id = form["pair_id"]
    view = service.vote(
        rater,
        pair_id,
        outcome,
        fit_left=form["fit_a"] or None,
        fit_right=form["fit_b"] or None,
        comment=form["comment"] or "",
        listened_left_s=float(form["listened_a"] or 0.0),
        listened_right_s=float(form["listened_b"] or 0.0),
    )
    return render(view, service.config.min_listen_s, reset=view.pair_id != pair_id)


def _voter(service: RaterService, outcome: str) -> Any:
    def on_vote(
        pair_id: str,
        fit_a: Any,
        fit_b: Any,
        comment: str,
        listened_a: Any,
        listened_b: Any,
        request: gr.Request,
    ) -> list[Any]:
        form = dict(
            pair_id=pair_id,
            fit_a=fit_a,
            fit_b=fit_b,
            comment=comment,
            listened_a=listened_a,
            listened_b=listened_b,
        )
        return vote(service, rater_of(request), outcome, form)

    on_vote.__name__ = f"vote_{outcome}"
    return ui_errors(on_vote)


def _wire(demo: gr.Blocks, service: RaterService, c: RaterComponents) -> None:
    def on_load(request: gr.Request) -> list[Any]:
        return render(service.current(rater_of(request)), service.config.min_listen_s, reset=True)

    demo.load(
        ui_errors(on_load),
        inputs=None,
        outputs=c.outputs,
        api_name="current",
        concurrency_limit=None,
        queue=False,
    )
    for outcome, button in c.buttons.items():
        button.click(
            _voter(service, outcome),
            inputs=c.vote_inputs,
            outputs=c.outputs,
            js=COLLECT_JS,
            api_name=f"vote_{outcome}",
            concurrency_limit=None,
            queue=False,
            trigger_mode="once",  # a double click sends one request (the server is idempotent anyway)
        )
