"""The hostile uploads of issue 14 and a real API server on loopback (scripts/serve.py on waitress) with
probes of its memory; shared by tests/test_api.py and benchmarks/bench_api.py.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "resources/models/classifier.safetensors"
FORM = "application/x-www-form-urlencoded"  # what curl --data-binary sends


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_of_rows(w: int, h: int, row_bytes, bit_depth: int = 1) -> bytes:
    """A grey PNG built row by row (``row_bytes(y)`` -> packed pixels), never holding the image decoded."""
    comp = zlib.compressobj(9)
    parts = []
    for y in range(h):
        parts.append(comp.compress(b"\x00" + row_bytes(y)))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")
    )


def bomb_png(w: int = 50_000, h: int = 50_000) -> bytes:
    """A tiny PNG whose header claims w x h pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def thin_png(w: int = 25_000, h: int = 1_000) -> bytes:
    """Issue 14's long thin 1-bit PNG (a few kB; 25 M pixels: under the pixel bound, over the side bound)."""
    white = b"\xff" * ((w + 7) // 8)
    bar = bytearray(white)
    bar[len(bar) // 3 : 2 * len(bar) // 3] = b"\x00" * (2 * len(bar) // 3 - len(bar) // 3)
    return png_of_rows(w, h, lambda y: bytes(bar) if h // 4 < y < 3 * h // 4 else white)


def strip_png(w: int = 25_000_000) -> bytes:
    """Issue 14's 25,000,000 x 1 strip."""
    return png_of_rows(w, 1, lambda y: b"\x55" * ((w + 7) // 8))


def bar_grid_png(side: int = 4_999, pitch: int = 28, bar: tuple = (6, 18)) -> tuple[bytes, int]:
    """Issue 14's grid: ``side``^2 pixels holding (side // pitch)^2 dark bars; returns (PNG, bars)."""
    n = side // pitch
    row_bar = np.ones(side, bool)
    for i in range(n):
        row_bar[i * pitch + 4 : i * pitch + 4 + bar[0]] = False
    packed_bar = np.packbits(row_bar).tobytes()
    packed_white = np.packbits(np.ones(side, bool)).tobytes()

    def row(y):
        k = y % pitch
        return packed_bar if y < n * pitch and 4 <= k < 4 + bar[1] else packed_white

    return png_of_rows(side, side, row), n * n


def png_bytes(arr, **save) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    (arr if isinstance(arr, Image.Image) else Image.fromarray(arr)).save(
        buf, format=save.pop("format", "PNG"), **save
    )
    return buf.getvalue()


def multipart(data: bytes, field: str = "image", filename: str = "upload.png") -> tuple[bytes, str]:
    boundary = "karyospectrum-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------------- a server on loopback


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """``field`` of /proc/<pid>/status in MB (VmRSS now, VmHWM the peak since the last reset)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    """Reset the peak RSS (VmHWM) of ``pid`` to its current RSS; False where the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Server:
    """``python scripts/serve.py`` on a free loopback port, in its own process (so its RSS is its own)."""

    def __init__(self, *args: str, checkpoint: Path = CHECKPOINT, env: dict | None = None, wait: bool = True):
        cmd = [sys.executable, str(REPO / "scripts/serve.py"), "--checkpoint", str(checkpoint), "--port", "0"]
        cmd += ["--device", "cpu", "--threads", "1", *args]
        self.proc = subprocess.Popen(
            cmd,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.pid = self.proc.pid
        self.log: list[str] = []
        self.url = None
        if wait:
            self.wait()

    def wait(self, timeout: float = 180) -> "Server":
        """Block until the server prints its address (it loads torch and the model first)."""
        if self.url:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("server exited before serving: " + "".join(self.log))
            self.log.append(line)
            if line.startswith("serving on "):
                self.url = line.split()[-1]
                break
        else:
            self.close()
            raise RuntimeError("server did not start in time")
        # drain the server's log in the background so that it never blocks on a full pipe
        import threading

        threading.Thread(
            target=lambda: self.log.extend(iter(self.proc.stderr.readline, "")), daemon=True
        ).start()
        return self

    def request(
        self, path: str, data: bytes | None = None, content_type: str | None = None, timeout: float = 120
    ):
        """(status, parsed JSON or None, content type) of one request; a new connection each time."""
        headers = {"Content-Type": content_type} if content_type else {}
        req = urllib.request.Request(
            self.url + path, data=data, headers=headers, method="POST" if data is not None else "GET"
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read()), resp.headers.get_content_type()
        except urllib.error.HTTPError as err:
            body = err.read()
            ctype = err.headers.get_content_type()
            return err.code, (json.loads(body) if ctype == "application/json" else None), ctype

    def rss(self) -> float:
        return rss_mb(self.pid)

    def measure(self, path: str, data: bytes, content_type: str | None = None):
        """One request with the server's RSS around it: (status, body, baseline MB, peak MB, after MB).

        The peak is VmHWM after a reset (the true high-water mark of the request); where the kernel does
        not allow the reset it is the larger of the RSS before and after.
        """
        base = self.rss()
        can_reset = reset_peak(self.pid)
        status, body, _ = self.request(path, data, content_type)
        after = self.rss()
        peak = rss_mb(self.pid, "VmHWM") if can_reset else max(base, after)
        return status, body, base, peak, after

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
