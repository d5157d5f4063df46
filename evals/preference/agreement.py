"""Inter-rater agreement on preference votes: Krippendorff's alpha (nominal) and Fleiss' kappa.

Votes are recoded by system, not by screen side: an item is (genre, prompt, system pair in sorted order) and the
category is "first system preferred", "second system preferred", "tie" or "both bad". Two raters who preferred
the same system agree even if it sat on opposite sides for them. Gold trials are left out, and so are swapped
repeats (a rater's second answer to the same item); each rater contributes their first answer per item.

Both statistics are written here: the ``krippendorff`` package is GPL-3.0 (used only as a test oracle) and
statsmodels' ``fleiss_kappa`` needs the complete item x category table we build anyway.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from evals.preference.preference import Outcome, Vote, preference_votes

CATEGORIES = ("first", "second", "tie", "both_bad")
Item = tuple[str, str, str, str]


def recode(vote: Vote) -> tuple[Item, str]:
    """(item key, category) with the category relative to the sorted system pair, not the screen side."""
    first, second = sorted((vote.system_left, vote.system_right))
    item = (vote.genre, vote.prompt_id, first, second)
    if vote.outcome in (Outcome.TIE, Outcome.BOTH_BAD):
        return item, Outcome(vote.outcome).value
    return item, "first" if vote.winner == first else "second"


def ratings_by_item(votes: Iterable[Vote]) -> dict[Item, dict[str, str]]:
    """item -> {rater: category}, first answer per rater and item, oldest first."""
    table: dict[Item, dict[str, str]] = {}
    ordered = sorted(preference_votes(votes), key=lambda v: v.created_at)
    for v in ordered:
        if v.repeat_of:
            continue
        item, category = recode(v)
        table.setdefault(item, {}).setdefault(v.rater, category)
    return table


def krippendorff_alpha_nominal(units: Sequence[Sequence[str]]) -> float:
    """Krippendorff's alpha for nominal data; each unit is the list of values it received (any raters).

    Units with fewer than two values are not pairable and are dropped, as in Krippendorff (2011).
    Returns NaN when fewer than two pairable values exist, or when all values are the same category.
    """
    categories = sorted({c for unit in units for c in unit})
    index = {c: i for i, c in enumerate(categories)}
    coincidence = np.zeros((len(categories), len(categories)))
    for unit in units:
        m = len(unit)
        if m < 2:
            continue
        counts = np.zeros(len(categories))
        for c in unit:
            counts[index[c]] += 1
        # ordered pairs of values from different raters within the unit, weighted 1 / (m - 1)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        return math.nan
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (n_c.sum() ** 2 - (n_c**2).sum()) / (n - 1)
    if expected == 0:
        return math.nan
    return float(1.0 - observed / expected)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from an items x categories table of counts; every item needs the same number of ratings."""
    counts = np.asarray(counts, dtype=float)
    per_item = counts.sum(axis=1)
    if counts.shape[0] == 0 or np.any(per_item != per_item[0]) or per_item[0] < 2:
        return math.nan
    m = per_item[0]
    p_item = ((counts**2).sum(axis=1) - m) / (m * (m - 1))
    p_cat = counts.sum(axis=0) / counts.sum()
    p_e = float((p_cat**2).sum())
    if p_e == 1.0:
        return math.nan
    return float((p_item.mean() - p_e) / (1.0 - p_e))


@dataclass
class Agreement:
    alpha: float  # Krippendorff, nominal, over all items with >= 2 raters
    alpha_items: int
    kappa: float  # Fleiss, over the items that share the most common number of raters (its design needs that)
    kappa_items: int
    kappa_raters_per_item: int
    categories: dict[str, int]  # how often each recoded category was used


def agreement(votes: Iterable[Vote]) -> Agreement:
    table = ratings_by_item(votes)
    units = [list(raters.values()) for raters in table.values() if len(raters) >= 2]
    sizes = Counter(len(u) for u in units)
    m = max(sizes, key=lambda k: (sizes[k], k)) if sizes else 0
    rows = [[u.count(c) for c in CATEGORIES] for u in units if len(u) == m]
    counts = np.array(rows, dtype=float).reshape(-1, len(CATEGORIES))
    used = Counter(c for u in units for c in u)
    return Agreement(
        alpha=krippendorff_alpha_nominal(units),
        alpha_items=len(units),
        kappa=fleiss_kappa(counts),
        kappa_items=len(rows),
        kappa_raters_per_item=m,
        categories={c: used.get(c, 0) for c in CATEGORIES},
    )
