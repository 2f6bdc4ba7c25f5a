"""Shared plumbing for the step scripts: logging, one-line errors, exit codes.

A step script wraps its ``main`` in :func:`run`, so bad input ends in one clear line
on stderr (naming the file and the problem) and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Callable

from .errors import InputError

log = logging.getLogger("karyospectrum")


def setup_logging(logfile: str | Path | None = None, verbose: bool = False) -> None:
    """Log to stderr and, when given, to a per-job log file (Snakemake's ``log:``)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if logfile:
        Path(logfile).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(logfile, mode="w"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a step's ``main`` and turn :class:`InputError` into one line and exit 2."""
    try:
        code = main(argv)
    except InputError as err:
        # the one line goes to stderr and into the job's log file, never a traceback
        record = logging.LogRecord("karyospectrum", logging.ERROR, __file__, 0, f"error: {err}", None, None)
        for h in logging.getLogger().handlers:
            if isinstance(h, logging.FileHandler):
                h.emit(record)
            h.flush()
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
