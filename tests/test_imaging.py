"""imaging.py, the one owner of user images: header bounds before decoding, 16-bit, alpha, crop checks;
and the classify CLI on issue 11's bad crops (all background, 1x1, 16-bit TIFF, RGBA with an alpha mask).
"""

import io
import resource

import numpy as np
import pytest
from apitools import CHECKPOINT, bar_grid_png, bomb_png, png_bytes, strip_png, thin_png
from karyospectrum.errors import InputError
from karyospectrum.imaging import (
    ImageLimits,
    ImageRefused,
    check_crop,
    decode_image,
    fit_within,
    high_depth_to_u8,
    load_crop,
    open_image,
    to_grey,
)
from karyospectrum.synthetic import render_chromosome
from PIL import Image

CROP = render_chromosome("3", np.random.default_rng(0))


def cut_out(grey: np.ndarray, transparent_rgb=(0, 0, 0)) -> Image.Image:
    """RGBA of a dark-on-white crop: the chromosome opaque, the background transparent (``transparent_rgb``)."""
    alpha = np.where(grey < 235, 255, 0).astype(np.uint8)
    rgb = np.where(alpha[..., None] > 0, grey[..., None], np.array(transparent_rgb, np.uint8)).astype(
        np.uint8
    )
    return Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA")


def test_open_image_checks_files(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    (tmp_path / "x.eps").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    for path, words in [
        (tmp_path / "none.png", "not found"),
        (tmp_path / "empty.png", "empty"),
        (tmp_path, "folder"),
        (tmp_path / "bomb.png", "too large"),
        (tmp_path / "x.eps", "not an image"),  # never handed to Ghostscript
    ]:
        with pytest.raises(InputError, match=words):
            open_image(path)
    with pytest.raises(InputError, match="too large"):
        open_image(png_bytes(CROP), max_bytes=100)
    with pytest.raises(InputError, match="not a decodable image"):
        open_image(png_bytes(CROP)[:60])


@pytest.mark.parametrize(
    "make,status,words",
    [
        (thin_png, 413, "side over 16384"),  # 25,000 x 1,000 1-bit: under the pixel bound
        (strip_png, 413, "side over"),  # 25,000,000 x 1
        (lambda: bomb_png(), 413, "too large"),
        (lambda: png_bytes(np.full((20, 1_200), 255, np.uint8)), 422, "aspect ratio"),  # 60:1
    ],
)
def test_header_bounds_refuse_before_decoding(make, status, words):
    data = make()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageRefused, match=words) as err:
        open_image(data, name="up")
    assert err.value.status == status and err.value.path == "up"
    # nothing of the image's size was allocated (ru_maxrss is in kB)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 20_000


def test_decoded_bytes_and_pixel_bounds():
    rgba = png_bytes(Image.new("RGBA", (2_000, 1_000), (255, 255, 255, 255)))
    with pytest.raises(ImageRefused, match="decodes to 8000000 bytes"):
        open_image(rgba, limits=ImageLimits(max_decoded_bytes=4_000_000))
    assert open_image(rgba, limits=ImageLimits(max_decoded_bytes=8_000_000)).size == (2_000, 1_000)
    grid, _ = bar_grid_png(side=1_000)
    with pytest.raises(ImageRefused, match="pixels > 999999"):
        open_image(grid, max_pixels=999_999)
    lazy = open_image(grid, decode=False)  # header checked, pixels not decoded yet
    assert lazy.size == (1_000, 1_000) and getattr(lazy, "_im", None) is None
    assert to_grey(decode_image(lazy)).shape == (1_000, 1_000)


def test_sixteen_bit_keeps_polarity_and_blank_stays_blank():
    # a 12-bit microscope crop in a 16-bit TIFF: dark object on a bright field
    a = (np.asarray(CROP, np.float64) / 255 * 4095).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="TIFF")
    img = open_image(buf.getvalue())
    assert img.mode.startswith("I;16")
    g = to_grey(img)
    assert g.dtype == np.uint8 and g.shape == CROP.shape
    assert np.corrcoef(g.ravel(), CROP.ravel())[0, 1] > 0.99  # the same picture, the same polarity
    # an empty field with sensor noise is not stretched into a "chromosome"
    noise = (3000 + np.random.default_rng(0).integers(0, 20, (60, 30))).astype(np.uint16)
    assert int(np.ptp(high_depth_to_u8(noise))) < 10
    with pytest.raises(ImageRefused, match="uniform"):
        check_crop(high_depth_to_u8(noise))
    f = high_depth_to_u8(np.array([[0.0, 0.5], [1.0, np.nan]], np.float32))
    assert f.tolist() == [[0, 128], [255, 0]]


def test_alpha_is_composited_over_the_background():
    # transparent background (black underneath): composited over white, the chromosome unchanged
    g = to_grey(cut_out(CROP))
    opaque = CROP < 235
    assert (g[~opaque] == 255).all() and np.array_equal(g[opaque], CROP[opaque])
    # an opaque grey field around a cut-out hole: the border's colour is the background
    a = np.full((40, 40), 255, np.uint8)
    a[10:30, 10:30] = 0
    rgba = Image.fromarray(np.dstack([np.full((40, 40, 3), 90, np.uint8), a]), mode="RGBA")
    assert to_grey(rgba)[20, 20] == 90 and to_grey(rgba)[0, 0] == 90
    # a fluorescent crop with an opaque black border around a transparent hole: black underneath
    fl = np.dstack([255 - CROP, np.where(CROP < 235, 255, 0)]).astype(np.uint8)
    fl[:, :2, 1] = fl[:, -2:, 1] = fl[:2, :, 1] = fl[-2:, :, 1] = 255
    fl = to_grey(open_image(png_bytes(Image.fromarray(fl, mode="LA"))))
    assert (fl[5:-5, 5:-5][~opaque[5:-5, 5:-5]] == 0).all()
    # palette transparency and LA take the same path
    assert to_grey(Image.new("RGBA", (4, 4), (0, 0, 0, 0)).convert("PA")).min() == 255


def test_check_crop_and_fit_within():
    for arr, words in [
        (np.zeros((1, 1), np.uint8), "too small"),
        (np.full((5, 7), 0, np.uint8), "too small"),
        (np.full((80, 30), 255, np.uint8), "uniform"),
        (np.full((80, 30), 17, np.uint8), "uniform"),
    ]:
        with pytest.raises(ImageRefused, match=words) as err:
            check_crop(arr, "c.png")
        assert err.value.status == 422
    assert check_crop(CROP) is CROP
    long = np.full((16_000, 320), 255, np.uint8)
    small = fit_within(long, 512)
    assert small.shape == (512, 10) and small.dtype == np.uint8
    assert fit_within(CROP, 512) is CROP
    assert fit_within(np.ones((2000, 100), np.float32), 200).shape == (200, 10)


def test_to_square_canvas_is_bounded_for_a_long_crop():
    from karyospectrum.classifier import to_square

    long = np.full((16_000, 320), 255, np.uint8)
    long[500:15_500, 100:220] = 40
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sq = to_square(long, 64)
    assert sq.shape == (64, 64) and sq.max() > 0.2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 400_000  # not 16,000^2 floats


def test_load_crop_refuses_bad_crops_in_one_line(tmp_path):
    (tmp_path / "one.png").write_bytes(png_bytes(np.zeros((1, 1), np.uint8)))
    (tmp_path / "blank.png").write_bytes(png_bytes(np.full((90, 40), 250, np.uint8)))
    for name, words in [("one.png", "too small"), ("blank.png", "uniform")]:
        with pytest.raises(ImageRefused, match=words) as err:
            load_crop(tmp_path / name)
        assert str(err.value).startswith(str(tmp_path / name) + ": ") and "\n" not in str(err.value)
    (tmp_path / "ok.png").write_bytes(png_bytes(CROP))
    assert np.array_equal(load_crop(tmp_path / "ok.png"), CROP)


# --------------------------------------------------------------------------- the classify CLI


@pytest.fixture(scope="module")
def bad_crops(tmp_path_factory):
    d = tmp_path_factory.mktemp("crops")
    a16 = (np.asarray(CROP, np.float64) * 257).astype(np.uint16)
    Image.fromarray(a16).save(d / "crop16.tif")
    cut_out(CROP).save(d / "rgba.png")
    Image.fromarray(CROP).save(d / "crop.png")
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(d / "one.png")
    Image.fromarray(np.full((90, 40), 255, np.uint8)).save(d / "blank.png")
    return d


def classify_cli(capsys, *argv):
    import classify

    with pytest.raises(SystemExit) as ex:
        from karyospectrum.cli import run

        run(classify.main, ["--checkpoint", str(CHECKPOINT), "--device", "cpu", "--threads", "1", *argv])
    out, err = capsys.readouterr()
    return ex.value.code, out, err


def test_classify_cli_reads_16_bit_and_rgba_like_the_8_bit_crop(bad_crops, capsys):
    preds = {}
    for name in ("crop.png", "crop16.tif", "rgba.png"):
        code, out, err = classify_cli(capsys, "--image", str(bad_crops / name))
        assert code == 0 and "Traceback" not in err, err
        header, row = out.strip().splitlines()
        preds[name] = dict(zip(header.split("\t"), row.split("\t")))["pred"]
    assert preds["crop16.tif"] == preds["crop.png"] == preds["rgba.png"]


@pytest.mark.parametrize("name,words", [("one.png", "too small"), ("blank.png", "no chromosome")])
def test_classify_cli_refuses_crops_without_a_chromosome_in_one_line(bad_crops, capsys, name, words):
    code, out, err = classify_cli(capsys, "--image", str(bad_crops / name))
    assert code == 2 and "Traceback" not in err and out == ""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad_crops / name) in errors[0] and words in errors[0]
