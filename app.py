"""Entry point: ``python app.py [--model turbo] [--host 127.0.0.1] [--port 7860] [--auth user:pass] ...``.

Also the Hugging Face Spaces entry (``app_file: app.py``): Spaces sets GRADIO_SERVER_NAME/PORT, which the flags
default to. Everything else lives in workbench.cli.app so that ``workbench app`` behaves the same.
"""

from __future__ import annotations

import os
import sys

# Before gradio or huggingface_hub are imported: no analytics, version check or telemetry connections at start.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def main(argv: list[str] | None = None) -> int:
    from workbench.cli.main import main as cli_main

    return cli_main(["app", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
