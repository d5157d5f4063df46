"""Entry point: ``python app.py [--model turbo] [--host 127.0.0.1] [--port 7860] [--auth user:pass] ...``.

Also the Hugging Face Spaces entry (``app_file: app.py``): Spaces sets GRADIO_SERVER_NAME/PORT, which the flags
default to, and WORKBENCH_MODEL picks the model. ``workbench app`` takes the same flags and runs the same code
(workbench.cli.app), which also switches off analytics, version checks and telemetry before gradio loads.
This file builds only the app's own parser rather than the whole ``workbench`` CLI, whose other subcommands
import analysis libraries that would delay the first page.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from workbench.cli.app import add_app_options, run_app
    from workbench.core.errors import WorkbenchError

    parser = argparse.ArgumentParser(prog="app.py", description="Serve the ACE Workbench web app.")
    add_app_options(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run_app(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
