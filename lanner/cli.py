"""The ``lanner`` command: ``lanner test ...`` or a Falco-style run (lanner.run.app)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from lanner.core.errors import LannerError
from lanner.run.app import App
from lanner.run.args import EXIT_ERROR, EXIT_OK, UsageError, parse_args, usage


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "test":
        from lanner.testing.command import main as test_main
        return test_main(argv[1:])
    if argv and argv[0] in ("console", "tune"):
        import importlib
        return importlib.import_module(f"lanner.{argv[0]}.cli").main(argv[1:])
    try:
        args = parse_args(argv)
    except UsageError as e:
        sys.stderr.write(f"Error: {e}\n")
        return EXIT_ERROR
    if args.flag("help"):
        sys.stdout.write(usage())
        return EXIT_OK
    if args.flag("page-size"):
        sys.stdout.write(f"Your system page size is: {os.sysconf('SC_PAGE_SIZE')} bytes\n")
        return EXIT_OK
    while True:
        try:
            app = App(args)
            code = app.run()
        except LannerError as e:
            sys.stderr.write(f"Error: {e}\n")
            return e.code
        except KeyboardInterrupt:
            return EXIT_OK
        if not app.restart:
            return code
