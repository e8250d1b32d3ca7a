"""A slow, obviously-correct pure-NumPy twin of SPEC §1 (L2H), in float64.

Direct transcription: at every step the scores are recomputed from the points, the masked softmax is
formed for the whole (N, K) matrix, and every group/pair is scanned.  Only used by the tests.

Float ties: every aggregated value (score or relatedness) is summed with ``math.fsum`` (correctly
rounded, so the summation order cannot matter); two of them that agree to ``TIE_RTOL`` (8 ulps)
relative are treated as tied and the tie goes to list order, exactly as ``l2h.merge`` documents.
Argmaxes over logits (``a(x)``, ``a(x; G)``) use exact comparisons and the lowest index.
"""

from __future__ import annotations

import math

import numpy as np

TIE_RTOL = 8 * 2.0**-52


def fsum_mean(values) -> float:
    values = list(values)
    return math.fsum(values) / len(values)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def masked_softmax(logits: np.ndarray, group: list[int]) -> np.ndarray:
    masked = logits.copy()
    masked[:, group] = -np.inf
    return softmax(masked)


def first_min(values: list[float]) -> int:
    m = min(values)
    return next(i for i, v in enumerate(values) if v <= m + TIE_RTOL * abs(m))


def first_max(values: list[float]) -> int:
    m = max(values)
    return next(i for i, v in enumerate(values) if v >= m - TIE_RTOL * abs(m))


class _Twin:
    def __init__(self, logits: np.ndarray, aggregation: str) -> None:
        self.L = np.asarray(logits).astype(np.float64)
        self.P = softmax(self.L)
        self.a = self.P.argmax(axis=1)
        self.conf = self.P.max(axis=1)
        self.aggregation = aggregation
        self.K = self.L.shape[1]

    def score(self, group: list[int]) -> float:
        if self.aggregation == "cluster-mean":
            return math.fsum(fsum_mean(self.conf[self.a == c]) if np.any(self.a == c) else 0.0 for c in group)
        in_group = np.isin(self.a, group)
        if self.aggregation == "sum":
            return math.fsum(self.conf[in_group])
        return fsum_mean(self.conf[in_group]) if in_group.any() else 0.0

    def rp(self, group: list[int]) -> np.ndarray:
        q = masked_softmax(self.L, group)
        a_g, conf_g = q.argmax(axis=1), q.max(axis=1)
        in_group = np.isin(self.a, group)
        weight = in_group.astype(np.float64) if in_group.any() else self.P[:, group].sum(axis=1)
        terms = weight * conf_g
        return np.array([math.fsum(terms[a_g == c]) for c in range(self.K)])


def reference_l2h(logits: np.ndarray, aggregation: str = "cluster-mean", strategy: str = "lowest-score"):
    """Return (merges (K-1, 2) int64, scores, relatedness) in scipy node numbering."""
    twin = _Twin(logits, aggregation)
    k = twin.K
    groups: list[list[int]] = [[c] for c in range(k)]
    nodes: list[int] = list(range(k))
    merges, scores, rels = [], [], []
    rp_cache: dict[int, np.ndarray] = {}
    for t in range(k - 1):
        if strategy == "lowest-score":
            s = [twin.score(g) for g in groups]
            i = first_min(s)
            rp = twin.rp(groups[i])
            others = [j for j in range(len(groups)) if j != i]
            rel = [fsum_mean(rp[groups[j]]) for j in others]
            j = others[first_max(rel)]
            best_rel = rel[others.index(j)]
        else:
            pairs, rel = [], []
            for gi, g in enumerate(groups):
                if nodes[gi] not in rp_cache:
                    rp_cache[nodes[gi]] = twin.rp(g)
                for hj, h in enumerate(groups):
                    if hj != gi:
                        pairs.append((gi, hj))
                        rel.append(fsum_mean(rp_cache[nodes[gi]][h]))
            best = first_max(rel)
            i, j = pairs[best]
            best_rel = rel[best]
            s = {i: twin.score(groups[i])}
        merges.append((nodes[i], nodes[j]))
        scores.append(s[i])
        rels.append(best_rel)
        new_group = groups[i] + groups[j]
        for idx in sorted((i, j), reverse=True):
            del groups[idx]
            del nodes[idx]
        groups.append(new_group)
        nodes.append(k + t)
    return np.array(merges, dtype=np.int64).reshape(-1, 2), np.array(scores), np.array(rels)


def reference_l2h_large(logits: np.ndarray) -> np.ndarray:
    """A faster NumPy twin (cluster-mean, lowest-score) for large K with many empty clusters.

    Independent of ``l2h.merge``: plain float64 NumPy per step.  A group with points visits its
    points' rows with the group masked; a group without points weighs every point by its soft
    membership (only the group's columns and each row's total are needed, since ``a(x; G) = a(x)``).
    Sums use ``math.fsum`` per cluster, ties within ``TIE_RTOL`` go to list order.  Returns merges.
    """
    L = np.asarray(logits, dtype=np.float64)
    n, k = L.shape
    rowmax = L.max(axis=1)
    E = np.exp(L - rowmax[:, None])
    total = E.sum(axis=1)
    amax = L.argmax(axis=1)
    conf = 1.0 / total
    counts = np.bincount(amax, minlength=k)
    cluster_score = np.array([fsum_mean(conf[amax == c]) if counts[c] else 0.0 for c in range(k)])
    groups: dict[int, list[int]] = {c: [c] for c in range(k)}
    score = {c: cluster_score[c] for c in range(k)}
    group_of = np.arange(k)
    merges = []
    for t in range(k - 1):
        nodes = np.array(sorted(groups))
        s = np.array([score[g] for g in nodes])
        g_star = int(nodes[np.flatnonzero(s <= s.min() + TIE_RTOL * abs(s.min()))[0]])
        members = groups[g_star]
        pts = np.flatnonzero(np.isin(amax, members))
        if pts.size:
            rows = L[pts].copy()
            rows[:, members] = -np.inf
            top = rows.argmax(axis=1)
            terms = 1.0 / np.exp(rows - rows[np.arange(pts.size), top][:, None]).sum(axis=1)
        else:
            in_g = E[:, members].sum(axis=1)
            top = amax
            terms = (in_g / total) / (total - in_g)
        rp = np.zeros(k)
        order = np.argsort(top, kind="stable")
        bounds = np.flatnonzero(np.diff(top[order])) + 1
        for chunk in np.split(order, bounds):
            if chunk.size:
                rp[top[chunk[0]]] = math.fsum(terms[chunk])
        rel = np.array([fsum_mean(rp[groups[g]]) for g in nodes])
        rel[nodes == g_star] = -np.inf
        g_dag = int(nodes[np.flatnonzero(rel >= rel.max() - TIE_RTOL * abs(rel.max()))[0]])
        new = k + t
        groups[new] = groups.pop(g_star) + groups.pop(g_dag)
        del score[g_star], score[g_dag]
        score[new] = math.fsum(cluster_score[groups[new]])
        group_of[groups[new]] = new
        merges.append((g_star, g_dag))
    return np.array(merges, dtype=np.int64)
