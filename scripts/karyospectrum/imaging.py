"""Safe image decoding: not-an-image, empty, truncated, too large and decompression bombs -> InputError.

Every image that comes from a user (files, manifests, API uploads) is opened through here.
"""

from __future__ import annotations

import io
from pathlib import Path

from .cli import InputError

MAX_BYTES = 32 * 1024 * 1024  # encoded size
MAX_PIXELS = 40_000_000  # decoded size (width x height)


def open_image(source, name: str | None = None, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS):
    """Decode ``source`` (a path, bytes or a binary file object) fully into a PIL image.

    The header's size is checked before any pixel is decoded, so a decompression bomb never
    allocates its pixels.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or str(path)
        if not path.exists():
            raise InputError(name, "image not found")
        if path.is_dir():
            raise InputError(name, "is a folder, not an image")
        size = path.stat().st_size
        if size == 0:
            raise InputError(name, "empty file, not an image")
        if size > max_bytes:
            raise InputError(name, f"image file too large ({size} bytes > {max_bytes})")
        data = path.read_bytes()
    elif isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        data = source.read(max_bytes + 1)
    name = name or "<upload>"
    if len(data) == 0:
        raise InputError(name, "empty file, not an image")
    if len(data) > max_bytes:
        raise InputError(name, f"image too large (> {max_bytes} bytes)")
    # PIL's own guard raises for > 2x its MAX_IMAGE_PIXELS at open; ours is checked on the header,
    # before any pixel is decoded. (No global PIL setting is touched: the API decodes in threads.)
    try:
        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > max_pixels:
            raise InputError(name, f"image too large ({w}x{h} pixels > {max_pixels}; decompression bomb?)")
        if w == 0 or h == 0:
            raise InputError(name, "image has no pixels")
        img.load()
    except Image.DecompressionBombError as err:
        raise InputError(name, f"image too large (decompression bomb: {str(err).split('.')[0]})") from err
    except UnidentifiedImageError:
        raise InputError(name, "not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(name, f"not a decodable image ({msg})") from None
    return img


def to_grey(img):
    """PIL image -> uint8 grey numpy array (alpha composited onto white)."""
    import numpy as np
    from PIL import Image

    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float microscopy images: rescale
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        return np.round((a - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    return np.asarray(img.convert("L"))
