"""Audio post-processing on finished takes: mastering (loudness, true peak) and stem separation (demucs)."""
