"""Training images for the generator, all available offline.

The default set mixes random crops of the photographs and textures that scikit-image bundles
(read straight from its data folder: no download) with a procedural abstract-art generator
(flow fields through cosine palettes, Kandinsky-like shapes, warped bands). A user's image
folder can replace it. Item ``i`` is a pure function of ``(seed, i)``, so a set is reproducible.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .errors import InputError
from .io import write_json, write_text

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


# --- style datasets: random crops cached on disk (rule style_dataset) ---------------------
#
# Layout of results/datasets/{style}/ (this module is its one reader and writer):
#   dataset.json   style, source, license, crop size, counts, per-source crop counts, skipped files
#   manifest.tsv   split, path (relative), source  -- written last: its presence marks a complete set
#   train/NNNNNN.png, heldout/NNNNNN.png   uint8 RGB crops, crop_size x crop_size
# Held-out crops are drawn from the same source images with another random stream: never trained on.

SPLITS = ("train", "heldout")
PROCEDURAL = "procedural"
MANIFEST_COLUMNS = ("split", "path", "source")
# Sources are shrunk on load so that their short side is at most this: bounded memory, and the
# smallest crop box (crop_size px) still spans 1/8 of the short side.
_MAX_SHORT_SIDE = 1024

log = logging.getLogger("karyospectrum.artdata")


@dataclass
class StyleDatasetOptions:
    """Options of rule style_dataset (defaults: config/config.yaml, section styles)."""

    crop_size: int = 128
    n_train: int = 20000
    n_heldout: int = 2000
    seed: int = 0
    max_pixels: int = 100_000_000
    hflip: float = 0.5
    rot90: float = 0.0
    colour_jitter: float = 0.1
    # A crop whose pixels vary less than this (standard deviation, 0-255, over a 32 px thumbnail) is blank
    # (a light wallpaper's white, a dark one's black) and is drawn again, up to BLANK_TRIES times.
    min_contrast: float = 4.0


BLANK_TRIES = 20


def contrast(img: Image.Image) -> float:
    """Standard deviation of the pixels (all channels, 0-255) of a 32 px thumbnail: ~0 for a blank crop."""
    return float(np.asarray(img.resize((32, 32), Image.BOX), np.float32).std())


def _open_checked(path: Path, max_pixels: int, min_side: int) -> Image.Image:
    """Decode one source image as RGB (shrunk to a short side <= _MAX_SHORT_SIDE), or raise InputError."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(path, f"image too large ({w}x{h} px > {max_pixels} px), skipped")
            if min(w, h) < min_side:
                raise InputError(path, f"image smaller than the crop size ({w}x{h} < {min_side} px), skipped")
            shrink = min(w, h) / _MAX_SHORT_SIDE
            if shrink > 1:
                im.draft("RGB", (int(w / shrink), int(h / shrink)))  # JPEG: decode at a reduced size
            rgb = im.convert("RGB")
    except InputError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise InputError(path, f"not a readable image ({err}), skipped") from err
    w, h = rgb.size
    shrink = min(w, h) / _MAX_SHORT_SIDE
    if shrink > 1:
        rgb = rgb.resize((round(w / shrink), round(h / shrink)), Image.LANCZOS)
    return rgb


def source_images(folder) -> list[Path]:
    """Files with an image suffix under ``folder`` (sorted; SVG and other files are not images here)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "style source folder not found (see scripts/fetch_art_sources.sh)")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _augment(rng: np.random.Generator, img: Image.Image, opts: StyleDatasetOptions) -> Image.Image:
    if rng.random() < opts.hflip:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < opts.rot90:
        img = img.transpose(Image.ROTATE_90)
    if opts.colour_jitter:
        from PIL import ImageEnhance

        j = opts.colour_jitter
        img = ImageEnhance.Color(img).enhance(rng.uniform(1 - j, 1 + j))
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(1 - j / 2, 1 + j / 2))
    return img


def _photo_crop(rng, im: Image.Image, size: int) -> Image.Image:
    """A square box, log-uniform between ``size`` px (never upsampled) and the short side, resized."""
    W, H = im.size
    side = float(np.exp(rng.uniform(np.log(size), np.log(min(W, H)))))
    x0, y0 = rng.uniform(0, W - side), rng.uniform(0, H - side)
    return im.resize((size, size), Image.LANCZOS, box=(x0, y0, x0 + side, y0 + side))


def _load_sources(source, opts: StyleDatasetOptions, size: int, workers: int):
    """(names, decoded images, skipped files) of a style source folder; no readable image is an InputError.

    Decoded once up front (in threads: PIL releases the GIL): bad files are found before any crop.
    """
    from concurrent.futures import ThreadPoolExecutor

    files = source_images(source)
    names, images, skipped = [], [], []

    def load(path):
        try:
            return _open_checked(path, int(opts.max_pixels), size)
        except InputError as err:
            return err

    with ThreadPoolExecutor(max(1, int(workers))) as pool:
        for path, im in zip(files, pool.map(load, files)):
            if isinstance(im, InputError):
                log.warning("%s", im)
                skipped.append({"file": str(path.relative_to(source)), "problem": im.problem})
            else:
                images.append(im)
                names.append(str(path.relative_to(source)))
    if not images:
        raise InputError(source, f"no readable images in the style source folder ({len(skipped)} skipped)")
    return names, images, skipped


def build_style_dataset(
    style: str, source, out_dir, license: str = "", opts: StyleDatasetOptions | None = None, workers: int = 2
) -> dict:
    """Render a style's train and held-out crops into ``out_dir``; returns (and writes) dataset.json.

    ``source`` is a folder of images or ``"procedural"``. Unreadable, corrupt, too small or too large
    files get one warning line each and are skipped and counted; no readable image is an InputError.
    """
    from concurrent.futures import ThreadPoolExecutor

    opts = opts or StyleDatasetOptions()
    out_dir = Path(out_dir)
    size, counts = int(opts.crop_size), {"train": int(opts.n_train), "heldout": int(opts.n_heldout)}
    if size < 8 or min(counts.values()) < 1:
        raise InputError(None, "crop_size must be >= 8 and n_train, n_heldout >= 1")
    jobs: list[tuple[str, int, int]] = []  # (split, index, source id)
    if str(source) == PROCEDURAL:
        names, images, skipped = ["procedural"], None, []
    else:
        names, images, skipped = _load_sources(source, opts, size, workers)
    for split in SPLITS:
        for i in range(counts[split]):
            jobs.append((split, i, i % len(names)))

    def render(job):
        split, i, src = job
        rng = np.random.default_rng([int(opts.seed), SPLITS.index(split), i])
        tries, blank = -1, True
        while blank and tries < BLANK_TRIES - 1:
            tries += 1
            if images is None:
                img = Image.fromarray(procedural_art(rng, size, size))
            else:
                # a source that is blank all over: a random other one takes its turn
                if tries >= BLANK_TRIES // 4:
                    src = int(rng.integers(len(images)))
                img = _photo_crop(rng, images[src], size)
            img = _augment(rng, img, opts)
            blank = contrast(img) < opts.min_contrast
        rel = f"{split}/{i:06d}.png"
        img.save(out_dir / rel, format="PNG", compress_level=1)
        return rel, tries, blank, names[src]

    for split in SPLITS:
        (out_dir / split).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max(1, int(workers))) as pool:
        rendered = list(pool.map(render, jobs, chunksize=64))
    redrawn = sum(1 for r in rendered if r[1])
    kept_blank = sum(1 for r in rendered if r[2])
    per_source = {n: 0 for n in names}
    for r in rendered:
        per_source[r[3]] += 1
    info = {
        "kind": "style_dataset",
        "style": style,
        "source": str(source),
        "license": license,
        "crop_size": size,
        "counts": counts,
        "source_images": len(names),
        "skipped_files": len(skipped),
        "skipped": skipped,
        "crops_per_source": per_source,
        "blank_crops": {
            "redrawn": redrawn,
            "kept_after_tries": kept_blank,
            "note": f"a crop with contrast < {opts.min_contrast} (std of a 32 px thumbnail, 0-255) is drawn again, "
            f"up to {BLANK_TRIES} times, from a random source after {BLANK_TRIES // 4}",
        },
        "options": asdict(opts),
        "heldout_note": "held-out crops come from the same source images, drawn with another random stream",
    }
    write_json(out_dir / "dataset.json", info)
    write_text(
        out_dir / "manifest.tsv",
        "\t".join(MANIFEST_COLUMNS)
        + "\n"
        + "".join(f"{job[0]}\t{r[0]}\t{r[3]}\n" for job, r in zip(jobs, rendered)),
    )
    log.info(
        "style %s: %d train + %d held-out crops of %d px from %d source(s); %d file(s) skipped; "
        "%d blank crop(s) drawn again",
        style,
        counts["train"],
        counts["heldout"],
        size,
        len(names),
        len(skipped),
        redrawn,
    )
    return info


def read_dataset_info(root) -> dict:
    """dataset.json of a built style dataset, checked (a folder without a manifest is incomplete)."""
    root = Path(root)
    if not (root / "manifest.tsv").exists() or not (root / "dataset.json").exists():
        raise InputError(root, "not a style dataset (no manifest.tsv/dataset.json; run rule style_dataset)")
    try:
        info = json.loads((root / "dataset.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(root / "dataset.json", f"not readable JSON ({err})") from err
    if info.get("kind") != "style_dataset":
        raise InputError(root / "dataset.json", "not a style dataset card")
    return info


class StyleDataset:
    """One split of a built style dataset, streamed from disk: item ``i`` is uint8 [h, w, 3].

    ``resolution`` (h, w) resizes each crop on load (area filter); None keeps the crop size.
    """

    def __init__(self, root, split: str = "train", resolution=None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}")
        self.root, self.split = Path(root), split
        self.info = read_dataset_info(self.root)
        rows = (self.root / "manifest.tsv").read_text().splitlines()
        if not rows or tuple(rows[0].split("\t")) != MANIFEST_COLUMNS:
            raise InputError(self.root / "manifest.tsv", f"header must be {' '.join(MANIFEST_COLUMNS)}")
        self.paths = [r.split("\t")[1] for r in rows[1:] if r.split("\t")[0] == split]
        if not self.paths:
            raise InputError(self.root / "manifest.tsv", f"no {split} crops")
        size = int(self.info["crop_size"])
        self.h, self.w = (int(resolution[0]), int(resolution[1])) if resolution is not None else (size, size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        path = self.root / self.paths[int(i)]
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                if im.size != (self.w, self.h):
                    im = im.resize((self.w, self.h), Image.BOX if self.w <= im.size[0] else Image.LANCZOS)
                return np.asarray(im, np.uint8)
        except OSError as err:
            raise InputError(path, f"crop not readable ({err}); rebuild the style dataset") from err

    def load(self, n: int | None = None, start: int = 0, workers: int = 1) -> np.ndarray:
        """Items ``start .. start+n`` as one uint8 array [n, h, w, 3] (FID references, a preloaded
        split), decoded by ``workers`` threads (PIL releases the GIL)."""
        from concurrent.futures import ThreadPoolExecutor

        n = len(self) - start if n is None else min(int(n), len(self) - start)
        out = np.empty((n, self.h, self.w, 3), np.uint8)

        def put(i):
            out[i - start] = self[i]

        with ThreadPoolExecutor(max(1, int(workers))) as pool:
            list(pool.map(put, range(start, start + n)))
        return out


def compact_copy(root, out_dir, resolution, quality: int = 0, workers: int = 2) -> dict:
    """A small copy of a built style dataset for moving it to another machine (a GPU node): every crop
    resized to the training window ``resolution`` (h, w) as it is on load, and saved as lossless WebP
    (``quality`` 0: the trainer sees the very same pixels) or lossy WebP at ``quality`` 1-100 (smaller;
    lossy WebP halves the colour resolution, which at 48 px moves the FID floor: see
    benchmarks/bench_compact_copy.py). Manifest rows, splits and sources stay; dataset.json records the
    copy (``compact``), which the trainer's card names. Returns the copy's dataset.json."""
    if not 0 <= int(quality) <= 100:
        raise InputError(None, f"quality must be 0 (lossless) or 1-100, not {quality}")
    from concurrent.futures import ThreadPoolExecutor

    root, out_dir = Path(root), Path(out_dir)
    info = read_dataset_info(root)
    h, w = (int(v) for v in resolution)
    rows = [r.split("\t") for r in (root / "manifest.tsv").read_text().splitlines()[1:]]
    splits = {s: StyleDataset(root, s, (h, w)) for s in SPLITS}
    index = {s: 0 for s in SPLITS}
    todo = []
    for split, path, source in rows:
        todo.append((split, index[split], str(Path(path).with_suffix(".webp")), source))
        index[split] += 1

    def save(item):
        split, i, path, _ = item
        (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
        kw = dict(lossless=True, exact=True, quality=100) if not quality else dict(quality=int(quality))
        Image.fromarray(splits[split][i]).save(out_dir / path, "WEBP", method=6, **kw)

    with ThreadPoolExecutor(max(1, int(workers))) as pool:
        list(pool.map(save, todo))
    write_text(
        out_dir / "manifest.tsv",
        "\t".join(MANIFEST_COLUMNS) + "\n" + "".join(f"{s}\t{p}\t{src}\n" for s, _, p, src in todo),
    )
    copy = {
        **info,
        "crop_size": min(h, w),
        "compact": f"a copy of {root.name}: its {info['crop_size']} px crops resized to {h}x{w} and saved as "
        + (f"WebP at quality {int(quality)} (lossy)" if quality else "lossless WebP"),
    }
    write_json(out_dir / "dataset.json", copy)
    return copy
