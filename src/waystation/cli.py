"""The ``waystation`` command: Django's management commands plus Waystation's own (demo, synth, serve...).

``waystation help`` lists them all; every command has ``--help``.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    if len(args) > 1 and args[1] == "demo":
        # The demo runs on http://127.0.0.1:8000 on this machine only: plain HTTP is asked for explicitly here.
        os.environ.setdefault("WAYSTATION_DEV_HTTP", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waystation.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["waystation", *args[1:]])


if __name__ == "__main__":
    main()
