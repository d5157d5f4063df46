"""Per-track analysis: loudness, peaks, levels, rhythm, spectrum, key, delivery checks."""
