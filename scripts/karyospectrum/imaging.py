"""Safe decoding of user images: the one owner of every image that comes from a user (files, manifests,
API uploads). The header is checked (bytes, pixels, side, aspect ratio, decoded bytes, format) before any
pixel is decoded; 16-bit and float images and alpha masks become 2-D uint8 grey.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .errors import InputError

MAX_BYTES = 32 * 1024 * 1024  # encoded size
MAX_PIXELS = 40_000_000  # decoded size (width x height)
# A metaphase scan is a few thousand px a side and a chromosome crop ~ 1:10. Longer sides or thinner
# strips are refused on the header: they are where a few kB of PNG cost gigabytes downstream (issue 14).
MAX_SIDE = 16_384
MAX_ASPECT = 50.0
MAX_DECODED_BYTES = 160 * 1024 * 1024  # PIL's in-memory size: 1 byte/px (1, L, P), 2 (I;16), else 4
FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "GIF", "WEBP")  # never EPS/PDF (Ghostscript) or exotic decoders
# A crop to classify: at least this many px on its long side, and some contrast (grey levels, 8-bit).
MIN_CROP_SIDE = 8
MIN_CROP_RANGE = 10


class ImageRefused(InputError):
    """A user image refused on a bound: ``status`` is the HTTP answer (413 too large, 422 unprocessable)."""

    def __init__(self, path, problem: str, status: int = 422):
        super().__init__(path, problem)
        self.status = status


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on one user image, all checked on the header before anything is decoded."""

    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS
    max_side: int = MAX_SIDE
    max_aspect: float = MAX_ASPECT
    max_decoded_bytes: int = MAX_DECODED_BYTES


# The workflow's own pictures (tiles, karyograms for the contact sheet): a chromosome tile is thinner
# (chromosome 1 is ~1:11) and a karyogram larger than a user's crop or spread may be.
WORKFLOW_IMAGES = ImageLimits(
    max_bytes=512 * 1024 * 1024,
    max_pixels=64_000_000,
    max_side=65_536,
    max_aspect=1_000.0,
    max_decoded_bytes=4 * 64_000_000,
)


def _read_source(source, name: str | None, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or str(path)
        if not path.exists():
            raise InputError(name, "image not found")
        if path.is_dir():
            raise InputError(name, "is a folder, not an image")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageRefused(name, f"image file too large ({size} bytes > {max_bytes})", 413)
        data = path.read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        data = source.read(max_bytes + 1)
    name = name or "<upload>"
    if len(data) == 0:
        raise InputError(name, "empty file, not an image")
    if len(data) > max_bytes:
        raise ImageRefused(name, f"image too large (> {max_bytes} bytes)", 413)
    return data, name


def _bytes_per_pixel(mode: str) -> int:
    return 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4


def check_header(w: int, h: int, mode: str, name: str, limits: ImageLimits) -> None:
    """Refuse a size that would cost too much to decode or to process (called before decoding)."""
    if w <= 0 or h <= 0:
        raise InputError(name, "image has no pixels")
    if w * h > limits.max_pixels:
        raise ImageRefused(
            name, f"image too large ({w}x{h} pixels > {limits.max_pixels}; decompression bomb?)", 413
        )
    if max(w, h) > limits.max_side:
        raise ImageRefused(name, f"image too large ({w}x{h}: a side over {limits.max_side} px)", 413)
    if max(w, h) / min(w, h) > limits.max_aspect:
        raise ImageRefused(name, f"image too thin ({w}x{h}: aspect ratio over {limits.max_aspect:g}:1)", 422)
    decoded = w * h * _bytes_per_pixel(mode)
    if decoded > limits.max_decoded_bytes:
        raise ImageRefused(
            name,
            f"image too large ({w}x{h} {mode} decodes to {decoded} bytes > {limits.max_decoded_bytes})",
            413,
        )


def open_image(
    source,
    name: str | None = None,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    limits: ImageLimits | None = None,
    decode: bool = True,
):
    """Open ``source`` (a path, bytes or a binary file object) as a PIL image, checked on its header.

    With ``decode`` (the default) the pixels are decoded too; otherwise the caller decodes with
    :func:`decode_image` (e.g. after taking a slot for a large image).
    """
    from PIL import Image, UnidentifiedImageError

    # Our bounds are below PIL's warning level; its warning would be a second line on a refusal.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    overrides = {"max_bytes": max_bytes, "max_pixels": max_pixels}
    limits = replace(limits or ImageLimits(), **{k: v for k, v in overrides.items() if v is not None})
    data, name = _read_source(source, name, limits.max_bytes)
    # PIL's own guard raises for > 2x its MAX_IMAGE_PIXELS at open; ours is checked on the header,
    # before any pixel is decoded. (No global PIL setting is touched: the API decodes in threads.)
    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
        w, h = img.size
        check_header(w, h, img.mode, name, limits)
    except Image.DecompressionBombError as err:
        raise ImageRefused(name, f"image too large ({_bomb_pixels(err)}; decompression bomb?)", 413) from None
    except UnidentifiedImageError:
        raise InputError(
            name, f"not an image (unrecognised format; expected one of {', '.join(FORMATS)})"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise InputError(name, f"not a decodable image ({_first_line(err)})") from None
    img.karyospectrum_name = name
    return decode_image(img) if decode else img


def decode_image(img):
    """Decode the pixels of an image from :func:`open_image` (``decode=False``); errors are one line."""
    from PIL import Image

    name = getattr(img, "karyospectrum_name", "<upload>")
    try:
        img.load()
    except Image.DecompressionBombError as err:
        raise ImageRefused(name, f"image too large ({_bomb_pixels(err)}; decompression bomb?)", 413) from None
    except MemoryError:
        raise ImageRefused(name, "image too large to decode in the memory left", 413) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise InputError(name, f"not a decodable image ({_first_line(err)})") from None
    return img


def _bomb_pixels(err: BaseException) -> str:
    import re

    m = re.search(r"\((\d+) pixels\)", str(err))
    return f"{m.group(1)} pixels" if m else "too many pixels"


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


# --------------------------------------------------------------------------- to grey

_BLOCK = 1 << 20  # pixels per block of a conversion: bounded temporaries on large images


def _scale_to_u8(a: np.ndarray, lo: float, scale: float) -> np.ndarray:
    """uint8 of round((a - lo) * scale), clipped, computed block by block."""
    out = np.empty(a.shape, np.uint8)
    flat_in, flat_out = a.reshape(-1), out.reshape(-1)
    for i in range(0, flat_in.size, _BLOCK):
        blk = flat_in[i : i + _BLOCK].astype(np.float32)
        blk -= lo
        blk *= scale
        np.clip(np.rint(blk, out=blk), 0, 255, out=blk)
        flat_out[i : i + _BLOCK] = blk
    return out


def high_depth_to_u8(a: np.ndarray) -> np.ndarray:
    """16/32-bit integer or float grey -> uint8, keeping polarity and a blank image blank.

    The full scale is the data's effective bit depth (8, 10, 12, 14, 16 bits, or [0, 1] for floats).
    A crop that uses at least 1/32 of that scale is stretched min..max to 0..255 (12-bit microscopy
    keeps its bands); a flatter one is only scaled, so sensor noise on an empty field stays flat.
    """
    a = np.asarray(a)
    finite = np.isfinite(a) if a.dtype.kind == "f" else None
    if finite is not None and not finite.all():
        a = np.where(finite, a, 0)
    lo, hi = float(a.min()), float(a.max())
    if a.dtype.kind == "f" and lo >= 0 and hi <= 1:
        full = 1.0
    else:
        bits = max(8, int(np.ceil(np.log2(max(hi, 1.0) + 1))))
        full = float(2 ** min(32, bits + (bits % 2)) - 1)
    if hi - lo >= full / 32:
        return _scale_to_u8(a, lo, 255.0 / (hi - lo))
    return _scale_to_u8(a, 0.0, 255.0 / full)


def background_level(lum: np.ndarray, alpha: np.ndarray) -> int:
    """The grey that transparent pixels are composited over: the median of the opaque pixels on the
    image border when most of the border is opaque (the picture's own background), else white, the
    project's dark-on-light convention. (A fluorescent cut-out on a transparent field therefore needs
    an opaque black border; alpha alone cannot tell its polarity.)
    """
    if min(lum.shape) >= 2:
        border = np.concatenate([lum[0], lum[-1], lum[1:-1, 0], lum[1:-1, -1]])
        a_border = np.concatenate([alpha[0], alpha[-1], alpha[1:-1, 0], alpha[1:-1, -1]])
        opaque = border[a_border >= 128]
        if opaque.size > border.size // 2:
            return int(np.median(opaque))
    return 255


def to_grey(img) -> np.ndarray:
    """PIL image -> 2-D uint8 grey.

    16-bit, 32-bit and float images go through :func:`high_depth_to_u8`; an alpha channel is composited
    over :func:`background_level`; colour becomes luminance.
    """
    from PIL import Image

    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return high_depth_to_u8(np.asarray(img))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        if img.mode not in ("RGBA", "LA"):
            img = img.convert("RGBA")
        alpha = img.getchannel("A")
        lum = img.convert("L")
        bg = background_level(np.asarray(lum), np.asarray(alpha))
        return np.asarray(Image.composite(lum, Image.new("L", lum.size, bg), alpha))
    return np.asarray(img.convert("L") if img.mode != "L" else img)


def fit_within(grey: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale a 2-D grey array (antialiased, keeping the aspect ratio) so that no side exceeds
    ``max_side``; smaller arrays are returned as they are. Keeps any square canvas made from it bounded.
    """
    from PIL import Image

    grey = np.asarray(grey)
    h, w = grey.shape[:2]
    if max(h, w) <= max_side:
        return grey
    f = max_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    if grey.dtype == np.uint8 and grey.ndim == 2:
        return np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.BOX))
    if grey.ndim == 3:
        return np.stack([fit_within(grey[..., c], max_side) for c in range(grey.shape[2])], axis=2)
    small = Image.fromarray(np.asarray(grey, np.float32), mode="F").resize(size, Image.Resampling.BOX)
    return np.asarray(small, np.float32).astype(grey.dtype, copy=False)


def check_crop(grey: np.ndarray, name: str | None = None) -> np.ndarray:
    """Refuse (422) a crop that cannot hold a chromosome: too small, or uniform (all background)."""
    grey = np.asarray(grey)
    h, w = grey.shape[:2]
    if max(h, w) < MIN_CROP_SIDE or min(h, w) < 2:
        raise ImageRefused(
            name or "<upload>",
            f"image too small to hold a chromosome ({w}x{h} px; at least {MIN_CROP_SIDE} px long and 2 wide)",
        )
    spread = int(grey.max()) - int(grey.min())
    if spread < MIN_CROP_RANGE:
        raise ImageRefused(
            name or "<upload>",
            f"no chromosome in the image: it is uniform (grey range {spread} < {MIN_CROP_RANGE})",
        )
    return grey


def load_crop(source, name: str | None = None, limits: ImageLimits | None = None) -> np.ndarray:
    """Open, decode and check one crop to classify: 2-D uint8 grey, or one-line InputError."""
    img = open_image(source, name=name, limits=limits)
    return check_crop(to_grey(img), getattr(img, "karyospectrum_name", name))
