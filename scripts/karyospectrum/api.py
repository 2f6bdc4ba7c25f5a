"""HTTP API: POST /classify (one crop), POST /karyotype (a spread), GET /health; served by waitress.

Uploads are read into memory only (never written to disk), size-limited, and decoded through
:mod:`karyospectrum.imaging`, which bounds every image on its header. Every answer is JSON; a bad upload
gets 400, one over a bound 413 (too large) or 422 (cannot be processed), always ``{"error", "status"}``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import threading
from dataclasses import dataclass

from .crop import MAX_COMPONENTS
from .errors import InputError
from .imaging import MAX_ASPECT, MAX_SIDE

log = logging.getLogger("karyospectrum.api")

MAX_UPLOAD = 16 * 1024 * 1024
MAX_PIXELS = 25_000_000
# Multipart framing around the file; the server's own body limit leaves this much room above MAX_UPLOAD
# so that Flask, not waitress, answers an oversized upload (as JSON).
FORM_SLACK = 64 * 1024
CROP_SIDE = 1024  # longest side /classify preprocesses (real crops are 20-300 px)


@dataclass
class ServeOptions:
    """Limits and server settings of ``scripts/serve.py`` (its argparse defaults)."""

    host: str = "127.0.0.1"  # loopback by default
    port: int = 8000
    workers: int = 4  # waitress threads serving requests
    connection_limit: int = 32  # open connections (the bounded request queue); more wait in the backlog
    backlog: int = 64  # listen() backlog: connections not yet accepted
    channel_timeout: int = 30  # s an idle or stalled connection is kept
    max_upload_mb: float = MAX_UPLOAD / 2**20
    max_pixels: int = MAX_PIXELS
    max_side: int = MAX_SIDE
    max_aspect: float = MAX_ASPECT
    max_components: int = MAX_COMPONENTS  # chromosome-sized objects per spread (a cell has ~46)
    time_budget: float = 20.0  # s of segmentation per spread
    large_pixels: int = 4_000_000  # images above this decode and segment one at a time
    large_jobs: int = 1

    @property
    def max_upload(self) -> int:
        return int(self.max_upload_mb * 2**20)


@dataclass
class _AppState:
    """What the routes of one app share (``app.extensions["karyospectrum.api"]``)."""

    classifier: object
    opts: ServeOptions
    max_upload: int
    limits: object  # imaging.ImageLimits
    # Large images take a slot: the memory of concurrent hostile requests is bounded by large_jobs.
    large_slots: threading.BoundedSemaphore


def create_app(classifier, max_upload: int | None = None, max_pixels: int | None = None, options=None):
    """Build the app around a loaded :class:`karyospectrum.classifier.Classifier`."""
    from flask import Flask
    from werkzeug.exceptions import HTTPException

    from .imaging import ImageLimits

    opts = options or ServeOptions()
    max_upload = max_upload if max_upload is not None else opts.max_upload
    limits = ImageLimits(
        max_bytes=max_upload,
        max_pixels=max_pixels if max_pixels is not None else opts.max_pixels,
        max_side=opts.max_side,
        max_aspect=opts.max_aspect,
    )
    app = Flask("karyospectrum")
    app.request_class = _memory_request_class()
    app.config["MAX_CONTENT_LENGTH"] = max_upload + FORM_SLACK
    app.config["MAX_FORM_MEMORY_SIZE"] = max_upload
    app.extensions["karyospectrum.classifier"] = classifier
    app.extensions["karyospectrum.api"] = _AppState(
        classifier, opts, max_upload, limits, threading.BoundedSemaphore(opts.large_jobs)
    )
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InputError, _input_error)
    app.register_error_handler(Exception, _internal_error)
    app.get("/health")(health)
    app.post("/classify")(classify)
    app.post("/karyotype")(karyotype)
    return app


def _memory_request_class():
    from flask import Request

    class MemoryRequest(Request):
        # Werkzeug spools big multipart files to a temporary file; keep uploads in memory instead.
        def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
            return io.BytesIO()

    return MemoryRequest


def _state() -> _AppState:
    from flask import current_app

    return current_app.extensions["karyospectrum.api"]


def _error(status: int, message: str):
    from flask import jsonify

    resp = jsonify({"error": message, "status": status})
    resp.status_code = status
    return resp


def _http_error(err):
    if err.code == 413:
        return _error(413, f"upload too large (limit {_state().max_upload} bytes)")
    return _error(err.code or 500, err.description or err.name)


def _input_error(err):
    status = getattr(err, "status", None) or (413 if "too large" in err.problem else 400)
    return _error(status, err.problem)


def _internal_error(err):
    from flask import request

    log.exception("internal error on %s", request.path)
    return _error(500, "internal error")


def _upload_bytes(max_upload: int) -> bytes:
    """The request's upload. Multipart: the field ``image`` (or the first file). Anything else: the raw
    body, whatever its content type (curl --data-binary sends application/x-www-form-urlencoded): never
    parsed as a form."""
    from flask import request

    if request.mimetype == "multipart/form-data":
        if not request.files:
            raise InputError("upload", "multipart upload without a file (send it as field 'image')")
        f = request.files.get("image") or next(iter(request.files.values()))
        data = f.read(max_upload + 1)
    else:
        data = request.get_data(cache=False)
    if len(data) > max_upload:
        raise InputError("upload", f"upload too large (> {max_upload} bytes)")
    return data


@contextlib.contextmanager
def upload_image():
    """The request's image, header-checked and decoded, as uint8 grey (inside a slot when large)."""
    from .imaging import decode_image, open_image, to_grey

    state = _state()
    img = open_image(_upload_bytes(state.max_upload), name="upload", limits=state.limits, decode=False)
    large = img.size[0] * img.size[1] > state.opts.large_pixels
    with state.large_slots if large else contextlib.nullcontext():
        try:
            grey = to_grey(decode_image(img))
            del img  # the decoded image (up to 4 bytes a pixel) is not kept while the grey is used
            yield grey
        finally:
            if large:
                release_memory()


def health():
    from flask import jsonify

    classifier = _state().classifier
    card = classifier.card
    return jsonify(
        {
            "status": "ok",
            "arch": card.get("arch"),
            "size": card.get("size"),
            "classes": len(classifier.classes),
        }
    )


def classify():
    from flask import jsonify

    from .classifier import top_k
    from .imaging import check_crop, fit_within

    classifier = _state().classifier
    with upload_image() as grey:
        # a crop is tens to hundreds of px: a larger one is read at CROP_SIDE, preprocessing stays cheap
        probs = classifier.predict([fit_within(check_crop(grey, "upload"), CROP_SIDE)])
    top = top_k(probs)[0]
    return jsonify(
        {
            "pred": top[0][0],
            "prob": round(top[0][1], 4),
            "top3": [{"chrom": c, "prob": round(p, 4)} for c, p in top],
        }
    )


def karyotype():
    from flask import jsonify

    from .karyotype import read_spread

    state = _state()
    with upload_image() as grey:
        res = read_spread(
            state.classifier,
            grey,
            max_components=state.opts.max_components,
            time_budget=state.opts.time_budget,
            name="upload",
        )
    call = res["call"]
    body = {
        "n": len(res["boxes"]),
        "boxes": res["boxes"],
        "karyotype": call.karyotype,
        "fits": call.fits,
        "sex": call.sex,
        "karyogram_png": None,
    }
    if res["boxes"]:
        body["karyogram_png"] = _karyogram_png(res, call)
    del res
    release_memory()  # a spread's crops and segmentation arrays: back to the system
    return jsonify(body)


def _karyogram_png(res: dict, call) -> str:
    """The spread's crops sorted into a karyogram, as base64 PNG."""
    from .karyotype import sorted_karyogram

    img, _ = sorted_karyogram([c.image for c in res["crops"]], call.labels, call.probs)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _libc():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_memory() -> None:
    """Give freed heap memory back to the system after a large image (glibc keeps it otherwise)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def tune_malloc(threshold: int = 1 << 20) -> None:
    """Serve image-sized arrays from mmap, freed whole: a fixed threshold instead of glibc's sliding one
    (which rises to 32 MB after the first large free, so later arrays stay in the heap for good)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(-3, threshold)  # M_MMAP_THRESHOLD
        libc.mallopt(-8, 2)  # M_ARENA_MAX: worker threads share two heaps, not one each


def make_server(app, opts: ServeOptions):
    """A waitress server for ``app`` with bounded threads, connections and request bodies (not started).

    Request bodies stay in memory (``inbuf_overflow`` above the body limit: never spooled to disk), so the
    worst case held in buffers is ``connection_limit`` x the body limit.
    """
    from waitress.server import create_server

    tune_malloc()
    body_limit = opts.max_upload + 2 * FORM_SLACK
    return create_server(
        app,
        host=opts.host,
        port=opts.port,
        threads=opts.workers,
        connection_limit=opts.connection_limit,
        backlog=opts.backlog,
        channel_timeout=opts.channel_timeout,
        max_request_body_size=body_limit,
        inbuf_overflow=body_limit + 1,
        max_request_header_size=64 * 1024,
        clear_untrusted_proxy_headers=True,
        expose_tracebacks=False,
        ident="karyospectrum",
    )
