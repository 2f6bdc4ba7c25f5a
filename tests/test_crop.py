"""Crop step: segmentation of synthetic spreads (box precision/recall), splitting, straightening."""

import numpy as np
from karyospectrum.crop import box_precision_recall, crop_boxes, iou, segment, straighten
from karyospectrum.synthetic import render_chromosome, render_spread
from PIL import Image


def test_spread_box_precision_recall():
    scores = []
    for seed in (10, 11):
        img, truth = render_spread(np.random.default_rng(seed), size=(800, 800), touching=0.15)
        crops = segment(img)
        scores.append(box_precision_recall([c.box for c in crops], truth))
    assert np.mean([s["precision"] for s in scores]) >= 0.9
    assert np.mean([s["recall"] for s in scores]) >= 0.9


def test_crops_are_upright():
    rng = np.random.default_rng(3)
    chrom = render_chromosome("2", rng, bend=0.0, length=90, width=14)
    canvas = np.full((200, 200), 255, np.uint8)
    rot = np.asarray(Image.fromarray(chrom).rotate(60, expand=True, fillcolor=255))
    canvas[20 : 20 + rot.shape[0], 20 : 20 + rot.shape[1]] = rot
    (crop,) = segment(canvas)
    h, w = crop.image.shape
    assert h > 2.5 * w
    assert abs(abs(crop.angle) - 60) < 8


def test_touching_pair_is_split_but_a_centromere_is_not():
    rng = np.random.default_rng(4)
    a = render_chromosome("1", rng, bend=0.0, length=100, width=16)
    b = np.ascontiguousarray(render_chromosome("3", rng, bend=0.0, length=80, width=16).T)  # lying down
    canvas = np.full((180, 160), 255, np.uint8)
    ha, wa = a.shape
    hb, wb = b.shape
    canvas[20 : 20 + ha, 20 : 20 + wa] = a
    # b's end touches a's side (end-to-side, the common case in a spread)
    right = 20 + np.nonzero((a < 200).any(axis=0))[0].max()
    x = right - np.nonzero((b < 200).any(axis=0))[0].min()
    y = 20 + ha // 3
    canvas[y : y + hb, x : x + wb] = np.minimum(canvas[y : y + hb, x : x + wb], b)
    single = np.full((180, 160), 255, np.uint8)
    single[20 : 20 + ha, 20 : 20 + wa] = a
    crops = segment(canvas, split_ratio=0.0)  # try every component: the neck test decides
    assert len(crops) == 2 and all(c.split for c in crops)
    assert len(segment(single, split_ratio=0.0)) == 1


def test_straighten_vertical_input_is_unchanged():
    img = np.full((60, 20), 255, np.uint8)
    img[5:55, 6:14] = 80
    out, angle = straighten(img, img < 200)
    assert abs(angle) < 1 and out.shape[0] > out.shape[1]


def test_empty_and_flat_images_give_no_crops():
    assert segment(np.full((50, 50), 255, np.uint8)) == []
    assert segment(np.full((50, 50), 0, np.uint8)) == []


def test_crop_boxes_and_scores():
    img = np.arange(100, dtype=np.uint8).reshape(10, 10)
    (c,) = crop_boxes(img, [{"x0": 2, "y0": 3, "x1": 5, "y1": 7}])
    assert c.shape == (4, 3) and c[0, 0] == 32
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 10, 20, 20)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9
    pr = box_precision_recall([(0, 0, 10, 10), (50, 50, 60, 60)], [(1, 1, 10, 10)])
    assert pr["precision"] == 0.5 and pr["recall"] == 1.0
