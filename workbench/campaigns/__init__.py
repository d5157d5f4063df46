"""Blind A/B listening campaigns.

Modules, in the order a campaign uses them:
- ``config``: the typed ``CampaignConfig`` and its YAML loader (unknown keys rejected);
- ``stimuli`` + ``audio_prep``: generate or import clips, match loudness and length, write anonymised copies;
- ``schedule``: which pair a rater hears next (balance, no repeats, gold trials, swapped repeats, adaptive);
- ``db``: the campaign tables in the workbench store (the clip -> system mapping lives only there);
- ``service``: the rater service (login, resume, listening gate, exactly-once votes);
- ``throttle``, ``access``, ``lease``: login throttling and lockout, sessions tied to a rater's current code and
  clip URLs tied to a rater, one live rater server per campaign;
- ``stream``: votes and running standings to W&B and the local mirror;
- ``status`` and ``export``: progress and CSV / Parquet export.
The rater UI is ``workbench.ui.rater`` (served by ``workbench app --mode rater``); the admin tab is ``workbench.ui.tab_ab``.
"""
