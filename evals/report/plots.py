"""Report figures as PNG bytes (matplotlib's object API with the Agg canvas: no pyplot global state, no display)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evals.preference.preference import Standings, WinMatrix
from evals.preference.track_results import TrackResult

DPI = 110


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def standings_plot(scopes: dict[str, Standings]) -> bytes:
    """Ratings with their bootstrap intervals, one panel per scope (overall, then each genre)."""
    n = len(scopes)
    rows = max(len(s.standings) for s in scopes.values())
    fig = Figure(
        figsize=(5.2 * min(n, 3), 0.45 * rows + 1.4)
        if n <= 3
        else (15.6, (0.45 * rows + 1.4) * math.ceil(n / 3))
    )
    cols = min(n, 3)
    for k, (title, st) in enumerate(scopes.items()):
        ax = fig.add_subplot(math.ceil(n / cols), cols, k + 1)
        items = list(reversed(st.standings))
        y = np.arange(len(items))
        ratings = np.array([s.rating for s in items])
        lo = np.array([s.ci_low for s in items])
        hi = np.array([s.ci_high for s in items])
        has_ci = np.isfinite(lo) & np.isfinite(hi)
        err = np.vstack([np.where(has_ci, ratings - lo, 0.0), np.where(has_ci, hi - ratings, 0.0)])
        ax.errorbar(ratings, y, xerr=err, fmt="o", color="#1f4e79", ecolor="#7fa7cf", capsize=3)
        ax.axvline(1000.0, color="#999999", lw=0.8, ls="--")
        ax.set_yticks(y, [s.system for s in items])
        ax.set_title(f"{title} ({st.n_votes} votes, {st.n_raters} raters)", fontsize=9)
        ax.set_xlabel("rating (400-point scale, 95 % rater bootstrap)", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)


def win_matrix_plot(wm: WinMatrix, title: str) -> bytes:
    k = len(wm.systems)
    fig = Figure(figsize=(1.1 * k + 2.4, 0.9 * k + 1.6))
    ax = fig.add_subplot(1, 1, 1)
    data = np.ma.masked_invalid(wm.win_rate)
    image = ax.imshow(data, cmap="RdBu", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            if i != j and wm.votes[i, j] > 0:
                ax.text(
                    j, i, f"{wm.win_rate[i, j]:.0%}\nn={wm.votes[i, j]}", ha="center", va="center", fontsize=7
                )
    ax.set_xticks(range(k), wm.systems, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(k), wm.systems, fontsize=8)
    ax.set_xlabel("opponent", fontsize=8)
    ax.set_ylabel("row system's win rate (ties half)", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return _png(fig)


def distribution_plot(tracks: Sequence[TrackResult], attribute: str, label: str) -> bytes | None:
    """Box plots of one per-track number per genre and system; None when no track carries it."""
    values: dict[str, dict[str, list[float]]] = {}
    for t in tracks:
        value = getattr(t, attribute)
        if value is not None and math.isfinite(value):
            values.setdefault(t.genre, {}).setdefault(t.system, []).append(float(value))
    if not values:
        return None
    genres = sorted(values)
    fig = Figure(figsize=(4.2 * len(genres), 3.2))
    for k, genre in enumerate(genres):
        ax = fig.add_subplot(1, len(genres), k + 1)
        systems = sorted(values[genre])
        ax.boxplot([values[genre][s] for s in systems], tick_labels=systems)
        ax.set_title(genre, fontsize=9)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)
