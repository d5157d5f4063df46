"""The 5 Hz language-model planner of ACE-Step 1.5: LM registry and loading, prompt templates, constrained
decoding, and the ``Planner`` (think / format / sample / understand) every face calls through the services.

It sits just above the engine: it reads the engine's request types (to fill a request from a plan) and the
pipeline's audio tokenizer (to understand audio), and it never writes a file except the tiny LM it builds.
"""
