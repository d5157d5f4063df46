"""Rater mode: the blind A/B rating page and nothing else (``python app.py --mode rater``).

What the browser gets is limited on purpose: the venue instructions, two players labelled A and B whose URLs are
``ab/clip/<random token>`` (a token per served pair and side, resolved only in server memory), an opaque
``pair_id``, progress and messages. No system name, campaign name, prompt, file name or path. Audio goes through
our own route instead of Gradio's file cache so that no path and no ``Last-Modified`` date (which would group
clips by when each system was generated) ever reach the browser.

Raters log in with Gradio's login form: user name = rater id, password = their login code (hashed in the store).
Admin credentials are not accepted here and admin endpoints do not exist in this app.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr

from workbench.campaigns import db
from workbench.campaigns.service import CLIP_ROUTE, PairView, RaterService
from workbench.core import paths
from workbench.core.errors import InputError
from workbench.core.store import Store

log = logging.getLogger("workbench.ui.rater")

OUTCOME_BUTTONS = (
    ("left", "A is better", "a"),
    ("right", "B is better", "b"),
    ("tie", "About the same", "t"),
    ("both_bad", "Both unacceptable", "x"),
)
FIT_CHOICES = ["1", "2", "3", "4", "5"]
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)$")

# Runs in the rater's page. It measures how much of each clip was actually played (the union of the played
# ranges), pauses one clip when the other starts, unlocks the vote buttons once both clips reached the minimum,
# and maps keys: 1 / 2 play-pause A / B; A, B, T, X vote. The server repeats every check (service._gate).
PLAYER_JS = """
<script>
(() => {
  const played = (el) => { let s = 0; for (let i = 0; i < el.played.length; i++) s += el.played.end(i) - el.played.start(i); return s; };
  const audios = () => Array.from(document.querySelectorAll('audio[data-ab-side]'));
  window.abListened = (side) => { const el = document.querySelector(`audio[data-ab-side="${side}"]`); return el ? Math.round(played(el) * 100) / 100 : 0; };
  const button = (id) => { const el = document.getElementById(id); return el && el.tagName !== 'BUTTON' ? el.querySelector('button') : el; };
  const tick = () => {
    const box = document.querySelector('[data-ab-min]');
    const need = box ? parseFloat(box.dataset.abMin) : 0;
    let ok = !!box;
    for (const el of audios()) {
      const s = played(el); const label = document.querySelector(`[data-ab-count="${el.dataset.abSide}"]`);
      if (label) label.textContent = s >= need ? 'listened' : `${Math.min(s, need).toFixed(1)} / ${need} s`;
      if (s < need) ok = false;
    }
    for (const id of ['ab_vote_left', 'ab_vote_right', 'ab_vote_tie', 'ab_vote_both_bad']) { const b = button(id); if (b) b.disabled = !ok; }
    const gate = document.getElementById('ab-gate-note'); if (gate) gate.style.visibility = ok ? 'hidden' : 'visible';
  };
  setInterval(tick, 250);
  document.addEventListener('play', (e) => {
    if (!e.target.dataset || !e.target.dataset.abSide) return;
    for (const el of audios()) if (el !== e.target) el.pause();
  }, true);
  document.addEventListener('keydown', (e) => {
    const t = e.target; if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    const toggle = (side) => { const el = document.querySelector(`audio[data-ab-side="${side}"]`); if (el) { el.paused ? el.play() : el.pause(); } };
    if (k === '1') { toggle('A'); e.preventDefault(); return; }
    if (k === '2') { toggle('B'); e.preventDefault(); return; }
    const map = {a: 'ab_vote_left', b: 'ab_vote_right', t: 'ab_vote_tie', x: 'ab_vote_both_bad'};
    if (map[k]) { const b = button(map[k]); if (b && !b.disabled) { b.click(); e.preventDefault(); } }
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
    if min_listen_s > 0:
        parts.append(
            f'<p id="ab-gate-note">Play both clips for at least {min_listen_s:g} seconds each to unlock the '
            "buttons. Keys: 1 / 2 play A / B; A, B, T, X vote.</p>"
        )
    return "".join(parts)


def progress_text(view: PairView) -> str:
    if view.finished:
        return f"**Finished: {view.done} of {view.quota} trials.**"
    return f"Trial {min(view.done + 1, view.quota)} of {view.quota}"


def pick_campaign(store: Store, campaign: str | None) -> str:
    """The named campaign, else ``WORKBENCH_CAMPAIGN``, else the newest open one."""
    import os

    campaign = campaign or os.environ.get("WORKBENCH_CAMPAIGN")
    if campaign:
        return campaign
    rows = store.connect().execute(
        "SELECT name FROM campaigns WHERE status = 'open' ORDER BY created_at DESC"
    )
    names = [r[0] for r in rows]
    if not names:
        raise InputError(
            "campaign", None, "no open campaign: create one with `workbench campaign create FILE.yaml`"
        )
    return str(names[0])


def clip_response(service: RaterService, token: str, range_header: str | None) -> Any:
    """The bytes of one served clip, with single-range support so players can seek. No dates, no names."""
    from starlette.responses import Response

    path = service.open_clip(token)
    if path is None or not path.is_file():
        return Response(status_code=404)
    data = Path(path).read_bytes()
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


def install_clip_route(app: Any, service: RaterService) -> None:
    """Put the clip route first in the FastAPI app (Gradio's own catch-all routes must not shadow it)."""
    from starlette.requests import Request
    from starlette.routing import Route

    async def clip(request: Request) -> Any:
        return clip_response(service, request.path_params["token"], request.headers.get("range"))

    app.router.routes.insert(0, Route(f"/{CLIP_ROUTE}/{{token}}", clip, methods=["GET"]))


def _rater_blocks_class() -> type:
    class RaterBlocks(gr.Blocks):  # type: ignore[misc]
        """Blocks whose launch() adds the rater login, the clip route, the player script and the stylesheet."""

        service: RaterService
        stream: Any = None

        def launch(self, *args: Any, **kwargs: Any) -> Any:
            # Raters always log in with their own codes: admin credentials passed by a generic launcher are
            # replaced (admin and rater logins stay separate), and no folder is served through Gradio's file
            # route, because clips go through the token route only.
            if kwargs.get("auth") not in (None, self.service.login):
                log.info("rater mode: admin credentials ignored; raters log in with their campaign codes")
            kwargs["auth"] = self.service.login
            kwargs.setdefault("auth_message", "Log in with the rater name and code you were given.")
            kwargs["allowed_paths"] = []
            kwargs["head"] = (kwargs.get("head") or "") + PLAYER_JS
            kwargs["css"] = (kwargs.get("css") or "") + CSS
            block = not kwargs.get("prevent_thread_lock", False)
            kwargs["prevent_thread_lock"] = True
            result = super().launch(*args, **kwargs)
            install_clip_route(self.app, self.service)
            if block:
                self.block_thread()
            return result

        def close(self, verbose: bool = True) -> None:
            super().close(verbose)
            if self.stream is not None:
                self.stream.close()
                self.stream = None

    return RaterBlocks


def build_rater_app(
    store: Store,
    settings: Any = None,
    *,
    campaign: str | None = None,
    tracking: bool = True,
    tracking_mode: str | None = None,
) -> Any:
    """The rating page for ``campaign`` (default: $WORKBENCH_CAMPAIGN, else the newest open one). Launch it with
    ``.launch(...)``: the launch adds the rater login and the clip route."""
    from workbench.ui.context import ui_errors

    name = pick_campaign(store, campaign)
    stream = None
    if tracking:
        from workbench.campaigns.stimuli import campaign_dir
        from workbench.campaigns.stream import VoteStream

        config = db.get_campaign(store, name).config
        stream = VoteStream(
            store, name, campaign_dir(name) / "tracking", mode=tracking_mode, config=config.to_dict()
        )
    service = RaterService(store, name, stream=stream.submit if stream else None)
    config = service.config
    min_s = config.min_listen_s

    def rater_of(request: gr.Request | None) -> str:
        user = getattr(request, "username", None)
        if not user:
            raise InputError("login", None, "log in with your rater name and code (reload the page)")
        return str(user)

    def render(view: PairView, *, reset: bool) -> list[Any]:
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

    @ui_errors
    def on_load(request: gr.Request) -> list[Any]:
        return render(service.current(rater_of(request)), reset=True)

    def voter(outcome: str) -> Any:
        @ui_errors
        def vote(
            pair_id: str,
            fit_a: Any,
            fit_b: Any,
            comment: str,
            listened_a: Any,
            listened_b: Any,
            request: gr.Request,
        ) -> list[Any]:
            view = service.vote(
                rater_of(request),
                pair_id,
                outcome,
                fit_left=fit_a or None,
                fit_right=fit_b or None,
                comment=comment or "",
                listened_left_s=float(listened_a or 0.0),
                listened_right_s=float(listened_b or 0.0),
            )
            return render(view, reset=view.pair_id != pair_id)

        vote.__name__ = f"vote_{outcome}"
        return vote

    blocks_cls = _rater_blocks_class()
    with blocks_cls(title="Listening test", analytics_enabled=False) as demo:
        gr.Markdown("## Listening test")
        with gr.Column(visible=True) as rating:
            if config.instructions.strip():
                gr.Markdown(config.instructions, elem_id="ab_instructions")
            gr.Markdown(
                "Listen to **A** and **B**, then choose the one that fits the venue better. "
                "Choose *About the same* if neither is better and *Both unacceptable* if you would play neither."
            )
            progress = gr.Markdown("", elem_id="ab_progress")
            player = gr.HTML("", elem_id="ab_player")
            with gr.Row():
                fit_a = gr.Radio(
                    FIT_CHOICES,
                    label="Fit for this venue: A (optional, 1-5)",
                    visible=config.fit_ratings,
                    elem_id="ab_fit_a",
                )
                fit_b = gr.Radio(
                    FIT_CHOICES,
                    label="Fit for this venue: B (optional, 1-5)",
                    visible=config.fit_ratings,
                    elem_id="ab_fit_b",
                )
            comment = gr.Textbox(label="Comment (optional)", lines=1, max_lines=3, visible=config.comments)
            with gr.Row():
                buttons = [
                    gr.Button(f"{label} ({key.upper()})", elem_id=f"ab_vote_{outcome}", variant="primary")
                    for outcome, label, key in OUTCOME_BUTTONS
                ]
            message = gr.Markdown("", elem_id="ab_message")
        with gr.Column(visible=False) as finished:
            gr.Markdown("### Thank you!\nYou have finished all your trials. You can close this page.")
        pair_id = gr.Textbox(visible=False)
        listened_a = gr.Number(visible=False)
        listened_b = gr.Number(visible=False)
        outputs = [player, pair_id, progress, message, fit_a, fit_b, comment, rating, finished]
        demo.load(
            on_load, inputs=None, outputs=outputs, api_name="current", concurrency_limit=None, queue=False
        )
        for button, (outcome, _, _) in zip(buttons, OUTCOME_BUTTONS, strict=True):
            button.click(
                voter(outcome),
                inputs=[pair_id, fit_a, fit_b, comment, listened_a, listened_b],
                outputs=outputs,
                js=COLLECT_JS,
                api_name=f"vote_{outcome}",
                concurrency_limit=None,
                queue=False,
                trigger_mode="once",  # a double click sends one request (the server is idempotent anyway)
            )
    demo.service = service
    demo.stream = stream
    # workbench.ui.launch.served_folders() reads this; an empty folder, and launch() serves none anyway.
    empty = paths.rater_served_dir()
    demo.workbench_context = SimpleNamespace(runs_dir=empty, temp_dir=empty)
    return demo


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench.ui.rater``: serve the rating page alone (app.py --mode rater does the same)."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m workbench.ui.rater", description=main.__doc__)
    parser.add_argument("--campaign", default=None, help="campaign name (default: the newest open campaign)")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve the local network")
    parser.add_argument("--port", type=int, default=7861)
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    args = parser.parse_args(argv)
    for key, value in (("GRADIO_ANALYTICS_ENABLED", "False"), ("HF_HUB_DISABLE_TELEMETRY", "1")):
        os.environ.setdefault(key, value)
    app = build_rater_app(Store(), campaign=args.campaign)
    app.launch(server_name=args.host, server_port=args.port, share=args.share, show_error=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
