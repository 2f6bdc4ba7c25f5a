"""Atomic output: every file appears whole or not at all.

Write to a temporary sibling, fsync, then ``os.replace`` it onto the final name. A writer killed
mid-write (kill -9, OOM, a cancelled cluster job) leaves its hidden temporary behind; the next writer
of the same file sweeps it, so a rerun leaves no debris. Zip members get a fixed timestamp, so the
same arrays give the same bytes on every run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place.

    ``suffix`` keeps the extension for writers that infer the format from it
    (PIL, matplotlib, numpy's ``.npz``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    sweep_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


# .NAME.XXXXXXXX.tmp[.EXT], as atomic_path names them (mkstemp's 8 random characters)
_TEMPORARY = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.tmp(\..*)?")
_STALE: dict[str, dict[str, list[str]]] = {}  # folder -> output name -> temporaries found there


def sweep_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporaries a killed writer of ``path`` left (``.NAME.XXXXXXXX.tmp*``); return them.

    Only this file's own temporaries go, never another output's (a concurrent job may be writing it).
    A folder is listed once per process, so writing many files into a large folder stays linear.
    """
    path = Path(path)
    folder = str(path.parent)
    if folder not in _STALE:
        found: dict[str, list[str]] = {}
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(folder):
                m = _TEMPORARY.fullmatch(entry.name) if entry.name[:1] == "." else None
                if m:
                    found.setdefault(m.group(1), []).append(entry.name)
        _STALE[folder] = found
    removed = []
    for name in _STALE[folder].pop(path.name, []):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, name))
            removed.append(path.parent / name)
    return removed


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | Path, obj, indent: int = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the zip format's first date: no wall-clock time in the bytes


def write_npz_member(zf: zipfile.ZipFile, name: str, arr, level: int = 6) -> None:
    """Add one array to an open .npz (a zip of .npy members) with a fixed timestamp."""
    info = zipfile.ZipInfo(name + ".npy", date_time=ZIP_EPOCH)
    info.external_attr = 0o644 << 16
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
    zf.writestr(info, buf.getbuffer(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=level)


def save_npz(path: str | Path, **arrays) -> None:
    """``np.savez_compressed``, atomic and byte-stable (the same arrays give the same file)."""
    with atomic_path(path, suffix=".npz") as tmp:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for name, arr in arrays.items():
                write_npz_member(zf, name, arr)


def png_bytes(image, dpi: int | None = None, compress_level: int = 6) -> bytes:
    """The one PNG encoder: a PIL image as PNG bytes with no timestamp chunks (byte-stable), with its
    print resolution when ``dpi`` is given; ``compress_level`` is zlib's 0-9."""
    buf = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    image.save(buf, format="PNG", optimize=False, compress_level=int(compress_level), **extra)
    return buf.getvalue()


def save_png(path: str | Path, image, dpi: int | None = None, compress_level: int = 6) -> None:
    """Save a PIL image as PNG atomically (see :func:`png_bytes`)."""
    write_bytes(path, png_bytes(image, dpi, compress_level))
