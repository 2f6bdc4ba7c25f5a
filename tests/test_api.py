"""HTTP API: routes and JSON errors in process (Flask test client, an untrained model), then issue 14's
attacks and a 1,000-request load on a real loopback server (scripts/serve.py on waitress, the bundled
classifier) with the server's RSS read from /proc.
"""

import base64
import io
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from apitools import FORM, Server, bar_grid_png, bomb_png, multipart, png_bytes, strip_png, thin_png
from karyospectrum import CHROMOSOMES
from karyospectrum.api import FORM_SLACK, ServeOptions, create_app
from karyospectrum.classifier import Classifier, init_checkpoint
from karyospectrum.synthetic import render_chromosome, render_spread
from PIL import Image

CROP_ARR = render_chromosome("3", np.random.default_rng(0))
CROP = png_bytes(CROP_ARR)
MB = 2**20


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "clf.safetensors"
    init_checkpoint(path, size=32)
    return Classifier.load(path, device="cpu", threads=1)


@pytest.fixture(scope="module")
def client(classifier):
    return create_app(classifier, max_upload=2 * MB, max_pixels=4_000_000).test_client()


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json["status"] == "ok" and r.json["classes"] == 24


@pytest.mark.parametrize("ctype", ["image/png", "application/octet-stream", FORM, "text/plain", None])
def test_classify_multipart_and_raw_body_under_any_content_type(client, ctype):
    r = client.post(
        "/classify", data={"image": (io.BytesIO(CROP), "c.png")}, content_type="multipart/form-data"
    )
    assert r.status_code == 200, r.json
    assert r.json["pred"] in CHROMOSOMES and len(r.json["top3"]) == 3
    assert 0 < r.json["prob"] <= 1
    r2 = client.post("/classify", data=CROP, content_type=ctype)
    assert r2.status_code == 200, r2.json
    assert r2.json == r.json


@pytest.mark.parametrize(
    "body,ctype,status,words",
    [
        (b"", "application/octet-stream", 400, "empty"),
        (b"hello, not an image", "application/octet-stream", 400, "not an image"),
        (b"image=hello", FORM, 400, "not an image"),
        (CROP[:60], "image/png", 400, "image"),  # truncated PNG
        (bomb_png(), "application/octet-stream", 413, "too large"),
        (bomb_png(), FORM, 413, "too large"),  # curl --data-binary @bomb.png
        (b"\x00" * (3 * MB), "application/octet-stream", 413, "large"),  # over the upload limit
        (png_bytes(np.zeros((1, 1), np.uint8)), "image/png", 422, "too small"),
        (png_bytes(np.full((90, 40), 255, np.uint8)), "image/png", 422, "no chromosome"),
        (png_bytes(np.full((10, 900), 255, np.uint8)), "image/png", 422, "aspect ratio"),
        (multipart(CROP, field="image")[0], "multipart/form-data; boundary=nope", 400, "without a file"),
    ],
)
def test_bad_uploads_get_4xx_json(client, body, ctype, status, words):
    r = client.post("/classify", data=body, content_type=ctype)
    assert r.status_code == status
    assert r.is_json and words in r.json["error"].lower() and r.json["status"] == status


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


def test_karyotype_work_is_bounded(classifier):
    grid, bars = bar_grid_png(side=600, pitch=28)  # 441 bars
    app = create_app(classifier, options=ServeOptions(max_components=200)).test_client()
    r = app.post("/karyotype", data=grid, content_type="image/png")
    assert r.status_code == 422 and f"{bars} chromosome-sized objects" in r.json["error"]
    slow = create_app(classifier, options=ServeOptions(time_budget=0.0)).test_client()
    img, _ = render_spread(np.random.default_rng(7), size=(500, 500))
    r = slow.post("/karyotype", data=png_bytes(img), content_type="image/png")
    assert r.status_code == 422 and "took over 0 s" in r.json["error"]


def test_uploads_are_not_written_to_disk(client, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    big = png_bytes(np.random.default_rng(1).integers(0, 255, (900, 900), dtype=np.uint8))  # > 500 kB spool
    assert len(big) > 600_000
    r = client.post(
        "/classify", data={"image": (io.BytesIO(big), "big.png")}, content_type="multipart/form-data"
    )
    assert r.status_code == 200
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- a real server on loopback


@pytest.fixture(scope="module", autouse=True)
def booting_server(tmp_path_factory):
    """Started with the module's first test, so that it loads while the in-process tests run."""
    tmp = tmp_path_factory.mktemp("server_tmp")  # the server's TMPDIR: must stay empty
    with Server("--workers", "4", "--connection-limit", "32", env={"TMPDIR": str(tmp)}, wait=False) as s:
        s.tmpdir = tmp
        yield s


@pytest.fixture(scope="module")
def server(booting_server):
    return booting_server.wait()


def grey16_tiff(grey: np.ndarray) -> bytes:
    return png_bytes((grey.astype(np.uint32) * 257).astype(np.uint16), format="TIFF")


def rgba_cut_out(grey: np.ndarray) -> bytes:
    """The crop's chromosome opaque, its background transparent (black underneath)."""
    alpha = np.where(grey < 235, 255, 0).astype(np.uint8)
    rgb = np.where(alpha[..., None] > 0, grey[..., None], 0).astype(np.uint8)
    return png_bytes(np.dstack([rgb, rgb, rgb, alpha]))


GRID, GRID_BARS = bar_grid_png()  # 4,999^2 px, 31,684 bars in an 11 kB PNG


@pytest.mark.parametrize(
    "name,path,make,ctype,status,words",
    [
        ("thin 25,000 x 1,000 1-bit", "/classify", thin_png, "image/png", 413, "side over"),
        ("strip 25,000,000 x 1", "/classify", strip_png, "image/png", 413, "side over"),
        ("grid of bars", "/karyotype", lambda: GRID, "image/png", 422, f"{GRID_BARS} chromosome-sized"),
        ("bomb sent raw", "/classify", bomb_png, FORM, 413, "too large"),
        ("bomb as a spread", "/karyotype", bomb_png, FORM, 413, "too large"),
        ("crop sent raw", "/classify", lambda: CROP, FORM, 200, None),
        ("1x1", "/classify", lambda: png_bytes(np.zeros((1, 1), np.uint8)), "image/png", 422, "too small"),
        (
            "all background",
            "/classify",
            lambda: png_bytes(np.full((90, 40), 255, np.uint8)),
            FORM,
            422,
            "uniform",
        ),
    ],
)
def test_attacks_on_loopback_are_answered_within_memory(server, name, path, make, ctype, status, words):
    status_got, body, base, peak, after = server.measure(path, make(), ctype)
    assert status_got == status, (name, body)
    if words:
        assert body["status"] == status and words in body["error"], body
    else:
        assert body["pred"] in CHROMOSOMES
    assert peak - base < 300, f"{name}: RSS {base:.0f} -> peak {peak:.0f} MB"
    assert after - base < 300


def test_16_bit_tiff_and_rgba_crops_classify_like_the_8_bit_crop(server):
    ref = server.request("/classify", CROP, "image/png")
    assert ref[0] == 200
    for body in (grey16_tiff(CROP_ARR), rgba_cut_out(CROP_ARR)):
        status, got, _ = server.request("/classify", body, FORM)
        assert status == 200 and got["pred"] == ref[1]["pred"], got
        assert abs(got["prob"] - ref[1]["prob"]) < 0.05


def test_spread_on_loopback_and_nothing_written_to_disk(server):
    def files():  # torch keeps its own cache folders in TMPDIR; an upload must add nothing
        return {p for p in server.tmpdir.rglob("*") if p.is_file()}

    before = files()
    img, truth = render_spread(np.random.default_rng(3), size=(600, 600))
    body, ctype = multipart(png_bytes(img), filename="spread.png")
    status, got, _ = server.request("/karyotype", body, ctype)
    assert status == 200 and abs(got["n"] - len(truth)) <= 3
    big = png_bytes(np.random.default_rng(1).integers(0, 255, (900, 900), dtype=np.uint8))
    assert len(big) > 600_000  # over waitress's and werkzeug's default spooling thresholds
    assert server.request("/classify", *multipart(big))[0] == 200
    assert files() == before


def test_waitress_serves_and_bounds_the_body(server):
    import socket
    import urllib.request

    with urllib.request.urlopen(server.url + "/health", timeout=30) as resp:
        assert resp.headers["Server"] == "karyospectrum"  # waitress's ident, not werkzeug's dev server
    # over Flask's limit: a JSON 413 (the body is refused on its Content-Length)
    status, body, ctype = server.request("/classify", b"\x00" * (16 * MB + FORM_SLACK + 1), "image/png")
    assert status == 413 and ctype == "application/json" and "upload too large" in body["error"]
    # far over it: waitress refuses on the header alone, before reading (or buffering) any of the body
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n")
        assert sock.recv(200).split(b"\r\n")[0].endswith(b"413 Request Entity Too Large")


def test_1000_requests_16_way_a_fifth_bad(server):
    rng = np.random.default_rng(5)
    good = [png_bytes(render_chromosome(c, rng)) for c in ("1", "7", "12", "X", "21")]
    bad = [
        (b"not an image", 400),
        (bomb_png(), 413),
        (png_bytes(np.full((90, 40), 255, np.uint8)), 422),
        (thin_png(), 413),
    ]
    expected = {}
    for body in good:  # each answer alone, one at a time: what every concurrent answer must equal
        status, got, _ = server.request("/classify", body, "image/png")
        assert status == 200
        expected[body] = got
    for body, status in bad:
        expected[body] = status
    jobs = []
    for i in range(1000):
        if i % 5 == 4:
            jobs.append((bad[(i // 5) % len(bad)][0], FORM))
        else:
            jobs.append((good[i % len(good)], "image/png" if i % 2 else FORM))
    base = server.rss()

    def one(job):
        body, ctype = job
        return body, server.request("/classify", body, ctype)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, jobs))
    after = server.rss()
    wrong = []
    for body, (status, got, ctype) in results:
        want = expected[body]
        if isinstance(want, int):
            ok = status == want and ctype == "application/json" and got["status"] == want and got["error"]
        else:
            ok = status == 200 and got == want
        wrong += [] if ok else [(status, got)]
    assert not wrong, wrong[:3]
    assert after - base < 100, f"RSS {base:.0f} -> {after:.0f} MB over 1,000 requests"
    assert server.request("/health")[0] == 200
