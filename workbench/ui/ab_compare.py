"""Synced A/B compare of the audio boxes on a tab: before/after of Edit and Mastering, the takes of a style sweep.

One player for several clips: **B** switches to the next clip at the same playback position (playing on if it
was playing), **Space** plays/pauses, **[** and **]** set a loop's start and end at the playhead, **\\** clears
it. Like the waveform, it lives in the page head and reads the file URLs the Audio boxes already serve (their
download links), so it follows whatever the server put in them. The rater page has its own player (with its
listening gate); this one has no gate and any number of clips.

State for tests and the curious, as data attributes on the component: ``data-active`` (the active clip's
label), ``data-ready`` (clips whose media is loaded), ``data-loop`` ("start-end" or ""), ``data-loops`` (wraps
so far).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

import gradio as gr

_JS = """
(() => {
  const link = (id) => { const a = document.querySelector('#' + id + ' a[data-testid="download-link"]'); return a ? a.href : null; };
  const states = new Map();
  const shown = () => Array.from(states.values()).filter((st) => st.root.offsetParent !== null);
  const live = (st) => st.clips.filter((c) => c.url);
  const active = (st) => st.clips[st.active];
  const loopOn = (st) => st.loop && st.loop.end > st.loop.start;

  const render = (st) => {
    const r = st.root; const c = active(st);
    r.dataset.active = c && c.url ? c.label : '';
    r.dataset.ready = String(live(st).filter((x) => x.audio.readyState >= 1).length);
    r.dataset.loop = loopOn(st) ? `${st.loop.start.toFixed(2)}-${st.loop.end.toFixed(2)}` : '';
    r.dataset.loops = String(st.loops);
    for (const x of st.clips) { x.button.hidden = !x.url; x.button.setAttribute('aria-pressed', String(x === c)); x.button.style.fontWeight = x === c ? '700' : '400'; }
    st.play.textContent = c && !c.audio.paused ? 'Pause' : 'Play';
    const t = c && c.url ? c.audio.currentTime : 0;
    st.label.textContent = (live(st).length ? `${c && c.url ? c.label : ''} at ${t.toFixed(2)} s` : 'Nothing to compare yet')
      + (loopOn(st) ? ` · loop ${st.loop.start.toFixed(2)}–${st.loop.end.toFixed(2)} s` : st.loop ? ` · loop from ${st.loop.start.toFixed(2)} s: press ] at its end` : '');
  };

  const choose = (st, index) => {
    const from = active(st), to = st.clips[index];
    if (!to || !to.url || to === from) return;
    const playing = from && !from.audio.paused; const t = from ? from.audio.currentTime : 0;
    if (from) from.audio.pause();
    to.audio.currentTime = Number.isFinite(to.audio.duration) ? Math.min(t, to.audio.duration) : t;
    st.active = index;
    if (playing) to.audio.play();
    render(st);
  };
  const next = (st) => {
    const n = st.clips.length;
    for (let k = 1; k <= n; k++) { const i = (st.active + k) % n; if (st.clips[i].url) { choose(st, i); return; } }
  };
  const toggle = (st) => { const c = active(st); if (c && c.url) { c.audio.paused ? c.audio.play() : c.audio.pause(); } };
  const setLoop = (st, edge) => {
    const c = active(st); if (!c || !c.url) return;
    const t = c.audio.currentTime;
    if (edge === 'clear') st.loop = null;
    else if (edge === 'start' || !st.loop) st.loop = edge === 'start' ? {start: t, end: 0} : {start: 0, end: t};
    else st.loop.end = t;
    if (st.loop && st.loop.end && st.loop.end <= st.loop.start) st.loop = {start: st.loop.end, end: 0};
    render(st);
  };

  const attach = (root) => {
    const cfg = JSON.parse(root.dataset.abCompare);
    const bar = root.querySelector('.wb-ab-clips');
    const st = {root, clips: [], active: 0, loop: null, loops: 0, play: root.querySelector('.wb-ab-play'), label: root.querySelector('.wb-ab-label')};
    cfg.clips.forEach(([id, label], i) => {
      const audio = document.createElement('audio'); audio.preload = 'auto'; audio.dataset.clip = label; root.appendChild(audio);
      const button = document.createElement('button'); button.type = 'button'; button.textContent = label; button.hidden = true;
      button.addEventListener('click', () => choose(st, i)); bar.appendChild(button);
      for (const ev of ['play', 'pause', 'loadedmetadata', 'seeked']) audio.addEventListener(ev, () => render(st));
      st.clips.push({id, label, audio, button, url: null});
    });
    st.play.addEventListener('click', () => toggle(st));
    root.querySelector('.wb-ab-switch').addEventListener('click', () => next(st));
    for (const b of root.querySelectorAll('[data-ab-edge]')) b.addEventListener('click', () => setLoop(st, b.dataset.abEdge));
    states.set(root, st);
  };

  const sync = () => {
    for (const root of document.querySelectorAll('[data-ab-compare]')) {
      if (!states.has(root)) attach(root);
      const st = states.get(root); let changed = false;
      for (const c of st.clips) {
        const url = link(c.id);
        if (url === c.url) continue;
        c.url = url; c.audio.pause(); changed = true;
        if (url) c.audio.src = url; else c.audio.removeAttribute('src');
      }
      if (changed) { st.loop = null; st.loops = 0; const first = st.clips.findIndex((c) => c.url); st.active = Math.max(0, first); }
      render(st);
    }
  };
  setInterval(sync, 200);

  const wrap = () => {
    for (const st of states.values()) {
      const c = active(st);
      if (c && c.url && !c.audio.paused && loopOn(st) && (c.audio.currentTime >= st.loop.end || c.audio.currentTime < st.loop.start - 0.05)) {
        c.audio.currentTime = st.loop.start; st.loops += 1; render(st);
      } else if (c && c.url && !c.audio.paused) st.label.textContent = st.label.textContent.replace(/at [0-9.]+ s/, `at ${c.audio.currentTime.toFixed(2)} s`);
    }
    requestAnimationFrame(wrap);
  };
  requestAnimationFrame(wrap);

  document.addEventListener('keydown', (e) => {
    const t = e.target; const k = e.key.toLowerCase();
    // typing stays typing; Space on a button, radio or checkbox stays a click of it
    const typing = t && (t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable
      || (t.tagName === 'INPUT' && !['radio', 'checkbox', 'button', 'range'].includes(t.type)));
    if (typing || (k === ' ' && t && (t.tagName === 'BUTTON' || t.tagName === 'INPUT'))) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const st = shown().find((s) => live(s).length > 0);
    if (k === ' ' && !st) {  // no compare on this tab: the waveform's player, if there is one
      const p = Array.from(document.querySelectorAll('.wb-wave-play')).find((b) => b.offsetParent !== null);
      if (p) { p.click(); e.preventDefault(); }
      return;
    }
    if (!st) return;
    if (k === 'b') next(st);
    else if (k === ' ') toggle(st);
    else if (k === '[') setLoop(st, 'start');
    else if (k === ']') setLoop(st, 'end');
    else if (k === '\\\\') setLoop(st, 'clear');
    else return;
    e.preventDefault();
  });
})();
"""


def head_script() -> str:
    """The ``<script>`` for the page head (one for every compare player on the page)."""
    return "<script>" + _JS + "</script>"


def compare(elem_id: str, clips: Sequence[tuple[str, str]]) -> gr.HTML:
    """A compare player over the Audio boxes ``clips`` (``(elem_id, label)`` pairs, in switching order)."""
    if len(clips) < 2:
        raise ValueError("a compare player needs at least two clips")
    config = html.escape(json.dumps({"clips": [list(c) for c in clips]}))
    button = 'type="button" style="padding:.1em .7em"'
    body = (
        f'<div class="wb-ab" data-ab-compare="{config}" style="display:flex;flex-wrap:wrap;gap:.5em;'
        'align-items:center">'
        '<strong>Compare</strong><span class="wb-ab-clips" style="display:flex;gap:.3em"></span>'
        f'<button {button} class="wb-ab-play">Play</button>'
        f'<button {button} class="wb-ab-switch">Switch (B)</button>'
        f'<button {button} data-ab-edge="start">Loop start [</button>'
        f'<button {button} data-ab-edge="end">Loop end ]</button>'
        f'<button {button} data-ab-edge="clear">Clear loop</button>'
        '<span class="wb-ab-label"></span></div>'
    )
    return gr.HTML(body, elem_id=elem_id)
