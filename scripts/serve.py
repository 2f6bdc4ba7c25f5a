#!/usr/bin/env python
"""Serve the chromosome classifier over HTTP (Flask).

  GET  /health      model and status
  POST /classify    one crop (multipart field "image", or the raw body) -> pred, prob, top3
  POST /karyotype   a metaphase spread -> boxes + classes, karyotype, sorted karyogram PNG (base64)
Uploads stay in memory and are never stored; bad or oversized images get a 4xx JSON error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from karyospectrum.cli import run, setup_logging  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="resources/models/classifier.safetensors")
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-upload-mb", type=float, default=16.0)
    p.add_argument("--max-pixels", type=int, default=25_000_000, help="largest decoded image (w x h)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    from karyospectrum.api import create_app
    from karyospectrum.classifier import Classifier
    from werkzeug.serving import make_server

    clf = Classifier.load(args.checkpoint, device=args.device, threads=args.threads)
    app = create_app(clf, max_upload=int(args.max_upload_mb * 1024 * 1024), max_pixels=args.max_pixels)
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"serving on http://{args.host}:{server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    run(main)
