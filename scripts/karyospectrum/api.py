"""Flask app: POST /classify (one crop), POST /karyotype (a spread), GET /health.

Uploads are read into memory only (never written to disk), size-limited, and decoded through
:mod:`karyospectrum.imaging`: non-images, empty files and decompression bombs get a 4xx JSON error.
"""

from __future__ import annotations

import base64
import io
import logging

from .cli import InputError

log = logging.getLogger("karyospectrum.api")

MAX_UPLOAD = 16 * 1024 * 1024
MAX_PIXELS = 25_000_000


def create_app(classifier, max_upload: int = MAX_UPLOAD, max_pixels: int = MAX_PIXELS):
    """Build the app around a loaded :class:`karyospectrum.classifier.Classifier`."""
    from flask import Flask, Request, jsonify, request
    from werkzeug.exceptions import HTTPException

    class MemoryRequest(Request):
        # Werkzeug spools big multipart files to a temporary file; keep uploads in memory instead.
        def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
            return io.BytesIO()

    app = Flask("karyospectrum")
    app.request_class = MemoryRequest
    app.config["MAX_CONTENT_LENGTH"] = max_upload
    app.config["MAX_FORM_MEMORY_SIZE"] = max_upload
    app.extensions["karyospectrum.classifier"] = classifier

    def error(status: int, message: str):
        resp = jsonify({"error": message, "status": status})
        resp.status_code = status
        return resp

    @app.errorhandler(HTTPException)
    def http_error(err):
        if err.code == 413:
            return error(413, f"upload too large (limit {max_upload} bytes)")
        return error(err.code or 500, err.description or err.name)

    @app.errorhandler(InputError)
    def input_error(err):
        too_big = "too large" in err.problem
        return error(413 if too_big else 400, err.problem)

    def upload_image():
        from .imaging import open_image, to_grey

        if request.files:
            f = request.files.get("image") or next(iter(request.files.values()))
            data, name = f.read(max_upload + 1), f.filename or "upload"
        else:
            data, name = request.get_data(cache=False), "upload"
        if len(data) > max_upload:
            raise InputError(name, f"upload too large (> {max_upload} bytes)")
        img = open_image(data, name="upload", max_bytes=max_upload, max_pixels=max_pixels)
        return to_grey(img)

    @app.get("/health")
    def health():
        card = classifier.card
        return jsonify(
            {
                "status": "ok",
                "arch": card.get("arch"),
                "size": card.get("size"),
                "classes": len(classifier.classes),
            }
        )

    @app.post("/classify")
    def classify():
        from .classifier import top_k

        grey = upload_image()
        probs = classifier.predict([grey])
        top = top_k(probs)[0]
        return jsonify(
            {
                "pred": top[0][0],
                "prob": round(top[0][1], 4),
                "top3": [{"chrom": c, "prob": round(p, 4)} for c, p in top],
            }
        )

    @app.post("/karyotype")
    def karyotype():
        from .karyotype import read_spread, sorted_karyogram

        grey = upload_image()
        res = read_spread(classifier, grey)
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
            img, _ = sorted_karyogram([c.image for c in res["crops"]], call.labels, call.probs)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            body["karyogram_png"] = base64.b64encode(buf.getvalue()).decode("ascii")
        return jsonify(body)

    return app
