"""What the metadata block may say: the value sets the constrained decoder chooses from.

Ranges and lists follow ace-step/ACE-Step-1.5@f30aee4:acestep/constants.py (``BPM_MIN``/``BPM_MAX`` 30-300,
``DURATION_MIN``/``DURATION_MAX`` 10-600 s, ``VALID_TIME_SIGNATURES`` 2/3/4/6, ``VALID_LANGUAGES``). Keys are
the workbench's written keys (``core.keyscale.KEYSCALES``): every one of them is in upstream's
``VALID_KEYSCALES`` (note + optional accidental + major/minor), and a planned key must pass the request's own
check, so the LM chooses among these 24 spellings rather than upstream's 70 (which include enharmonic duplicates
such as "A♯ minor" that the request would refuse).
"""

from __future__ import annotations

from workbench.core.keyscale import KEYSCALES
from workbench.engine.requests import TIME_SIGNATURES, VOCAL_LANGUAGES

BPM_RANGE = (30, 300)
DURATION_RANGE = (10, 600)
CODES_PER_SECOND = 5  # the LM's semantic codes run at 5 Hz
LANGUAGES = VOCAL_LANGUAGES
KEYS = KEYSCALES
TIMESIGS = TIME_SIGNATURES
