"""Isolation forest (Liu, Ting & Zhou 2008) in whole-array numpy: every tree grown at once.

The algorithm is scikit-learn's ``IsolationForest`` with its defaults (subsamples of
``min(256, n)`` rows drawn without replacement, every feature, trees grown to depth
``ceil(log2(subsample))``): at a node, a feature is drawn uniformly among those not constant
there (more than 1e-7 between its minimum and maximum), a threshold uniformly between them (the
minimum when it rounds to the maximum), and rows at or below it go left; a node of one row, at the
depth limit or with every feature constant is a leaf. A row's path length in a tree is its leaf's
depth plus ``c(rows in the leaf)``, the average path length of an unbuilt subtree, and its anomaly
score is ``2^(-mean path length / c(subsample))``.

Growing the trees level by level over all trees together replaces scikit-learn's per-tree Python
work (about 1 ms a tree, most of a 50-tree forest's cost on a few thousand rows): the same
algorithm, drawn from a numpy ``Generator`` seeded with the profile's seed, so the same rows and
seed give the same scores.
"""

from __future__ import annotations

import math

import numpy as np

SUBSAMPLE = 256
CONSTANT_SPAN = 1e-7  # scikit-learn's FEATURE_THRESHOLD: a narrower span is a constant feature


def average_path_length(n: np.ndarray) -> np.ndarray:
    """``c(n)``: the average path length of an unsuccessful search in a binary search tree of
    ``n`` rows (0 for one row, 1 for two), the depth a leaf of ``n`` rows stands for."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def anomaly_scores(x: np.ndarray, trees: int, seed: int) -> np.ndarray:
    """The anomaly score of every row of ``x`` (rows × features, no NaN) in a forest of
    ``trees`` isolation trees grown on subsamples of ``x``."""
    rows = len(x)
    size = min(SUBSAMPLE, rows)
    rng = np.random.default_rng(seed)
    picks = np.stack([rng.choice(rows, size, replace=False) for _ in range(trees)])
    forest = _grow(x, picks, math.ceil(math.log2(max(size, 2))), rng)
    return _score(x, forest, trees, size)


def _grow(x: np.ndarray, picks: np.ndarray, depth_limit: int, rng: np.random.Generator):
    """Every tree's nodes as flat arrays: (feature or -1 at a leaf, threshold, left child (the
    right one follows it), training rows, depth); the first ``trees`` nodes are the roots."""
    trees, size = picks.shape
    point_row, point_node = picks.ravel(), np.repeat(np.arange(trees), size)
    feature, threshold, left = np.full(trees, -1), np.zeros(trees), np.full(trees, -1)
    node_rows, node_depth = [np.full(trees, size)], [np.zeros(trees, dtype=np.int64)]
    frontier = np.arange(trees) if size > 1 else np.empty(0, dtype=np.int64)
    for depth in range(depth_limit):
        split = _split(x, point_row, point_node, frontier, len(feature), rng) \
            if len(frontier) else None
        if split is None:
            break
        nodes, feat, thr, goes_left, moving = split
        count, born = len(feature), 2 * len(nodes)
        first = count + 2 * np.arange(len(nodes))
        feature[nodes], threshold[nodes], left[nodes] = feat, thr, first
        child = first[np.searchsorted(nodes, point_node[moving])] + (~goes_left)
        point_node[moving] = child
        sizes = np.bincount(child - count, minlength=born)
        feature = np.concatenate([feature, np.full(born, -1)])
        threshold = np.concatenate([threshold, np.zeros(born)])
        left = np.concatenate([left, np.full(born, -1)])
        node_rows.append(sizes)
        node_depth.append(np.full(born, depth + 1))
        frontier = count + np.flatnonzero(sizes >= 2)
    return feature, threshold, left, np.concatenate(node_rows), np.concatenate(node_depth)


def _split(x, point_row, point_node, frontier, count, rng):
    """Draw a split for every frontier node that has a non-constant feature: (nodes, features,
    thresholds, for each point in those nodes whether it goes left, the points' mask)."""
    in_frontier = np.zeros(count, dtype=bool)
    in_frontier[frontier] = True
    moving = in_frontier[point_node]
    order = np.flatnonzero(moving)
    order = order[np.argsort(point_node[order], kind="stable")]
    nodes, starts = np.unique(point_node[order], return_index=True)
    values = x[point_row[order]]
    low = np.minimum.reduceat(values, starts, axis=0)
    high = np.maximum.reduceat(values, starts, axis=0)
    varying = (high - low) > CONSTANT_SPAN
    choices = varying.sum(axis=1)
    draw, place = rng.random(len(nodes)), rng.random(len(nodes))
    splittable = choices > 0
    if not splittable.any():
        return None
    pick = np.minimum((draw * choices).astype(np.int64), np.maximum(choices - 1, 0))
    feat = np.argmax(np.cumsum(varying, axis=1) > pick[:, None], axis=1)
    at = np.arange(len(nodes))
    lo, hi = low[at, feat], high[at, feat]
    thr = lo + place * (hi - lo)
    thr = np.where(thr >= hi, lo, thr)
    nodes, feat, thr = nodes[splittable], feat[splittable], thr[splittable]
    moving &= np.isin(point_node, nodes)
    index = np.searchsorted(nodes, point_node[moving])
    goes_left = x[point_row[moving], feat[index]] <= thr[index]
    return nodes, feat, thr, goes_left, moving


def _score(x: np.ndarray, forest, trees: int, size: int) -> np.ndarray:
    """Every row down every tree at once, one level a step (a leaf routes to itself); the mean
    path length as the anomaly score."""
    feature, threshold, left, node_rows, node_depth = forest
    rows, width = x.shape
    leaf = feature < 0
    left = np.where(leaf, np.arange(len(feature)), left).astype(np.intp)
    threshold = np.where(leaf, np.inf, threshold)
    feature = np.where(leaf, 0, feature).astype(np.intp)
    flat = x.ravel()
    offset = np.tile(np.arange(rows, dtype=np.intp) * width, trees)
    node = np.repeat(np.arange(trees, dtype=np.intp), rows)
    for _ in range(int(node_depth.max())):
        value = flat.take(offset + feature.take(node))
        node = left.take(node) + (value > threshold.take(node))
    paths = node_depth.take(node) + average_path_length(node_rows).take(node)
    mean = paths.reshape(trees, rows).mean(axis=0)
    return 2.0 ** (-mean / average_path_length(np.array([size]))[0])
