"""Training images for the generator, all available offline.

The default set mixes random crops of the photographs and textures that scikit-image bundles
(read straight from its data folder: no download) with a procedural abstract-art generator
(flow fields through cosine palettes, Kandinsky-like shapes, warped bands). A user's image
folder can replace it. Item ``i`` is a pure function of ``(seed, i)``, so a set is reproducible.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .cli import InputError

# Colour photographs and greyscale textures shipped inside scikit-image's wheel.
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "motorcycle_left.png",
    "ihc.png",
    "color.png",
)
SKIMAGE_TEXTURES = ("brick.png", "grass.png", "gravel.png", "moon.png", "coins.png", "camera.png")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _skimage_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


@lru_cache(maxsize=None)
def _load_rgb(path: str) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def describe(source: str, procedural_fraction: float) -> str:
    """One-line description of a training set, for the model card."""
    if source != "default":
        return f"user image folder {source} (random crops, resized)"
    return (
        f"offline default: {1 - procedural_fraction:.0%} random crops of scikit-image's bundled photographs "
        f"({', '.join(p.split('.')[0] for p in SKIMAGE_PHOTOS)}) and tinted textures "
        f"({', '.join(t.split('.')[0] for t in SKIMAGE_TEXTURES)}); {procedural_fraction:.0%} procedural "
        "abstract art (flow fields, shapes, warped bands); random horizontal flips"
    )


# --- procedural abstract art -------------------------------------------------------------


def _cosine_palette(rng: np.random.Generator):
    """Inigo Quilez's palette a + b*cos(2pi(c*t + d)): smooth, varied colour ramps."""
    a, b = rng.uniform(0.3, 0.7, 3), rng.uniform(0.2, 0.5, 3)
    c, d = rng.uniform(0.5, 1.5, 3), rng.uniform(0, 1, 3)
    return lambda t: np.clip(a + b * np.cos(2 * np.pi * (c * t[..., None] + d)), 0, 1)


def _smooth_noise(rng, h, w, octaves=4) -> np.ndarray:
    """Fractal value noise in [0, 1]: random grids upsampled bicubically, summed by octave."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        g = 2 + 2**o
        grid = Image.fromarray(rng.random((g, g)).astype(np.float32), mode="F")
        out += amp * np.asarray(grid.resize((w, h), Image.BICUBIC), np.float32)
        total += amp
        amp *= 0.5
    out /= total
    return (out - out.min()) / (np.ptp(out) + 1e-6)


def _flow(rng, h, w):
    t = _smooth_noise(rng, h, w) * rng.uniform(1, 3) + _smooth_noise(rng, h, w, 2) * rng.uniform(0, 1)
    return _cosine_palette(rng)(t)


def _bands(rng, h, w):
    """Warped parallel bands: close to a chromosome's G-banding, in colour."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    u = (np.cos(theta) * xx + np.sin(theta) * yy) / max(h, w)
    u = u + rng.uniform(0.05, 0.3) * _smooth_noise(rng, h, w, 3)
    t = np.sin(2 * np.pi * u * rng.uniform(2, 9)) * 0.5 + 0.5 + 0.3 * _smooth_noise(rng, h, w, 2)
    return _cosine_palette(rng)(t)


def _shapes(rng, h, w):
    """Kandinsky-like composition: gradient ground, circles, bars and lines, antialiased."""
    pal = _cosine_palette(rng)
    s = 2  # draw at 2x and downsample for antialiasing
    yy = np.linspace(0, 1, h * s, dtype=np.float32)[:, None] * np.ones((1, w * s), np.float32)
    ground = (pal(yy * rng.uniform(0.2, 0.8) + rng.uniform()) * 255).astype(np.uint8)
    im = Image.fromarray(ground)
    draw = ImageDraw.Draw(im)

    def colour():
        return tuple(int(v) for v in (pal(np.array(rng.random())) * 255))

    for _ in range(rng.integers(3, 9)):
        kind = rng.integers(3)
        cx, cy = rng.uniform(0, w * s), rng.uniform(0, h * s)
        r = rng.uniform(0.05, 0.35) * min(h, w) * s
        if kind == 0:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour())
        elif kind == 1:
            draw.rectangle([cx - r, cy - r / 3, cx + r, cy + r / 3], fill=colour())
        else:
            draw.line(
                [cx - r, cy - r, cx + r, cy + rng.uniform(-r, r)], fill=colour(), width=max(1, int(r / 6))
            )
    im = im.resize((w, h), Image.LANCZOS)
    return np.asarray(im, np.float32) / 255.0


def procedural_art(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """One abstract picture, uint8 [h, w, 3]."""
    kinds = (_flow, _bands, _shapes)
    first = kinds[rng.integers(3)](rng, h, w)
    if rng.random() < 0.4:  # blend two styles now and then
        alpha = _smooth_noise(rng, h, w, 2)[..., None]
        first = alpha * first + (1 - alpha) * kinds[rng.integers(3)](rng, h, w)
    return (np.clip(first, 0, 1) * 255 + 0.5).astype(np.uint8)


# --- crops of photographs ---------------------------------------------------------------


def random_crop(
    rng: np.random.Generator, im: Image.Image, h: int, w: int, min_scale: float = 0.3
) -> np.ndarray:
    """A random crop of ``im`` with the target aspect (area >= ``min_scale``^2 of the largest), resized."""
    W, H = im.size
    aspect = w / h
    ch_max = min(H, W / aspect)
    ch = ch_max * rng.uniform(min_scale, 1.0)
    cw = ch * aspect
    x0, y0 = rng.uniform(0, W - cw), rng.uniform(0, H - ch)
    crop = im.resize((w, h), Image.LANCZOS, box=(x0, y0, x0 + cw, y0 + ch))
    return np.asarray(crop, np.uint8)


def _tint(rng, gray_rgb: np.ndarray) -> np.ndarray:
    """Colour a greyscale texture through a random duotone."""
    lo, hi = rng.uniform(0, 0.5, 3), rng.uniform(0.5, 1, 3)
    t = gray_rgb[..., :1].astype(np.float32) / 255
    return ((lo + (hi - lo) * t) * 255 + 0.5).astype(np.uint8)


class ArtDataset:
    """``len == n``; item ``i`` is uint8 [h, w, 3], a pure function of ``(seed, i)``.

    ``source`` is ``"default"`` (scikit-image crops mixed with procedural art at
    ``procedural_fraction``) or a folder of images.
    """

    def __init__(
        self, resolution, n: int, seed: int = 0, source: str = "default", procedural_fraction: float = 0.5
    ):
        self.h, self.w = int(resolution[0]), int(resolution[1])
        self.n, self.seed, self.source = int(n), int(seed), str(source)
        self.procedural_fraction = float(procedural_fraction) if self.source == "default" else 0.0
        if self.source == "default":
            root = _skimage_dir()
            self.photos = [str(root / p) for p in SKIMAGE_PHOTOS if (root / p).exists()]
            self.textures = [str(root / t) for t in SKIMAGE_TEXTURES if (root / t).exists()]
            if not self.photos:
                raise InputError(root, "scikit-image's bundled photographs are missing")
        else:
            folder = Path(self.source)
            if not folder.is_dir():
                raise InputError(folder, "training image folder not found")
            self.photos = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            self.textures = []
            if not self.photos:
                raise InputError(folder, f"no images ({', '.join(IMAGE_SUFFIXES)}) in the training folder")

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, int(i)])
        if rng.random() < self.procedural_fraction:
            return procedural_art(rng, self.h, self.w)
        pool = self.photos + self.textures
        path = pool[rng.integers(len(pool))]
        try:
            im = _load_rgb(path)
        except OSError as err:
            raise InputError(path, f"not a readable image ({err})") from err
        img = random_crop(rng, im, self.h, self.w)
        if path in self.textures:
            img = _tint(rng, img)
        return img

    def render(self, workers: int = 1) -> np.ndarray:
        """All items as one uint8 array [n, h, w, 3] (threads: PIL releases the GIL)."""
        out = np.empty((self.n, self.h, self.w, 3), np.uint8)
        if workers <= 1:
            for i in range(self.n):
                out[i] = self[i]
            return out
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            for i, img in enumerate(pool.map(self.__getitem__, range(self.n))):
                out[i] = img
        return out


def blur_score(img: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: higher is sharper (used for the 16:9 check)."""
    g = np.asarray(Image.fromarray(img).convert("L").filter(ImageFilter.FIND_EDGES), np.float32)
    return float(g[1:-1, 1:-1].var())
