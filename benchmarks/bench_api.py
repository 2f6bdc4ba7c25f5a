#!/usr/bin/env python
"""The API server under issue 14's hostile requests and a 1,000-request load: status, time, peak RSS.

    python benchmarks/bench_api.py [--checkpoint resources/models/classifier.safetensors]
        [--requests 1000] [--concurrency 16] [--workers 4] [--threads 1]

Starts ``scripts/serve.py`` (waitress) on a loopback port in its own process and reads that process's
RSS from /proc/<pid>/status: VmRSS before each request and VmHWM (the peak, reset before each request
through /proc/<pid>/clear_refs). Prints a Markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(REPO / "resources/models/classifier.safetensors"))
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--workers", type=int, default=4, help="waitress threads")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the server")
    args = p.parse_args(argv)

    import numpy as np
    from apitools import (
        FORM,
        Server,
        bar_grid_png,
        bomb_png,
        multipart,
        png_bytes,
        reset_peak,
        rss_mb,
        strip_png,
        thin_png,
    )
    from karyospectrum.synthetic import render_chromosome, render_spread

    rng = np.random.default_rng(0)
    crop = png_bytes(render_chromosome("3", rng))
    spread, _ = render_spread(np.random.default_rng(3), size=(900, 900))
    grid, bars = bar_grid_png()
    from PIL import Image

    big = np.asarray(Image.fromarray(spread).resize((4_999, 4_999), Image.Resampling.BILINEAR))
    cases = [
        ("crop, raw body (curl's form content type)", "/classify", crop, FORM),
        ("crop, multipart", "/classify", *multipart(crop)),
        ("spread 900x900, 46 chromosomes", "/karyotype", png_bytes(spread), "image/png"),
        ("the same spread at 4,999x4,999", "/karyotype", png_bytes(big), "image/png"),
        (f"thin 25,000x1,000 1-bit PNG ({len(thin_png()) // 1024} kB)", "/classify", thin_png(), "image/png"),
        ("strip 25,000,000x1", "/classify", strip_png(), "image/png"),
        (f"grid 4,999^2 of {bars} bars ({len(grid) // 1024} kB)", "/karyotype", grid, "image/png"),
        ("bomb 50,000^2, raw body", "/classify", bomb_png(), FORM),
        ("bomb 50,000^2 as a spread", "/karyotype", bomb_png(), FORM),
        ("1x1", "/classify", png_bytes(np.zeros((1, 1), np.uint8)), "image/png"),
        ("all background 90x40", "/classify", png_bytes(np.full((90, 40), 255, np.uint8)), "image/png"),
    ]
    rows = []
    server_args = ["--workers", str(args.workers), "--threads", str(args.threads)]
    with Server(*server_args, checkpoint=Path(args.checkpoint)) as s:
        s.request("/classify", crop, "image/png")  # warm up (first forward passes, karyogram fonts)
        s.request("/karyotype", png_bytes(spread), "image/png")
        idle = s.rss()
        for name, path, body, ctype in cases:
            t0 = time.perf_counter()
            status, _, base, peak, after = s.measure(path, body, ctype)
            rows.append(
                {
                    "request": name,
                    "route": path,
                    "status": status,
                    "seconds": round(time.perf_counter() - t0, 2),
                    "rss_before_mb": round(base),
                    "peak_rss_mb": round(peak),
                    "peak_growth_mb": round(peak - base),
                }
            )
        # four grids at once: large images decode and segment one at a time (ServeOptions.large_jobs)
        base = s.rss()
        reset_peak(s.pid)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(lambda b: s.request("/karyotype", b, "image/png")[0], [grid] * 4))
        rows.append(
            {
                "request": "4 grids at once",
                "route": "/karyotype",
                "status": ", ".join(map(str, statuses)),
                "seconds": round(time.perf_counter() - t0, 2),
                "rss_before_mb": round(base),
                "peak_rss_mb": round(rss_mb(s.pid, "VmHWM")),
                "peak_growth_mb": round(rss_mb(s.pid, "VmHWM") - base),
            }
        )
        good = [png_bytes(render_chromosome(c, rng)) for c in ("1", "7", "12", "X", "21")]
        bad = [b"not an image", bomb_png(), png_bytes(np.full((90, 40), 255, np.uint8)), thin_png()]
        jobs = [bad[(i // 5) % 4] if i % 5 == 4 else good[i % 5] for i in range(args.requests)]
        base = s.rss()
        reset_peak(s.pid)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            statuses = list(pool.map(lambda b: s.request("/classify", b, FORM)[0], jobs))
        wall = time.perf_counter() - t0
        load = {
            "request": f"load: {args.requests} x /classify, {args.concurrency}-way, a fifth bad",
            "route": "/classify",
            "status": f"{statuses.count(200)} ok, {len(statuses) - statuses.count(200)} 4xx",
            "seconds": round(wall, 2),
            "rss_before_mb": round(base),
            "peak_rss_mb": round(rss_mb(s.pid, "VmHWM")),
            "peak_growth_mb": round(rss_mb(s.pid, "VmHWM") - base),
            "rss_after_mb": round(s.rss()),
            "requests_per_s": round(args.requests / wall, 1),
        }
        rows.append(load)
    print("| request | route | status | s | RSS before (MB) | peak RSS (MB) | peak growth (MB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['request']} | `{r['route']}` | {r['status']} | {r['seconds']} | {r['rss_before_mb']} "
            f"| {r['peak_rss_mb']} | {r['peak_growth_mb']} |"
        )
    print(
        f"\nidle server RSS {idle:.0f} MB; load: {load['requests_per_s']} requests/s, RSS "
        f"{load['rss_before_mb']} -> {load['rss_after_mb']} MB after {args.requests} requests"
    )
    print(json.dumps({"idle_rss_mb": round(idle), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
