#!/usr/bin/env python
"""Serve the chromosome classifier over HTTP (Flask app on waitress, bounded threads and queue).

  GET  /health      model and status
  POST /classify    one crop (multipart field "image", or the raw body under any content type)
  POST /karyotype   a metaphase spread -> boxes + classes, karyotype, sorted karyogram PNG (base64)
Uploads stay in memory and are never stored; every image is bounded on its header (bytes, pixels, side,
aspect ratio) and every spread in its work (objects, time); bad input gets 400, 413 or 422 as JSON.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from karyospectrum.api import ServeOptions
from karyospectrum.cli import run, setup_logging

HELP = {
    "workers": "waitress threads serving requests",
    "connection_limit": "open connections at most (the request queue); more wait in the backlog",
    "backlog": "listen() backlog",
    "max_pixels": "largest decoded image (w x h)",
    "max_side": "longest image side (px)",
    "max_aspect": "most elongated image (long side / short side)",
    "max_components": "most chromosome-sized objects in one spread",
    "time_budget": "seconds of segmentation per spread",
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="resources/models/classifier.safetensors")
    for f in fields(ServeOptions):
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(
            flag,
            type=type(f.default),
            default=f.default,
            help=HELP.get(f.name, "") + " (default %(default)s)",
        )
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=2, help="torch threads of the forward pass")
    p.add_argument("--log")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    from karyospectrum.api import create_app, make_server
    from karyospectrum.classifier import Classifier

    opts = ServeOptions(**{f.name: getattr(args, f.name) for f in fields(ServeOptions)})
    clf = Classifier.load(args.checkpoint, device=args.device, threads=args.threads)
    server = make_server(create_app(clf, options=opts), opts)
    print(f"serving on http://{opts.host}:{server.effective_port}", file=sys.stderr, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    run(main)
