"""An interactive waveform of a source audio box: playhead, play/pause, and drag to set a start/end region.

A small canvas component, in the page head like the shortcuts: it reads the file URL the Audio box already
serves (its download link), decodes it with the browser's Web Audio, and draws peaks, the region and a playhead.
Dragging writes the region into the start/end number boxes (as typing there would, so the server sees the same
values); typing in those boxes moves the shaded region. A plain click moves the playhead.

The state a test (or a curious user's console) can read sits on the component as data attributes:
``data-duration``, ``data-start``, ``data-end``, ``data-playhead``.
"""

from __future__ import annotations

import html
import json

import gradio as gr

# Region shading only where the operation acts on a window of the source (extend adds material outside it).
WINDOW_OPERATIONS = ("repaint", "lego")

HINT = "Drag on the waveform to set the region · click to move the playhead"

_JS = """
(() => {
  const box = (id) => document.querySelector('#' + id + ' input');
  const read = (id) => { const i = box(id); const v = i ? parseFloat(i.value) : NaN; return Number.isFinite(v) ? v : null; };
  const write = (id, v) => {
    const i = box(id); if (!i) return;
    i.value = String(v);
    // what typing does: the component's bound value updates, then its blur handlers (the server) run
    i.dispatchEvent(new Event('input', {bubbles: true}));
    i.dispatchEvent(new Event('change', {bubbles: true}));
    i.dispatchEvent(new FocusEvent('blur'));
  };
  const sourceUrl = (id) => { const a = document.querySelector('#' + id + ' a[data-testid="download-link"]'); return a ? a.href : null; };
  const operation = (id) => { const r = document.querySelector('#' + id + ' input:checked'); return r ? r.value : null; };
  const states = new Map();
  const round = (t) => Math.round(t * 100) / 100;

  const decode = async (st, url) => {
    const data = await (await fetch(url)).arrayBuffer();
    const buf = await new OfflineAudioContext(1, 1, 44100).decodeAudioData(data);
    if (st.url !== url) return;  // a newer source arrived meanwhile
    const n = 1200; const len = buf.length; const chans = [];
    for (let c = 0; c < buf.numberOfChannels; c++) chans.push(buf.getChannelData(c));
    const peaks = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      let lo = 0, hi = 0; const a = Math.floor(i * len / n), b = Math.max(a + 1, Math.floor((i + 1) * len / n));
      for (let j = a; j < b && j < len; j++) { let s = 0; for (const ch of chans) s += ch[j]; s /= chans.length; if (s < lo) lo = s; if (s > hi) hi = s; }
      peaks[2 * i] = lo; peaks[2 * i + 1] = hi;
    }
    // scaled to the loudest peak, so a quiet source is as readable as a loud one
    let top = 0; for (const v of peaks) top = Math.max(top, Math.abs(v));
    if (top > 0) for (let i = 0; i < peaks.length; i++) peaks[i] = peaks[i] / top * 0.95;
    st.peaks = peaks; st.duration = buf.duration; st.root.dataset.duration = buf.duration.toFixed(3);
    draw(st);
  };

  const region = (st) => {
    if (st.drag) return st.drag;
    const op = operation(st.cfg.operation);
    if (op && !st.cfg.windowOps.includes(op)) return null;
    const s = read(st.cfg.start), e = read(st.cfg.end);
    return s !== null && e !== null && e > s ? [s, e] : null;
  };

  const draw = (st) => {
    const c = st.canvas; const w = c.clientWidth, h = c.clientHeight; const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    const g = c.getContext('2d'); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
    g.fillStyle = '#f7f7f8'; g.fillRect(0, 0, w, h);
    const d = st.duration;
    const r = region(st);
    st.root.dataset.start = r ? r[0].toFixed(2) : ''; st.root.dataset.end = r ? r[1].toFixed(2) : '';
    if (!d || !st.peaks) { g.fillStyle = '#888'; g.font = '13px sans-serif'; g.fillText(st.url ? 'Reading the source…' : 'Choose a source to see its waveform', 10, h / 2); return; }
    if (r) { g.fillStyle = 'rgba(249, 115, 22, 0.28)'; g.fillRect(r[0] / d * w, 0, (r[1] - r[0]) / d * w, h); }
    const n = st.peaks.length / 2; g.fillStyle = '#3b5bdb';
    for (let x = 0; x < w; x++) {
      const i = Math.min(n - 1, Math.floor(x / w * n)); const lo = st.peaks[2 * i], hi = st.peaks[2 * i + 1];
      const y0 = h / 2 - hi * h / 2, y1 = h / 2 - lo * h / 2; g.fillRect(x, y0, 1, Math.max(1, y1 - y0));
    }
    const t = st.audio.currentTime || 0; st.root.dataset.playhead = t.toFixed(3);
    g.fillStyle = '#e03131'; g.fillRect(Math.min(w - 2, t / d * w), 0, 2, h);
    st.time.textContent = `${t.toFixed(2)} / ${d.toFixed(2)} s` + (r ? ` · region ${r[0].toFixed(2)}–${r[1].toFixed(2)} s` : '');
  };

  const timeAt = (st, ev) => { const b = st.canvas.getBoundingClientRect(); const f = Math.min(1, Math.max(0, (ev.clientX - b.left) / b.width)); return f * st.duration; };

  const attach = (root) => {
    const cfg = JSON.parse(root.dataset.wave);
    const canvas = root.querySelector('canvas'); const play = root.querySelector('button'); const time = root.querySelector('.wb-wave-time');
    const audio = document.createElement('audio'); audio.preload = 'auto'; root.appendChild(audio);
    const st = {root, cfg, canvas, audio, time, url: null, peaks: null, duration: 0, drag: null, down: null, key: ''};
    states.set(root, st);
    play.addEventListener('click', () => { if (!audio.src) return; audio.paused ? audio.play() : audio.pause(); });
    audio.addEventListener('play', () => { play.textContent = 'Pause'; const frame = () => { draw(st); if (!audio.paused) requestAnimationFrame(frame); }; requestAnimationFrame(frame); });
    audio.addEventListener('pause', () => { play.textContent = 'Play'; draw(st); });
    audio.addEventListener('seeked', () => draw(st));
    canvas.addEventListener('pointerdown', (ev) => { if (!st.duration) return; st.down = {x: ev.clientX, t: timeAt(st, ev)}; canvas.setPointerCapture(ev.pointerId); });
    canvas.addEventListener('pointermove', (ev) => {
      if (!st.down) return;
      if (!st.drag && Math.abs(ev.clientX - st.down.x) < 4) return;  // a click, so far
      const t = timeAt(st, ev); st.drag = [Math.min(st.down.t, t), Math.max(st.down.t, t)]; draw(st);
    });
    canvas.addEventListener('pointerup', (ev) => {
      if (!st.down) return;
      if (st.drag) {
        const [s, e] = st.drag.map(round); st.drag = null;
        write(cfg.start, s); write(cfg.end, e);
      } else { audio.currentTime = st.down.t; }
      st.down = null; draw(st);
    });
  };

  const sync = () => {
    for (const root of document.querySelectorAll('[data-wave]')) {
      if (!states.has(root)) attach(root);
      const st = states.get(root);
      const url = sourceUrl(st.cfg.source);
      if (url !== st.url) {
        st.url = url; st.peaks = null; st.duration = 0; st.root.dataset.duration = '';
        st.audio.pause(); if (url) { st.audio.src = url; decode(st, url).catch(() => { st.time.textContent = 'This source cannot be drawn here'; }); } else st.audio.removeAttribute('src');
      }
      // redraw when what the picture shows changed: typed fields, the operation, the size
      const key = [read(st.cfg.start), read(st.cfg.end), operation(st.cfg.operation), st.canvas.clientWidth, st.duration].join('|');
      if (key !== st.key) { st.key = key; draw(st); }
    }
  };
  setInterval(sync, 200);
})();
"""


def head_script() -> str:
    """The ``<script>`` for the page head (one for every waveform on the page)."""
    return "<script>" + _JS + "</script>"


def waveform(elem_id: str, *, source: str, start: str, end: str, operation: str = "") -> gr.HTML:
    """The waveform of the Audio box ``source`` whose drag fills the Number boxes ``start`` and ``end`` (all
    elem_ids); with ``operation`` (a Radio's elem_id) the region shows only for window operations."""
    config = {
        "source": source,
        "start": start,
        "end": end,
        "operation": operation,
        "windowOps": list(WINDOW_OPERATIONS),
    }
    body = (
        f'<div class="wb-wave" data-wave="{html.escape(json.dumps(config))}">'
        '<canvas style="width:100%;height:120px;display:block;cursor:crosshair;touch-action:none"></canvas>'
        '<div style="display:flex;gap:.8em;align-items:center;margin-top:.3em">'
        '<button type="button" class="wb-wave-play" style="padding:.1em .8em">Play</button>'
        '<span class="wb-wave-time"></span>'
        f'<span style="opacity:.7;margin-left:auto">{HINT}</span></div></div>'
    )
    return gr.HTML(body, elem_id=elem_id)
