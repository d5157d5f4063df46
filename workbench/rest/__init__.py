"""The HTTP API: ACE-Step 1.5's REST contract (``/release_task``, ``/query_result``, ``/v1/audio``, ...) served
from the workbench's own services.

``schema`` turns upstream's field names and aliases into the workbench's typed requests; ``jobs`` and ``db`` keep
tasks as rows in the store so they survive a restart; ``auth`` checks API keys; ``files`` decides which files a
caller may read or name as a source; ``loras`` holds each key's LoRA; ``results`` writes upstream's result items;
``service`` ties them to a ``Workbench``; ``routes`` is the FastAPI app (standalone, or mounted on Gradio's);
``chat`` is the OpenAI-style ``/v1/chat/completions``. The API adds no generation logic: every task runs through
``Workbench.generate``.
"""
