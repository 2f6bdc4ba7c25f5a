"""Flask API: /health, /classify, /karyotype; bad uploads get 4xx JSON; a real loopback server under load."""

import base64
import io
import json
import struct
import tempfile
import threading
import urllib.error
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from karyospectrum import CHROMOSOMES
from karyospectrum.api import create_app
from karyospectrum.classifier import Classifier, init_checkpoint
from karyospectrum.synthetic import render_chromosome, render_spread
from PIL import Image


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "clf.safetensors"
    init_checkpoint(path, size=32)
    return Classifier.load(path, device="cpu", threads=1)


@pytest.fixture(scope="module")
def client(classifier):
    return create_app(classifier, max_upload=2 * 1024 * 1024, max_pixels=4_000_000).test_client()


def png_bytes(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(w=50_000, h=50_000) -> bytes:
    """A tiny PNG whose header claims w x h pixels (a decompression bomb)."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


CROP = png_bytes(render_chromosome("3", np.random.default_rng(0)))


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json["status"] == "ok" and r.json["classes"] == 24


def test_classify_multipart_and_raw_body(client):
    r = client.post(
        "/classify", data={"image": (io.BytesIO(CROP), "c.png")}, content_type="multipart/form-data"
    )
    assert r.status_code == 200, r.json
    assert r.json["pred"] in CHROMOSOMES and len(r.json["top3"]) == 3
    assert 0 < r.json["prob"] <= 1
    r2 = client.post("/classify", data=CROP, content_type="image/png")
    assert r2.status_code == 200 and r2.json["pred"] == r.json["pred"]


@pytest.mark.parametrize(
    "body,status,words",
    [
        (b"", 400, "empty"),
        (b"hello, not an image", 400, "not an image"),
        (CROP[:60], 400, "image"),  # truncated PNG
        (bomb_png(), 413, "too large"),
        (b"\x00" * (3 * 1024 * 1024), 413, "large"),  # over the upload limit
    ],
)
def test_bad_uploads_get_4xx_json(client, body, status, words):
    r = client.post("/classify", data=body, content_type="application/octet-stream")
    assert r.status_code == status
    assert r.is_json and words in r.json["error"].lower()


def test_wrong_method_and_path_are_json(client):
    assert client.get("/classify").status_code == 405
    r = client.get("/nope")
    assert r.status_code == 404 and r.is_json


def test_karyotype_of_a_spread(client):
    img, truth = render_spread(np.random.default_rng(7), size=(700, 700))
    r = client.post(
        "/karyotype",
        data={"image": (io.BytesIO(png_bytes(img)), "s.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.json
    body = r.json
    assert abs(body["n"] - len(truth)) <= 3 and len(body["boxes"]) == body["n"]
    assert {"x0", "y0", "x1", "y1", "pred", "prob", "top3", "assigned"} <= set(body["boxes"][0])
    assert body["karyotype"].split(",")[0] == str(body["n"])
    k = Image.open(io.BytesIO(base64.b64decode(body["karyogram_png"])))
    assert k.format == "PNG" and k.size[0] > 200


def test_uploads_are_not_written_to_disk(client, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    big = png_bytes(np.random.default_rng(1).integers(0, 255, (900, 900), dtype=np.uint8))  # > 500 kB spool
    assert len(big) > 600_000
    r = client.post(
        "/classify", data={"image": (io.BytesIO(big), "big.png")}, content_type="multipart/form-data"
    )
    assert r.status_code == 200
    assert list(tmp_path.iterdir()) == []


def test_real_server_on_loopback_under_concurrent_requests(classifier):
    from werkzeug.serving import make_server

    app = create_app(classifier, max_upload=2 * 1024 * 1024)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"

    def post(body):
        req = urllib.request.Request(url + "/classify", data=body, headers={"Content-Type": "image/png"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    try:
        bodies = [CROP] * 12 + [b"junk"] * 4
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(post, bodies))
        ok = [b for s, b in results if s == 200]
        bad = [(s, b) for s, b in results if s != 200]
        assert len(ok) == 12 and len({b["pred"] for b in ok}) == 1
        assert len({round(b["prob"], 3) for b in ok}) == 1  # same answer whatever the interleaving
        assert len(bad) == 4 and all(s == 400 and "error" in b for s, b in bad)
        with urllib.request.urlopen(url + "/health", timeout=30) as resp:
            assert json.loads(resp.read())["status"] == "ok"
    finally:
        server.shutdown()
        server.server_close()


def test_open_image_checks_files(tmp_path):
    from karyospectrum.cli import InputError
    from karyospectrum.imaging import open_image, to_grey

    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    for path, words in [
        (tmp_path / "none.png", "not found"),
        (tmp_path / "empty.png", "empty"),
        (tmp_path, "folder"),
        (tmp_path / "bomb.png", "too large"),
    ]:
        with pytest.raises(InputError, match=words):
            open_image(path)
    with pytest.raises(InputError, match="too large"):
        open_image(CROP, max_bytes=100)
    # 16-bit grey is rescaled, RGBA is composited onto white
    buf = io.BytesIO()
    Image.fromarray((np.arange(200, dtype=np.uint16).reshape(10, 20) * 300)).save(buf, format="PNG")
    g = to_grey(open_image(buf.getvalue()))
    assert g.dtype == np.uint8 and g.min() == 0 and g.max() == 255
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert to_grey(rgba).min() == 255
