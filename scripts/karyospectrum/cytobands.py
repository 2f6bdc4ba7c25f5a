"""hg38 chromosome sizes, cytobands and centromeres from bioframe's bundled tables (offline).

Shared by the ideogram geometry (art karyograms) and the synthetic G-banded chromosome renderer.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from . import CHROMOSOMES

# Giemsa stain -> darkness in [0, 1] (0 white, 1 black); acen/gvar/stalk are drawn specially.
STAIN_DARKNESS = {
    "gneg": 0.0,
    "gpos25": 0.25,
    "gpos50": 0.5,
    "gpos75": 0.75,
    "gpos100": 1.0,
    "acen": 0.35,
    "gvar": 0.6,
    "stalk": 0.15,
}


@lru_cache(maxsize=None)
def _assembly(name: str = "hg38"):
    import bioframe

    return bioframe.assembly_info(name)


@lru_cache(maxsize=None)
def chrom_sizes(assembly: str = "hg38") -> dict[str, int]:
    """Lengths in bp of 1..22, X, Y (names without "chr")."""
    sizes = _assembly(assembly).chromsizes
    return {c: int(sizes[f"chr{c}"]) for c in CHROMOSOMES}


@lru_cache(maxsize=None)
def _bands(assembly: str = "hg38") -> pd.DataFrame:
    bands = _assembly(assembly).cytobands.copy()
    bands["chrom"] = bands["chrom"].str.removeprefix("chr")
    bands["darkness"] = bands["stain"].map(STAIN_DARKNESS).fillna(0.0)
    return bands


def cytobands(chrom: str, assembly: str = "hg38") -> pd.DataFrame:
    """Bands of one chromosome: start, end, band, stain, darkness (sorted by start)."""
    bands = _bands(assembly)
    out = bands.loc[bands["chrom"] == str(chrom).removeprefix("chr")]
    return out.sort_values("start").reset_index(drop=True)


def centromere(chrom: str, assembly: str = "hg38") -> int:
    """Centromere position (bp): the boundary between the p-arm and q-arm acen bands."""
    bands = cytobands(chrom, assembly)
    p_acen = bands.loc[(bands["stain"] == "acen") & bands["band"].str.startswith("p")]
    if len(p_acen):
        return int(p_acen["end"].max())
    q = bands.loc[bands["band"].str.startswith("q")]
    return int(q["start"].min())


def p_arm_fraction(chrom: str, assembly: str = "hg38") -> float:
    """Share of the chromosome on the p-arm (small for the acrocentrics 13-15, 21, 22)."""
    return centromere(chrom, assembly) / chrom_sizes(assembly)[str(chrom)]
