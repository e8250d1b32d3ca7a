"""Tree probabilities, pruning/export and the losses of the training extra (CPU, tiny tensors)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cohiclust_extra.losses import (  # noqa: E402
    cluster_contrastive_loss,
    cohi_loss,
    cohi_loss_pairwise,
    marginal_entropy,
    nt_xent,
)
from cohiclust_extra.tree import (  # noqa: E402
    leaf_to_prune,
    level_log_probs,
    live_nodes,
    native_hierarchy,
    split_balance_loss,
)

pytestmark = pytest.mark.torch


def _loop_level_probs(node_logits: torch.Tensor, depth: int) -> list[torch.Tensor]:
    """Per-node reference: the product of edge probabilities along each path (paper, §3)."""
    p_left = torch.sigmoid(node_logits.double())
    out = []
    for t in range(1, depth + 1):
        level = torch.empty(node_logits.shape[0], 2**t, dtype=torch.float64)
        for i in range(2**t):
            bits = [(i >> (t - 1 - s)) & 1 for s in range(t)]  # y_1..y_t
            prob = torch.ones(node_logits.shape[0], dtype=torch.float64)
            for s in range(t):
                parent_index = i >> (t - s)  # node (s, j) on the path
                node = 2**s - 1 + parent_index
                prob = prob * (p_left[:, node] if bits[s] == 0 else 1 - p_left[:, node])
            level[:, i] = prob
        out.append(level)
    return out


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_level_probs_sum_to_one_and_match_node_loop(depth):
    torch.manual_seed(depth)
    logits = torch.randn(7, 2**depth - 1, dtype=torch.float64) * 3
    levels = level_log_probs(logits)
    expected = _loop_level_probs(logits, depth)
    assert len(levels) == depth
    for t, (lv, ref) in enumerate(zip(levels, expected, strict=False), start=1):
        assert lv.shape == (7, 2**t)
        np.testing.assert_allclose(lv.exp().sum(1).numpy(), 1.0, atol=1e-12)
        np.testing.assert_allclose(lv.exp().numpy(), ref.numpy(), rtol=1e-10, atol=1e-14)


def test_level_probs_stay_finite_for_confident_splits():
    logits = torch.full((2, 31), 200.0, requires_grad=True)  # sigmoid(−200) underflows in linear space
    leaves = level_log_probs(logits)[-1]
    assert torch.isfinite(leaves[:, 0]).all() and leaves[0, -1] < -999
    leaves[:, 0].sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_masked_tree_collapses_parent_and_renormalises():
    torch.manual_seed(0)
    logits = torch.randn(5, 7, dtype=torch.float64)
    mask = torch.tensor([True, False, True, True, False, False, True, True])
    alive = live_nodes(mask)
    assert alive[1].tolist() == [True, True] and alive[2].tolist() == [True, True, False, True]
    levels = level_log_probs(logits, mask)
    probs = levels[-1].exp()
    np.testing.assert_allclose(probs.sum(1).numpy(), 1.0, atol=1e-12)
    assert (probs[:, ~mask] == 0).all()
    full = _loop_level_probs(logits, 3)
    # leaf 0's sibling is pruned: leaf 0 inherits its parent (2, 0)'s whole probability
    np.testing.assert_allclose(probs[:, 0].numpy(), full[1][:, 0].numpy(), rtol=1e-12)
    # node (1, 1) lost its left subtree (2, 2): leaves 6 and 7 share all of (1, 1)
    np.testing.assert_allclose((probs[:, 6] + probs[:, 7]).numpy(), full[0][:, 1].numpy(), rtol=1e-12)


def test_masked_gradients_are_finite():
    logits = torch.randn(6, 15, requires_grad=True)
    mask = torch.zeros(16, dtype=torch.bool)
    mask[[0, 5, 9, 15]] = True
    levels = level_log_probs(logits, mask)
    half = [lv[:3] for lv in levels], [lv[3:] for lv in levels]
    loss = cohi_loss(*half) + split_balance_loss(logits, levels, mask)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("depth,batch", [(1, 2), (3, 9), (5, 16)])
def test_closed_form_cohiloss_matches_pairwise_value_and_gradient(depth, batch):
    torch.manual_seed(depth * 10 + batch)
    za = torch.randn(batch, 2**depth - 1, dtype=torch.float64, requires_grad=True)
    zb = torch.randn(batch, 2**depth - 1, dtype=torch.float64, requires_grad=True)
    fast = cohi_loss(level_log_probs(za), level_log_probs(zb))
    ga, gb = torch.autograd.grad(fast, (za, zb))
    slow = cohi_loss_pairwise(level_log_probs(za), level_log_probs(zb))
    sa, sb = torch.autograd.grad(slow, (za, zb))
    assert fast.item() == pytest.approx(slow.item(), abs=1e-10)
    np.testing.assert_allclose(ga.numpy(), sa.numpy(), atol=1e-9)
    np.testing.assert_allclose(gb.numpy(), sb.numpy(), atol=1e-9)


def test_cohiloss_explicit_double_sum():
    torch.manual_seed(3)
    la = level_log_probs(torch.randn(4, 3, dtype=torch.float64))
    lb = level_log_probs(torch.randn(4, 3, dtype=torch.float64))
    total = 0.0
    for pa, pb in zip(la, lb, strict=False):

        def s(i, j, pa=pa, pb=pb):
            return float(torch.sqrt(pa[i].exp() * pb[j].exp()).sum())

        neg = np.mean([s(i, j) for i, j in itertools.permutations(range(4), 2)])
        pos = np.mean([s(i, i) for i in range(4)])
        total += neg - pos
    assert cohi_loss(la, lb).item() == pytest.approx(total, abs=1e-12)


def test_cohiloss_needs_two_points():
    lv = level_log_probs(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="at least 2"):
        cohi_loss(lv, lv)


def test_split_balance_loss_minimum_at_even_splits():
    logits = torch.zeros(4, 7)
    levels = level_log_probs(logits)
    assert split_balance_loss(logits, levels).item() == pytest.approx(7 * np.log(2), rel=1e-6)
    skewed = torch.full((4, 7), 2.0)
    assert split_balance_loss(skewed, level_log_probs(skewed)).item() > 7 * np.log(2)
    # collapsed nodes (one live child) are not regularised
    mask = torch.tensor([True, False, True, True, True, True, True, True])
    assert split_balance_loss(logits, level_log_probs(logits, mask), mask).item() == pytest.approx(6 * np.log(2))


def test_nt_xent_against_explicit_formula():
    torch.manual_seed(1)
    a, b = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    z = torch.nn.functional.normalize(torch.cat((a, b)), dim=1)
    losses = []
    for i in range(10):
        pos = (i + 5) % 10
        sims = [float(z[i] @ z[k]) / 0.5 for k in range(10) if k != i]
        losses.append(-(float(z[i] @ z[pos]) / 0.5 - np.log(np.sum(np.exp(sims)))))
    assert nt_xent(a, b, 0.5).item() == pytest.approx(np.mean(losses), abs=1e-10)


def test_cluster_loss_is_contrast_minus_entropies():
    torch.manual_seed(2)
    pa, pb = torch.randn(8, 3).softmax(1), torch.randn(8, 3).softmax(1)
    expected = nt_xent(pa.t(), pb.t(), 1.0) - marginal_entropy(pa) - marginal_entropy(pb)
    assert cluster_contrastive_loss(pa, pb, 1.0).item() == pytest.approx(expected.item(), rel=1e-6)
    uniform = torch.full((8, 3), 1 / 3)
    assert marginal_entropy(uniform).item() == pytest.approx(np.log(3), rel=1e-6)


def test_prune_picks_lowest_live_leaf():
    mask = np.array([True, True, False, True])
    assert leaf_to_prune(np.array([0.5, 0.3, 0.0, 0.2]), mask) == 3
    assert leaf_to_prune(np.array([0.1, 0.3, 0.0, 0.6]), mask) == 0
    with pytest.raises(ValueError, match="fewer than 2"):
        leaf_to_prune(np.ones(4), np.array([True, False, False, False]))


def test_native_tree_of_complete_depth_two():
    tree = native_hierarchy(np.ones(4, dtype=bool))
    assert tree.merges.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert tree.heights.tolist() == [1.0, 1.0, 2.0]
    assert list(tree.leaf_names) == ["0", "1", "2", "3"]


def test_native_tree_collapses_pruned_parents():
    # depth 3; leaves 1, 4, 5 pruned -> ((0,(2,3)),(6,7)); 0 replaces its parent (2,0)
    mask = np.array([True, False, True, True, False, False, True, True])
    tree = native_hierarchy(mask)
    # leaves are numbered (and named) by logits column; the complete-tree indices stay in the info
    assert tree.info["live_leaves"] == [0, 2, 3, 6, 7]
    assert list(tree.leaf_names) == ["0", "1", "2", "3", "4"]
    # new ids: 0->0, 2->1, 3->2, 6->3, 7->4
    assert tree.merges.tolist() == [[1, 2], [3, 4], [0, 5], [7, 6]]
    assert tree.heights.tolist() == [1.0, 1.0, 2.0, 3.0]
    assert tree.to_newick(branch_lengths=False, internal_labels=False).startswith("((0,(1,2)),(3,4))")


def test_native_tree_chain_collapse_keeps_heights_monotonic():
    mask = np.zeros(16, dtype=bool)
    mask[[0, 15]] = True
    tree = native_hierarchy(mask)
    assert tree.merges.tolist() == [[0, 1]] and tree.heights.tolist() == [4.0]
    with pytest.raises(ValueError, match="at least 2 live leaves"):
        native_hierarchy(np.eye(1, 8, 3, dtype=bool).ravel())


# ------------------------------------------------------------------ brute force with pruned leaves
def _masked_level_probs_loop(node_logits: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Independent reference for a pruned tree: walk every root-to-leaf path; an edge into a subtree with
    no live leaf has probability 0 and its live sibling then gets probability 1 (the parent collapses)."""
    depth = int(np.log2(mask.numel()))
    p_left = torch.sigmoid(node_logits.double())
    live = [
        [bool(mask[i << (depth - t) : (i + 1) << (depth - t)].any()) for i in range(2**t)] for t in range(depth + 1)
    ]
    out = []
    for t in range(1, depth + 1):
        level = torch.zeros(node_logits.shape[0], 2**t, dtype=torch.float64)
        for i in range(2**t):
            prob = torch.ones(node_logits.shape[0], dtype=torch.float64)
            for s in range(t):
                parent, child = i >> (t - s), i >> (t - s - 1)
                left_live, right_live = live[s + 1][2 * parent], live[s + 1][2 * parent + 1]
                if not live[s + 1][child]:
                    prob = prob * 0
                elif not (left_live and right_live):
                    pass  # collapsed: the only live child gets everything
                else:
                    p = p_left[:, 2**s - 1 + parent]
                    prob = prob * (p if child % 2 == 0 else 1 - p)
            level[:, i] = prob
        out.append(level)
    return out


def _cohiloss_double_loop(la, lb) -> torch.Tensor:
    """CoHiLoss as written in the paper: mean over i != j of s_t(x_i, x~_j) minus mean of s_t(x_i, x~_i)."""
    total = torch.zeros((), dtype=torch.float64)
    batch = la[0].shape[0]
    for pa, pb in zip(la, lb, strict=True):
        neg = sum((pa[i] * pb[j]).sqrt().sum() for i in range(batch) for j in range(batch) if i != j)
        pos = sum((pa[i] * pb[i]).sqrt().sum() for i in range(batch))
        total = total + neg / (batch * (batch - 1)) - pos / batch
    return total


MASKS = [
    [1, 0, 1, 1, 0, 0, 1, 1],  # depth 3: a collapsed parent and a dead subtree
    [1, 1, 1, 1, 1, 1, 1, 1],
    [0, 0, 0, 1, 1, 0, 0, 0],  # depth 3, two leaves in different halves
    [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1],  # depth 4
]


@pytest.mark.parametrize("mask", MASKS)
def test_masked_level_probs_match_path_loop(mask):
    mask = torch.tensor(mask, dtype=torch.bool)
    depth = int(np.log2(mask.numel()))
    torch.manual_seed(int(mask.sum()))
    logits = torch.randn(6, 2**depth - 1, dtype=torch.float64) * 2
    for lv, ref in zip(level_log_probs(logits, mask), _masked_level_probs_loop(logits, mask), strict=True):
        np.testing.assert_allclose(lv.exp().numpy(), ref.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(lv.exp().sum(1).numpy(), 1.0, atol=1e-12)


@pytest.mark.parametrize("mask", MASKS)
def test_masked_cohiloss_and_gradients_match_brute_force(mask):
    """Closed form on log-space masked levels == the paper's double sum on path-loop probabilities,
    value and gradient (the reference never touches level_log_probs or cohi_loss)."""
    mask = torch.tensor(mask, dtype=torch.bool)
    depth = int(np.log2(mask.numel()))
    torch.manual_seed(7 + int(mask.sum()))
    za = torch.randn(5, 2**depth - 1, dtype=torch.float64, requires_grad=True)
    zb = torch.randn(5, 2**depth - 1, dtype=torch.float64, requires_grad=True)
    fast = cohi_loss(level_log_probs(za, mask), level_log_probs(zb, mask))
    ga, gb = torch.autograd.grad(fast, (za, zb))
    # sqrt(p * q) has an infinite derivative at 0: the reference adds no epsilon but only takes the
    # square root of the live leaves' products (dead ones are exactly 0 and contribute nothing)
    ra, rb = _masked_level_probs_loop(za, mask), _masked_level_probs_loop(zb, mask)
    alive = live_nodes(mask)[1:]
    slow = _cohiloss_double_loop(
        [r[:, a] for r, a in zip(ra, alive, strict=True)], [r[:, a] for r, a in zip(rb, alive, strict=True)]
    )
    sa, sb = torch.autograd.grad(slow, (za, zb))
    assert fast.item() == pytest.approx(slow.item(), abs=1e-12)
    np.testing.assert_allclose(ga.numpy(), sa.numpy(), atol=1e-12)
    np.testing.assert_allclose(gb.numpy(), sb.numpy(), atol=1e-12)
    # and the pairwise formulation used by the benchmark agrees too
    assert cohi_loss_pairwise(level_log_probs(za, mask), level_log_probs(zb, mask)).item() == pytest.approx(
        slow.item(), abs=1e-9
    )


def test_cohiloss_negatives_are_cross_view_pairs_only():
    """Identical views of two far-apart points: positives s = 1 per level; the cross-view negatives are
    disjoint paths (s = 0), so CoHiLoss = -T exactly. Counting same-view or self pairs would change it."""
    logits = torch.tensor([[60.0, 60.0, 60.0], [-60.0, -60.0, -60.0]], dtype=torch.float64)  # leaves 0 and 3
    lv = level_log_probs(logits)
    assert cohi_loss(lv, lv).item() == pytest.approx(-2.0, abs=1e-9)
    # one point per view differs: view b of point 0 goes to leaf 3 as well
    lb = level_log_probs(torch.tensor([[-60.0, -60.0, -60.0], [-60.0, -60.0, -60.0]], dtype=torch.float64))
    # per level: negatives s(a0, b1) = 0, s(a1, b0) = 1 -> mean 0.5; positives s(a0, b0) = 0, s(a1, b1) = 1
    assert cohi_loss(lv, lb).item() == pytest.approx(2 * (0.5 - 0.5), abs=1e-9)


@pytest.mark.parametrize("mask", [None, *MASKS[:1], MASKS[3]])
def test_split_balance_loss_matches_per_node_brute_force(mask):
    """R1 = sum over internal nodes with two live children of CE([.5, .5], [a, 1 - a]), with a the node's
    mean left split: mean P(left child) / mean P(node) over the batch (Frosst & Hinton, 2017)."""
    mask_t = None if mask is None else torch.tensor(mask, dtype=torch.bool)
    depth = 3 if mask is None else int(np.log2(len(mask)))
    torch.manual_seed(11)
    logits = torch.randn(9, 2**depth - 1, dtype=torch.float64) * 1.5
    probs = [torch.ones(9, 1, dtype=torch.float64)] + (
        _loop_level_probs(logits, depth) if mask is None else _masked_level_probs_loop(logits, mask_t)
    )
    alive = live_nodes(torch.ones(2**depth, dtype=torch.bool) if mask is None else mask_t)
    expected = 0.0
    for t in range(depth):
        for i in range(2**t):
            if alive[t + 1][2 * i] and alive[t + 1][2 * i + 1]:
                a = float(probs[t + 1][:, 2 * i].mean() / probs[t][:, i].mean())
                expected += -0.5 * (np.log(a) + np.log(1 - a))
    got = split_balance_loss(logits, level_log_probs(logits, mask_t), mask_t).item()
    assert got == pytest.approx(expected, rel=1e-9)


def test_cc_cluster_loss_matches_paper_equations():
    """Li et al. (2021), eq. 4-6, written out: for every cluster column of each view, -log of its positive
    (the same column of the other view) against the other 2M - 1 columns, τ_C = 1; averaged over the 2M
    anchors; minus H(Y) = entropy of the batch-mean assignment of view a plus that of view b."""
    torch.manual_seed(5)
    n, m, tau = 12, 4, 1.0
    ya, yb = torch.randn(n, m, dtype=torch.float64).softmax(1), torch.randn(n, m, dtype=torch.float64).softmax(1)
    cols = [ya[:, i] for i in range(m)] + [yb[:, i] for i in range(m)]

    def s(u, v):
        return float(u @ v / (u.norm() * v.norm()))

    total = 0.0
    for k in range(2 * m):
        pos = (k + m) % (2 * m)
        denominator = sum(np.exp(s(cols[k], cols[j]) / tau) for j in range(2 * m) if j != k)
        total += -np.log(np.exp(s(cols[k], cols[pos]) / tau) / denominator)
    entropy = 0.0
    for y in (ya, yb):
        p = y.mean(0).numpy()
        entropy += -(p * np.log(p)).sum()
    expected = total / (2 * m) - entropy
    assert cluster_contrastive_loss(ya, yb, tau).item() == pytest.approx(expected, abs=1e-9)
    # the entropy term rewards balanced clusters: collapsing every point into one cluster costs more
    collapsed = torch.zeros(n, m, dtype=torch.float64)
    collapsed[:, 0] = 1
    assert marginal_entropy(collapsed).item() == pytest.approx(0.0, abs=1e-9)
