"""The sample sheet (TSV: sample, cohort, vcf[, vcf_sample, sex]): its one reader, with all its checks.

The Snakefile plans jobs from it and parse_vcf maps sample ids to VCF columns through it, so both see the
same rows, the same `vcf_sample` fallback and the same one-line errors.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from jsonschema import Draft202012Validator

from .errors import InputError

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "samples.schema.yaml"


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """The checked sheet, indexed by sample; `vcf_sample` filled with the sample id where empty."""
    path = Path(path)
    df = _read_tsv(path)
    _check_rows(df, path)
    if "vcf_sample" not in df.columns:
        df["vcf_sample"] = ""
    df["vcf_sample"] = df["vcf_sample"].where(df["vcf_sample"] != "", df["sample"])
    return df.set_index("sample", drop=False)


def _read_tsv(path: Path) -> pd.DataFrame:
    if path.is_dir():
        raise InputError(path, "the sample sheet is a directory, not a TSV file")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, comment="#", keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(path, "the sample sheet is empty (expected a header: sample, cohort, vcf)") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputError(path, f"cannot read the sample sheet ({str(err).splitlines()[0]})") from None
    missing = [c for c in ("sample", "cohort", "vcf") if c not in df.columns]
    if missing:
        found = ", ".join(df.columns)
        raise InputError(
            path, f"the sample sheet has no {', '.join(map(repr, missing))} column (found: {found})"
        )
    if df.empty:
        raise InputError(path, "the sample sheet lists no samples")
    return df


def _check_rows(df: pd.DataFrame, path: Path) -> None:
    """Each row against samples.schema.yaml (safe names), unique ids, one VCF per cohort."""
    validator = Draft202012Validator(yaml.safe_load(SCHEMA.read_text()))
    for i, row in enumerate(df.to_dict("records"), start=2):
        error = next(iter(validator.iter_errors(row)), None)
        if error is not None:
            field = error.path[0] if error.path else "row"
            raise InputError(path, f"line {i}: {field} {row.get(field, '')!r} is not allowed ({_why(error)})")
    dup = df.loc[df["sample"].duplicated(), "sample"]
    if len(dup):
        raise InputError(path, f"duplicate sample ids: {', '.join(sorted(set(dup)))}")
    for cohort, vcfs in df.groupby("cohort")["vcf"].unique().items():
        if len(vcfs) != 1:
            raise InputError(path, f"cohort {cohort!r} lists {len(vcfs)} VCFs; a cohort shares one VCF")


def cohort_samples(
    sheet: pd.DataFrame, cohort: str, path: str | Path = "sample sheet"
) -> tuple[list[str], list[str]]:
    """(sample ids, VCF column names) of one cohort, in sheet order."""
    rows = sheet[sheet["cohort"] == cohort]
    if rows.empty:
        raise InputError(path, f"cohort {cohort!r} has no samples")
    return list(rows["sample"]), list(rows["vcf_sample"])


def _why(error) -> str:
    if error.validator == "pattern":
        return "use letters, digits, '.', '_' or '-', starting with a letter or digit"
    if error.validator == "enum":
        return "one of " + ", ".join(repr(v) for v in error.validator_value)
    return error.message.splitlines()[0]
