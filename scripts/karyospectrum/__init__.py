"""Karyospectrum: turn a genome into art and read chromosomes back.

The step scripts under ``scripts/`` are thin CLIs over this library.
"""

__version__ = "0.1.0"

# ISCN order; names carry no "chr" prefix inside the library.
AUTOSOMES = [str(i) for i in range(1, 23)]
CHROMOSOMES = AUTOSOMES + ["X", "Y"]
