"""Cell-level karyotyping: joint assignment fixes argmax errors, and aneuploid cells are reported."""

import numpy as np
from karyospectrum import AUTOSOMES, CHROMOSOMES
from karyospectrum.karyotype import assign_cell, assign_groups, karyotype_string

IDX = {c: i for i, c in enumerate(CHROMOSOMES)}


def cell_probs(chroms, conf=0.9, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, (len(chroms), 24)) * (1 - conf) / 12
    for i, c in enumerate(chroms):
        p[i, IDX[c]] = conf
    return p / p.sum(1, keepdims=True)


def normal(sex):
    return [c for c in AUTOSOMES for _ in (0, 1)] + list(sex)


def test_normal_cells_fit():
    for sex in ("XX", "XY"):
        chroms = normal(sex)
        call = assign_cell(cell_probs(chroms))
        assert call.labels == chroms
        assert call.fits and call.sex == sex and call.karyotype == f"46,{sex}"


def test_joint_assignment_fixes_argmax_errors():
    chroms = normal("XY")
    p = cell_probs(chroms)
    # one chromosome 4 looks more like a 5: argmax gives three 5s and one 4
    i4 = chroms.index("4")
    p[i4] = 0.001
    p[i4, IDX["5"]], p[i4, IDX["4"]] = 0.6, 0.35
    assert CHROMOSOMES[p[i4].argmax()] == "5"
    call = assign_cell(p)
    assert call.labels[i4] == "4"
    assert call.fits


def test_trisomy_is_reported_not_forced():
    chroms = normal("XY") + ["21"]
    call = assign_cell(cell_probs(chroms, conf=0.98))
    assert not call.fits
    assert call.karyotype == "47,XY,+21"
    assert call.labels == chroms


def test_monosomy_x_is_reported():
    chroms = normal("X")  # 45,X
    call = assign_cell(cell_probs(chroms, conf=0.98))
    assert not call.fits
    assert call.counts["X"] == 1 and call.counts["Y"] == 0
    assert call.karyotype.startswith("45,X")


def test_weak_evidence_does_not_make_a_trisomy():
    # 46 crops, one ambiguous between its true 13 and 14: it stays a 13 (no 3rd 14 for weak evidence)
    chroms = normal("XX")
    p = cell_probs(chroms)
    i = chroms.index("13")
    p[i] = 0.001
    p[i, IDX["14"]], p[i, IDX["13"]] = 0.55, 0.4
    call = assign_cell(p)
    assert call.labels[i] == "13" and call.fits


def test_groups_are_assigned_separately():
    a, b = normal("XX"), normal("XY")
    p = np.concatenate([cell_probs(a, seed=1), cell_probs(b, seed=2)])
    labels, calls = assign_groups(p, ["a"] * 46 + ["b"] * 46)
    assert list(labels) == a + b
    assert calls["a"].sex == "XX" and calls["b"].sex == "XY"


def test_karyotype_string_and_empty_cell():
    counts = {c: 2 for c in AUTOSOMES} | {"X": 1, "Y": 1}
    counts["18"] = 3
    assert karyotype_string(counts) == "47,XY,+18"
    call = assign_cell(np.zeros((0, 24)))
    assert call.labels == [] and not call.fits


def test_length_prior_breaks_ties_the_classifier_cannot():
    from karyospectrum.cytobands import chrom_sizes
    from karyospectrum.karyotype import crop_length, length_loglik

    chroms = normal("XY")
    p = cell_probs(chroms)
    # the classifier cannot tell 1 from 21 (same probability), the lengths can
    for i, c in enumerate(chroms):
        if c in ("1", "21"):
            p[i] = 0.001
            p[i, IDX["1"]] = p[i, IDX["21"]] = 0.45
    lengths = [chrom_sizes()[c] / 1e6 + 20 for c in chroms]
    call = assign_cell(p, lengths=lengths)
    assert call.labels == chroms and call.fits
    ll = length_loglik(lengths)
    assert ll.shape == (46, 24) and ll.max() <= 0
    assert CHROMOSOMES[int(np.argmax(ll[chroms.index("1")]))] == "1"
    crop = np.full((50, 20), 255, np.uint8)
    crop[5:45, 8:12] = 40
    assert crop_length(crop) == 40
