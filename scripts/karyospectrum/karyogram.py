"""Karyogram layout and rendering: chromosome images in ISCN order, pairs side by side over their label.

Rows 1-5 / 6-12 + X / 13-18 / 19-22 + Y. The layout (each copy's box) is the ground truth for the
crop-and-classify step, and it depends only on the style and which chromosomes are drawn.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from . import CHROMOSOMES
from .errors import InputError
from .ideogram import chrom_height, shape_tile
from .io import atomic_path, png_bytes, write_json
from .tiles import CHROM1_HEIGHT, CHROMATID_WIDTH, open_tile, read_manifest

log = logging.getLogger("karyospectrum.karyogram")

ISCN_ROWS: list[list[str]] = [
    ["1", "2", "3", "4", "5"],
    ["6", "7", "8", "9", "10", "11", "12", "X"],
    ["13", "14", "15", "16", "17", "18"],
    ["19", "20", "21", "22", "Y"],
]


@dataclass(frozen=True)
class Style:
    """Geometry and look of a karyogram, in pixels of the PNG (``dpi`` only sets its print size)."""

    chrom1_height: int = CHROM1_HEIGHT  # height of chromosome 1; the others scale with their length
    chromatid_width: int = CHROMATID_WIDTH  # width of one chromosome copy (constant, as on a real karyogram)
    crop_width: int = 90  # widest a real crop may be drawn when shaped=False
    copy_gap: int = 8  # between the copies of one chromosome
    min_cell_gap: int = 40  # least space between two chromosomes' groups in a row
    margin: int = 56
    row_gap: int = 36  # between a row's labels and the next row's tallest chromosome
    label_size: int = 32
    label_gap: int = 8  # between the chromosomes and their label
    title_size: int = 44
    background: str = "#ffffff"
    label_color: str = "#202020"
    band_strength: float = 0.25  # G-band overlay on shaped tiles: 0 none, 1 full banding
    outline: bool = True
    fit: str = "stretch"  # shaped tiles: used as painted at the box size; other sizes stretched to it
    slots: int | None = None  # copies reserved per chromosome; default: the most copies drawn
    show_missing: bool = True  # label a chromosome that has no image
    dpi: int = 300
    paper: str = ""  # "" (size from the pixels above) or a paper (A4, A3, ...) to fill at dpi: a poster


# Portrait paper sizes in inches; a poster scales every pixel measure by one integer factor.
PAPER_INCHES = {"A4": (8.27, 11.69), "A3": (11.69, 16.54), "A2": (16.54, 23.39), "A1": (23.39, 33.11)}
_PIXEL_FIELDS = (
    "chrom1_height", "chromatid_width", "crop_width", "copy_gap", "min_cell_gap", "margin", "row_gap",
    "label_size", "label_gap", "title_size",
)  # fmt: skip


def canvas_size(style: Style, slots: int = 2, title: bool = True) -> tuple[int, int]:
    """(width, height) in pixels of a shaped karyogram with ``slots`` copies per chromosome."""
    group_w = slots * style.chromatid_width + (slots - 1) * style.copy_gap
    width = 2 * style.margin + max(len(r) for r in ISCN_ROWS) * (group_w + style.min_cell_gap)
    y = style.margin + (style.title_size + style.row_gap if title else 0)
    for row in ISCN_ROWS:
        y += max(chrom_height(c, style.chrom1_height) for c in row) + style.label_gap + style.label_size
        y += style.row_gap
    return width, y - style.row_gap + style.margin


def poster_scale(style: Style, title: bool = True) -> int:
    """The integer factor that makes the karyogram fill ``style.paper`` at ``style.dpi`` (1: no paper)."""
    if not style.paper:
        return 1
    if style.paper not in PAPER_INCHES:
        raise ValueError(f"unknown paper {style.paper!r}; one of {', '.join(PAPER_INCHES)} or ''")
    w, h = canvas_size(replace(style, paper=""), title=title)
    pw, ph = PAPER_INCHES[style.paper]
    return max(1, int(min(pw * style.dpi / w, ph * style.dpi / h)))


def make_style(**opts) -> Style:
    """A :class:`Style` from options; with ``paper`` set, its pixel measures are scaled to fill it."""
    names = {f.name for f in fields(Style)}
    unknown = sorted(set(opts) - names)
    if unknown:
        raise TypeError(f"unknown karyogram option(s): {', '.join(unknown)}")
    style = replace(Style(), **opts)
    k = poster_scale(style)
    return replace(style, paper="", **{f: getattr(style, f) * k for f in _PIXEL_FIELDS}) if k > 1 else style


def tile_geometry(
    chrom1_height: int, chromatid_width: int, dpi: int = 300, paper: str = ""
) -> tuple[int, int]:
    """(chrom1_height, chromatid_width) the tiles are painted at: the karyogram's, scaled for a poster."""
    style = make_style(chrom1_height=chrom1_height, chromatid_width=chromatid_width, dpi=dpi, paper=paper)
    return style.chrom1_height, style.chromatid_width


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans from matplotlib's data (same glyphs in the PNG and the PDF); Pillow's default otherwise."""
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return ImageFont.truetype(str(path), size)
    except Exception:  # noqa: BLE001 - any font problem falls back to the bundled one
        return ImageFont.load_default(size)


def _check_images(images: dict) -> dict[str, list[tuple[int, Image.Image]]]:
    by_chrom: dict[str, list[tuple[int, Image.Image]]] = {}
    for key, img in images.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"image key must be (chrom, copy), got {key!r}")
        chrom, copy = str(key[0]).removeprefix("chr"), int(key[1])
        if chrom not in CHROMOSOMES:
            raise ValueError(f"unknown chromosome {key[0]!r}; expected one of {', '.join(CHROMOSOMES)}")
        if copy < 0:
            raise ValueError(f"copy must be >= 0, got {copy} for chromosome {chrom}")
        if not isinstance(img, Image.Image):
            raise ValueError(f"image for ({chrom}, {copy}) is not a PIL image")
        by_chrom.setdefault(chrom, []).append((copy, img))
    for chrom in by_chrom:
        by_chrom[chrom].sort(key=lambda ci: ci[0])
        copies = [c for c, _ in by_chrom[chrom]]
        if len(set(copies)) != len(copies):
            raise ValueError(f"chromosome {chrom} has duplicate copies {copies}")
    return by_chrom


def _fit(img: Image.Image, max_w: int, max_h: int) -> Image.Image:
    """Scale ``img`` to fit in max_w x max_h keeping its aspect ratio."""
    scale = min(max_w / img.width, max_h / img.height)
    size = (max(1, int(round(img.width * scale))), max(1, int(round(img.height * scale))))
    return img.convert("RGBA").resize(size, Image.Resampling.LANCZOS)


def _draw_text(draw, at, text: str, font, size: int, color: str, recorded) -> dict:
    """Draw ``text`` centred under ``at``; its layout entry (position ``recorded``, size, colour, bbox)."""
    draw.text(at, text, fill=color, font=font, anchor="mt")
    bbox = [int(v) for v in draw.textbbox(at, text, font=font, anchor="mt")]
    return {"text": text, "x": recorded[0], "y": recorded[1], "size": size, "color": color, "bbox": bbox}


def render_karyogram(
    images: dict[tuple[str, int], Image.Image],
    title: str | None = None,
    shaped: bool = True,
    **opts,
) -> tuple[Image.Image, dict]:
    """Draw a karyogram from one image per (chrom, copy).

    shaped=True masks each image (an art tile) into its chromosome's ideogram silhouette;
    shaped=False draws each image as it is (e.g. a real crop), scaled to fit its slot.
    Returns the RGB image and the layout: {"sample", "width", "height", "dpi", "boxes", "labels", "title"},
    where each box is {"chrom", "copy", "x0", "y0", "x1", "y1"} in PNG pixels (x1, y1 exclusive,
    as for ``Image.crop``), sorted 1..22, X, Y then by copy. ``opts`` are :class:`Style` fields.
    """
    style = make_style(**opts)
    by_chrom = _check_images(images)
    most = max((len(v) for v in by_chrom.values()), default=1)
    slots = max(1, style.slots or most, most)
    slot_w = style.chromatid_width if shaped else max(style.chromatid_width, style.crop_width)
    group_w = slots * slot_w + (slots - 1) * style.copy_gap
    cells = max(len(r) for r in ISCN_ROWS)
    cell_w = group_w + style.min_cell_gap
    width = 2 * style.margin + cells * cell_w
    label_font, title_font = _font(style.label_size), _font(style.title_size)

    y = style.margin
    if title:
        y += style.title_size + style.row_gap
    placements = []  # (chrom, centre x, baseline y)
    for row in ISCN_ROWS:
        row_h = max(chrom_height(c, style.chrom1_height) for c in row)
        baseline = y + row_h
        row_cell = (width - 2 * style.margin) / len(row)
        for i, chrom in enumerate(row):
            placements.append((chrom, style.margin + (i + 0.5) * row_cell, baseline))
        y = baseline + style.label_gap + style.label_size + style.row_gap
    height = y - style.row_gap + style.margin

    canvas = Image.new("RGB", (width, height), style.background)
    draw = ImageDraw.Draw(canvas)
    boxes, labels = [], []
    for chrom, cx, baseline in placements:
        copies = by_chrom.get(chrom, [])
        if not copies and not style.show_missing:
            continue
        n = len(copies)
        x = int(round(cx - (n * slot_w + (n - 1) * style.copy_gap) / 2))
        h = chrom_height(chrom, style.chrom1_height)
        for copy, img in copies:
            if shaped:
                tile = shape_tile(img, chrom, h, slot_w, style.band_strength, style.outline, style.fit)
            else:
                tile = _fit(img, slot_w, h)
            x0 = x + (slot_w - tile.width) // 2
            y0 = baseline - tile.height
            canvas.paste(tile, (x0, y0), tile if tile.mode == "RGBA" else None)
            boxes.append(
                {"chrom": chrom, "copy": copy, "x0": x0, "y0": y0, "x1": x0 + tile.width, "y1": baseline}
            )
            x += slot_w + style.copy_gap
        color = style.label_color if copies else "#a0a0a0"
        pos = (round(cx, 1), baseline + style.label_gap)
        labels.append(_draw_text(draw, (cx, pos[1]), chrom, label_font, style.label_size, color, pos))
    title_entry = None
    if title:
        at = (width / 2, style.margin)
        title_entry = _draw_text(draw, at, title, title_font, style.title_size, style.label_color, at)
    boxes.sort(key=lambda b: (CHROMOSOMES.index(b["chrom"]), b["copy"]))
    layout = {
        "sample": title,
        "width": width,
        "height": height,
        "dpi": style.dpi,
        "shaped": shaped,
        "boxes": boxes,
        "labels": labels,
        "title": title_entry,
        "style": asdict(style),
    }
    return canvas, layout


PNG_LEVEL = 1  # zlib level of the karyogram PNG: level 6 is 1.5x slower for a 15% smaller file


def karyogram_png(image: Image.Image, dpi: int = 300) -> bytes:
    """A karyogram's PNG: RGB, its print resolution, zlib level ``PNG_LEVEL`` (byte-stable)."""
    return png_bytes(image.convert("RGB"), dpi, PNG_LEVEL)


def save_figure(fig, path) -> None:
    """A matplotlib figure (the report plots) as a PNG, atomically and without a timestamp."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})


def _png_idat(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and the zlib stream of an 8-bit RGB non-interlaced PNG (a PDF image takes it as is)."""
    import struct

    pos, idat, w, h = 8, [], 0, 0
    while pos < len(png):
        (n,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data)
            if (depth, colour, interlace) != (8, 2, 0):
                raise ValueError("the PDF embeds 8-bit RGB non-interlaced PNG data only")
        elif kind == b"IDAT":
            idat.append(data)
        pos += 12 + n
    return w, h, b"".join(idat)


@lru_cache(maxsize=1)
def _pdf_font() -> tuple[bytes, list[int], dict]:
    """DejaVu Sans cut to printable ASCII (the labels and sample ids), its widths (1/1000 em) and metrics."""
    import io

    import matplotlib
    from fontTools import subset
    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # its subsetting chatter
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    font = TTFont(str(path), recalcTimestamp=False)  # else save() stamps head.modified: PDFs differ per run
    opts = subset.Options()
    opts.name_IDs, opts.notdef_outline, opts.recalc_timestamp = ["*"], True, False
    opts.drop_tables += ["FFTM"]
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=range(32, 127))
    sub.subset(font)
    upem, cmap, hmtx = font["head"].unitsPerEm, font.getBestCmap(), font["hmtx"]
    widths = [round(hmtx[cmap[c]][0] * 1000 / upem) if c in cmap else 0 for c in range(32, 127)]
    head, hhea = font["head"], font["hhea"]
    metrics = {
        "bbox": [round(v * 1000 / upem) for v in (head.xMin, head.yMin, head.xMax, head.yMax)],
        "ascent": round(hhea.ascent * 1000 / upem),
        "descent": round(hhea.descent * 1000 / upem),
    }
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue(), widths, metrics


def _pdf_text(text: str) -> str:
    safe = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return "(" + safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _rgb(color: str) -> str:
    from PIL import ImageColor

    return " ".join(f"{v / 255:.4f}" for v in ImageColor.getrgb(color)[:3])


def write_pdf(image: Image.Image, layout: dict, path, png: bytes | None = None) -> None:
    """The karyogram as a PDF: the chromosomes as one raster at its native resolution (the PNG's own
    compressed data, not encoded again), the labels and the title as vector text over it (embedded
    TrueType DejaVu Sans, selectable). No timestamps: the PDF is byte-stable."""
    import zlib

    dpi = layout.get("dpi", 300)
    w, h, idat = _png_idat(png if png is not None else karyogram_png(image, dpi))
    k = 72.0 / dpi  # points per pixel
    font, widths, m = _pdf_font()
    bg = _rgb(layout.get("style", {}).get("background", "#ffffff"))
    ops = [f"q {w * k:.3f} 0 0 {h * k:.3f} 0 0 cm /Im0 Do Q"]
    texts = list(layout.get("labels", [])) + ([layout["title"]] if layout.get("title") else [])
    for t in texts:
        # Cover the raster glyphs (drawn on plain background) with the vector text, placed as PIL's
        # "mt" anchor: centred on x, the ascender line at y.
        x0, y0, x1, y1 = t["bbox"]
        ops.append(
            f"{bg} rg {(x0 - 1) * k:.3f} {(h - y1 - 1) * k:.3f} {(x1 - x0 + 2) * k:.3f} "
            f"{(y1 - y0 + 2) * k:.3f} re f"
        )
        size = t["size"]
        text = "".join(c if 32 <= ord(c) < 127 else "?" for c in t["text"])
        width = sum(widths[ord(c) - 32] for c in text) * size / 1000
        base = t["y"] + m["ascent"] * size / 1000
        ops.append(
            f"BT /F1 {size * k:.3f} Tf {_rgb(t['color'])} rg {(t['x'] - width / 2) * k:.3f} "
            f"{(h - base) * k:.3f} Td {_pdf_text(text)} Tj ET"
        )
    content = zlib.compress("\n".join(ops).encode(), 6)
    name = b"/KSPECT+DejaVuSans"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w * k:.3f} {h * k:.3f}] /Contents 4 0 R "
        "/Resources << /XObject << /Im0 5 0 R >> /Font << /F1 6 0 R >> >> >>".encode(),
        (f"<< /Length {len(content)} /Filter /FlateDecode >>".encode(), content),
        (
            f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB "
            f"/BitsPerComponent 8 /Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors 3 "
            f"/BitsPerComponent 8 /Columns {w} >> /Length {len(idat)} >>".encode(),
            idat,
        ),
        b"<< /Type /Font /Subtype /TrueType /BaseFont "
        + name
        + b" /FirstChar 32 /LastChar 126 /Widths ["
        + " ".join(map(str, widths)).encode()
        + b"] /Encoding /WinAnsiEncoding /FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName "
        + name
        + b" /Flags 32 /FontBBox ["
        + " ".join(map(str, m["bbox"])).encode()
        + f"] /ItalicAngle 0 /Ascent {m['ascent']} "
        f"/Descent {m['descent']} /CapHeight {m['ascent']} /StemV 80 /FontFile2 8 0 R >>".encode(),
        (
            f"<< /Length {len(zfont := zlib.compress(font, 6))} /Length1 {len(font)} /Filter /FlateDecode >>".encode(),
            zfont,
        ),
    ]
    out = [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"]
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(sum(map(len, out)))
        if isinstance(obj, tuple):
            out.append(b"%d 0 obj\n" % i + obj[0] + b"\nstream\n" + obj[1] + b"\nendstream\nendobj\n")
        else:
            out.append(b"%d 0 obj\n" % i + obj + b"\nendobj\n")
    xref = sum(map(len, out))
    out.append(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out += [b"%010d 00000 n \n" % off for off in offsets]
    out.append(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    from .io import write_bytes

    write_bytes(path, b"".join(out))


def read_layout(path) -> dict:
    """A karyogram's layout JSON (written by :func:`write_karyogram`) with its boxes, checked."""
    import json

    try:
        layout = json.loads(Path(path).read_text())
        if not isinstance(layout["boxes"], list):
            raise TypeError("boxes is not a list")
        for b in layout["boxes"]:
            _ = (b["x0"], b["y0"], b["x1"], b["y1"], b["chrom"])
    except FileNotFoundError:
        raise InputError(path, "layout not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"not readable ({type(err).__name__})") from None
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise InputError(path, f"not a karyogram layout ({type(err).__name__}: {err})") from None
    return layout


def write_karyogram(image: Image.Image, layout: dict, png, pdf, json) -> None:
    """Write the PNG, the PDF (vector labels; it embeds the PNG's data) and the layout JSON, each atomically."""
    from .io import write_bytes

    data = karyogram_png(image, layout.get("dpi", 300))
    write_bytes(png, data)
    write_pdf(image, layout, pdf, png=data)
    write_json(json, layout)


# --- tiles of one sample: the manifest of rule generate, and the sex chromosomes to draw ---

# Sample-sheet ``sex`` -> (X copies, Y copies).
SEX_COPIES = {"XX": (2, 0), "female": (2, 0), "XY": (1, 1), "male": (1, 1), "X": (1, 0)}


def parse_sex(sex: str | None) -> tuple[int, int] | None:
    """Sample-sheet sex (XX, XY, X, female, male; empty = infer) -> (X copies, Y copies)."""
    sex = (sex or "").strip()
    if not sex:
        return None
    for key, copies in SEX_COPIES.items():
        if sex.lower() == key.lower():
            return copies
    raise ValueError(f"unknown sex {sex!r}; expected one of {', '.join(SEX_COPIES)} or empty")


def select_copies(rows: pd.DataFrame, sex: str | None = None) -> pd.DataFrame:
    """Tiles to draw for one sample: every tile present, the sex chromosomes cut to ``sex`` if given.

    Without ``sex`` the data decide: the genome stage paints no tile for a male's 2nd X or a female's Y.
    """
    rows = rows.sort_values(
        ["chrom", "copy"], key=lambda col: col.map(_order) if col.name == "chrom" else col
    )
    want = parse_sex(sex)
    if want is None:
        return rows.reset_index(drop=True)
    keep = ~rows["chrom"].isin(["X", "Y"])
    for chrom, n in zip(("X", "Y"), want):
        have = rows.index[rows["chrom"] == chrom]
        if len(have) < n:
            log.warning(
                "sex %s asks for %d chr%s but %d tile(s) exist; drawing those", sex, n, chrom, len(have)
            )
        keep.loc[have[:n]] = True
    return rows.loc[keep].reset_index(drop=True)


def _order(chrom: str) -> int:
    return CHROMOSOMES.index(chrom) if chrom in CHROMOSOMES else len(CHROMOSOMES)


def load_sample_tiles(tiles_dir, sample: str, sex: str | None = None, chromosomes=None, manifest=None):
    """Open one sample's tiles -> {(chrom, copy): image}, checking every file is an image.

    ``manifest``: the directory's manifest already read (a batch reads it once for all its samples)."""
    manifest = read_manifest(tiles_dir) if manifest is None else manifest
    rows = manifest.loc[manifest["sample"] == sample]
    if rows.empty:
        raise InputError(Path(tiles_dir) / "manifest.tsv", f"no tiles for sample {sample!r}")
    unknown = sorted(set(rows["chrom"]) - set(CHROMOSOMES))
    if unknown:
        raise InputError(Path(tiles_dir) / "manifest.tsv", f"unknown chromosome(s) {', '.join(unknown)}")
    dup = rows.duplicated(["chrom", "copy"])
    if dup.any():
        first = rows.loc[dup].iloc[0]
        raise InputError(
            Path(tiles_dir) / "manifest.tsv",
            f"sample {sample!r} lists chromosome {first['chrom']} copy {first['copy']} twice",
        )
    if chromosomes is not None:
        rows = rows.loc[rows["chrom"].isin([str(c).removeprefix("chr") for c in chromosomes])]
    try:
        rows = select_copies(rows, sex)
    except ValueError as err:
        raise InputError(None, f"sample {sample}: {err}") from None
    images = {}
    for chrom, copy, rel in zip(rows["chrom"], rows["copy"], rows["path"]):
        images[(chrom, int(copy))] = open_tile(Path(tiles_dir) / rel)
    return images


# --- the cohort contact sheet ---


CONTACT_SHEET_PIXELS = 60_000_000  # ~180 MB of RGB: 2,504 karyograms at ~120 px wide
CONTACT_SHEET_COLUMNS = 6  # at least; a large cohort's sheet gets more, to stay about square
CONTACT_SHEET_THUMB_WIDTH = 300  # pixels per thumbnail, at most


def _thumbnail(path, width: int) -> Image.Image:
    img = open_tile(path)
    img = img.reduce(max(1, img.width // (2 * width)))  # cheap box shrink first, then a good resample
    return img.resize((width, max(1, round(img.height * width / img.width))), Image.Resampling.LANCZOS)


def cohort_contact_sheet(
    paths,
    columns: int = CONTACT_SHEET_COLUMNS,
    thumb_width: int = CONTACT_SHEET_THUMB_WIDTH,
    max_pixels: int = CONTACT_SHEET_PIXELS,
    threads: int = 1,
) -> Image.Image:
    """The contact sheet of karyogram PNGs named ``{sample}.png``: shrunk as they are read, ``threads`` at a
    time (PIL decodes and resamples outside the GIL; a 2,504-sample cohort never sits in memory whole); a
    large cohort gets more columns (the sheet stays about square) and narrower thumbnails, so that the sheet
    stays within ``max_pixels``."""
    import math
    from concurrent.futures import ThreadPoolExecutor

    if columns < 1 or thumb_width < 16:
        raise InputError(None, "--columns must be >= 1 and --thumb-width >= 16")
    first = open_tile(paths[0])
    n, aspect = len(paths), first.height / first.width
    columns = max(columns, round(math.sqrt(n * aspect)))
    width = min(thumb_width, max(16, int(math.sqrt(max_pixels / (n * aspect * 1.2)))))
    if width < thumb_width:
        log.info(
            "%d karyograms: thumbnails %d px wide (not %d) to stay within %d pixels",
            n,
            width,
            thumb_width,
            max_pixels,
        )
    with ThreadPoolExecutor(max(1, threads)) as pool:  # map keeps the order
        thumbs = list(pool.map(lambda p: _thumbnail(p, width), paths))
    items = [(Path(p).name.removesuffix(".png"), t) for p, t in zip(paths, thumbs)]
    return contact_sheet(items, columns=columns, thumb_width=width)


def contact_sheet(
    karyograms: list[tuple[str, Image.Image]],
    columns: int = CONTACT_SHEET_COLUMNS,
    thumb_width: int = CONTACT_SHEET_THUMB_WIDTH,
    label_size: int = 20,
    background: str = "#ffffff",
) -> Image.Image:
    """Thumbnails of a cohort's karyograms in a grid, each over its sample id."""
    if not karyograms:
        raise ValueError("no karyograms for the contact sheet")
    columns = max(1, min(columns, len(karyograms)))
    thumbs = []
    for name, img in karyograms:
        h = int(round(img.height * thumb_width / img.width))
        thumbs.append((name, img.convert("RGB").resize((thumb_width, h), Image.Resampling.LANCZOS)))
    cell_h = max(t.height for _, t in thumbs) + label_size + 12
    pad = 12
    rows = -(-len(thumbs) // columns)
    sheet = Image.new("RGB", (columns * (thumb_width + pad) + pad, rows * (cell_h + pad) + pad), background)
    draw = ImageDraw.Draw(sheet)
    font = _font(label_size)
    for i, (name, thumb) in enumerate(thumbs):
        x = pad + (i % columns) * (thumb_width + pad)
        y = pad + (i // columns) * (cell_h + pad)
        sheet.paste(thumb, (x, y))
        draw.text((x + thumb_width / 2, y + thumb.height + 4), name, fill="#202020", font=font, anchor="mt")
    return sheet
