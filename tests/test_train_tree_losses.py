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
    assert list(tree.leaf_names) == ["0", "2", "3", "6", "7"]
    # new ids: 0->0, 2->1, 3->2, 6->3, 7->4
    assert tree.merges.tolist() == [[1, 2], [3, 4], [0, 5], [7, 6]]
    assert tree.heights.tolist() == [1.0, 1.0, 2.0, 3.0]
    assert tree.to_newick(branch_lengths=False, internal_labels=False).startswith("((0,(2,3)),(6,7))")


def test_native_tree_chain_collapse_keeps_heights_monotonic():
    mask = np.zeros(16, dtype=bool)
    mask[[0, 15]] = True
    tree = native_hierarchy(mask)
    assert tree.merges.tolist() == [[0, 1]] and tree.heights.tolist() == [4.0]
    with pytest.raises(ValueError, match="at least 2 live leaves"):
        native_hierarchy(np.eye(1, 8, 3, dtype=bool).ravel())
