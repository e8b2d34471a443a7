"""Why this price: exact additive attributions over the compiled engine, in the model's log-price space.

A row's log price is split into a base value plus one contribution per input feature, summing to the row's
prediction (to float rounding):

- **Trees** (`TreeAttribution`): path-dependent Tree SHAP (Lundberg et al. 2020, "From local explanations to
  global understanding with explainable AI for trees"). The value of a set S of features is the tree's output
  when the features in S follow the row and every other split is averaged by the training rows that took each
  side (the nodes' `count`). For one leaf that value is a product over the features on its path: 1 or 0
  (whether the row takes the path at every split on that feature) for a feature in S, the share of training
  rows that took the path for one outside it. The Shapley values of such a product have a closed form (below),
  so every leaf of every tree is attributed at once with NumPy; a leaf's value is shared among the features on
  its path. The splits are the engine's own node decisions, with their missing-value routes and categorical
  sets; the base is the trees' average over the training rows (each leaf weighted by the rows that reached it).
- **Ridge** (`LinearAttribution`): the exact linear contributions, coefficient × (value − training mean) in
  the design the ridge sees, summed over a feature's columns. Scaled numbers have mean 0 over the fitted rows
  (the scaler's own mean); a category's one-hot columns are centred on the category shares of the training
  table (`reference.json`), so a category's contribution is its term minus the average term.
- **The blend**: the voting regressor's weighted average of the two, part by part.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelrepo.reference import MISSING, OTHER, Reference

from ..errors import UnsupportedModelError
from .compiled import CompiledModel
from .inputs import InputLayout
from .linear import CategoryBlock, LinearPart, NumberBlock
from .trees import TreePart


@dataclass(frozen=True)
class Attributions:
    """Per row: `base + contributions.sum(axis=1)` is the row's predicted log price (to rounding)."""

    base: float
    contributions: np.ndarray  # (rows, features), features in `ModelAttribution.features` order


@dataclass(frozen=True)
class LinearAttribution:
    """Ridge contributions: numbers' terms as they are (centred by the scaler), categories' centred on shares."""

    part: LinearPart
    # (global slots,) a slot's terms minus their average over the training shares, summed over the blocks that
    # read its column (a quality code has a one-hot term and an ordinal-scale term)
    centred_slot_terms: np.ndarray
    base: float  # intercept + the average categorical terms

    @classmethod
    def build(cls, part: LinearPart, layout: InputLayout, shares: list[np.ndarray]) -> LinearAttribution:
        centred = np.zeros(layout.slot_count)
        average_terms = 0.0
        for block in part.blocks:
            if not isinstance(block, CategoryBlock):
                continue
            for index in block.columns:
                column = layout.categorical[index]
                span = slice(column.offset, column.offset + len(column.vocabulary))
                terms = block.slot_terms[span]
                average = float(shares[index] @ terms)
                centred[span] += terms - average
                average_terms += average
        return cls(part, centred, part.intercept + average_terms)

    def contributions(self, numbers: np.ndarray, slots: np.ndarray, width: int) -> np.ndarray:
        out = np.zeros((len(numbers), width))
        start = 0
        for block in self.part.blocks:
            if isinstance(block, NumberBlock):
                size = len(block.columns)
                out[:, block.columns] += block.transform(numbers) * self.part.coef[start : start + size]
            else:
                size = block.width
            start += size
        out[:, width - slots.shape[1] :] += self.centred_slot_terms[slots]  # categories follow the numbers
        return out


@dataclass(frozen=True)
class Paths:
    """Every root-to-leaf path of every tree, as padded arrays: (paths, depth) nodes and (paths, players) features.

    A path's "players" are the distinct features it splits on; `zero_fraction` is, per player, the share of the
    training rows that followed the path at every split on that feature (TreeSHAP's "zero fraction").
    """

    nodes: np.ndarray  # (paths, depth) node ids, padded with the path's own leaf
    left: np.ndarray  # (paths, depth) bool: the path goes left at that node
    player: np.ndarray  # (paths, depth) player of that node within its path; `players` for padding
    feature: np.ndarray  # (paths, players) feature index; `width` (dropped) for an unused player
    zero_fraction: np.ndarray  # (paths, players); 1.0 for unused players (a null player changes no one's value)
    leaf_value: np.ndarray  # (paths,)
    tree: np.ndarray  # (paths,) the tree each path belongs to
    weights: np.ndarray  # Shapley weight of a coalition of each size s: s! (players − 1 − s)! / players!

    @classmethod
    def build(cls, part: TreePart, layout: InputLayout) -> Paths:
        features = _node_features(part, layout)
        found = [(t, leaf, nodes) for t, root in enumerate(part.roots) for leaf, nodes in _paths(part, int(root))]
        depth = max(1, max(len(nodes) for _, _, nodes in found))
        players = max(1, max(len({features[node] for node, _ in nodes}) for _, _, nodes in found))
        width, count = len(layout.numeric) + len(layout.categorical), len(found)
        path_nodes = np.array([[leaf] * depth for _, leaf, _ in found], dtype=np.intp).reshape(count, depth)
        path_left = np.ones((count, depth), dtype=bool)
        path_player = np.full((count, depth), players, dtype=np.intp)
        player_feature = np.full((count, players), width, dtype=np.intp)
        zero_fraction = np.ones((count, players))
        for p, (_, _, nodes) in enumerate(found):
            seen: dict[int, int] = {}
            for d, (node, went_left) in enumerate(nodes):
                player = seen.setdefault(features[node], len(seen))
                child = part.left[node] if went_left else part.right[node]
                path_nodes[p, d], path_left[p, d], path_player[p, d] = node, went_left, player
                player_feature[p, player] = features[node]
                zero_fraction[p, player] *= part.count[child] / part.count[node]
        weights = np.array([math.factorial(s) * math.factorial(players - 1 - s) for s in range(players)], dtype=float)
        return cls(
            path_nodes,
            path_left,
            path_player,
            player_feature,
            zero_fraction,
            part.value[[leaf for _, leaf, _ in found]],
            np.array([t for t, _, _ in found], dtype=np.intp),
            weights / math.factorial(players),
        )

    @property
    def average(self) -> float:
        """Σ over leaves of value × share of training rows reaching it: the trees' mean over their training rows."""
        return float(self.leaf_value @ self.zero_fraction.prod(axis=1))

    def shapley(self, decisions: np.ndarray) -> np.ndarray:
        """(rows, paths, players): each path's leaf value shared among its players, for rows given as node answers."""
        return self.shared(decisions[:, self.nodes] == self.left)

    def shared(self, followed: np.ndarray) -> np.ndarray:
        """The same from (rows, paths, depth) answers: whether the row follows the path at each of its splits."""
        rows, paths, players = followed.shape[0], len(self.leaf_value), self.zero_fraction.shape[1]
        one = np.ones((rows, paths, players + 1), dtype=bool)  # the extra column absorbs the padding
        ids = np.arange(paths)
        for d in range(self.nodes.shape[1]):
            one[:, ids, self.player[:, d]] &= followed[:, :, d]
        return product_shapley(one[:, :, :players], self.zero_fraction, self.weights) * self.leaf_value[:, None]

    def select(self, chosen: np.ndarray) -> Paths:
        return Paths(
            self.nodes[chosen],
            self.left[chosen],
            self.player[chosen],
            self.feature[chosen],
            self.zero_fraction[chosen],
            self.leaf_value[chosen],
            self.tree[chosen],
            self.weights,
        )


#: Rows (or bytes of answers) attributed together: bounds the (rows × paths × players²) scratch arrays.
SHAPLEY_CHUNK = 8


@dataclass(frozen=True)
class TreeAttribution:
    """Tree SHAP for every row. Trees of at most eight splits (the shipped ones) are attributed once per byte of
    answers when the engine is built, so a row costs one gather per tree, as its prediction does; larger trees
    are attributed path by path for each row."""

    part: TreePart
    paths: Paths
    base: float
    table: np.ndarray | None  # (trees × 256, features per tree): each byte's contributions, by tree-local feature
    table_feature: np.ndarray | None  # (trees, features per tree) feature index; `width` for padding

    @classmethod
    def build(cls, part: TreePart, layout: InputLayout) -> TreeAttribution:
        paths = Paths.build(part, layout)
        base = part.baseline + paths.average
        if part.node_bit is None or part.packing is None:
            return cls(part, paths, base, None, None)
        table, table_feature = _byte_tables(part, paths, len(layout.numeric) + len(layout.categorical))
        return cls(part, paths, base, table, table_feature)

    def contributions(self, numbers: np.ndarray, slots: np.ndarray, width: int) -> np.ndarray:
        if self.table is not None and self.table_feature is not None:
            codes = self.part.codes(numbers, slots) + np.arange(len(self.part.roots)) * 256  # (rows, trees)
            picked = self.table[codes]  # (rows, trees, features per tree)
            flat = np.arange(len(numbers))[:, None, None] * (width + 1) + self.table_feature
            return _summed(flat, picked, len(numbers), width)
        out = np.zeros((len(numbers), width))
        for start in range(0, len(numbers), SHAPLEY_CHUNK):
            part = slice(start, start + SHAPLEY_CHUNK)
            phi = self.paths.shapley(self.part._node_decisions(numbers[part], slots[part]))
            rows = len(phi)
            flat = np.arange(rows)[:, None, None] * (width + 1) + self.paths.feature
            out[part] = _summed(flat, phi, rows, width)
        return out


def _byte_tables(part: TreePart, paths: Paths, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Each tree's contributions for each of the 256 bytes of answers, summed by the tree's own features.

    A path's attribution depends only on which of its own splits the row follows: for a path of length L there
    are 2^L patterns (8 for a leaf three splits deep), far fewer than the bytes its tree can give. Each path is
    attributed once per pattern, then every byte gathers, for each path, the pattern it makes.
    """
    assert part.node_bit is not None
    trees = len(part.roots)
    codes = np.arange(2 ** (int(part.node_bit.max()) + 1))  # bytes with a higher bit set never occur
    local: list[dict[int, int]] = [{} for _ in range(trees)]
    for tree, features in zip(paths.tree.tolist(), paths.feature.tolist(), strict=True):
        for feature in features:
            if feature != width:
                local[tree].setdefault(feature, len(local[tree]))
    size = max(1, max(len(features) for features in local))
    table_feature = np.full((trees, size), width, dtype=np.intp)
    for tree, features in enumerate(local):
        table_feature[tree, list(features.values())] = list(features)
    owners = paths.tree.tolist()
    path_local = np.array(
        [[local[t].get(f, size) for f in features] for t, features in zip(owners, paths.feature.tolist(), strict=True)],
        dtype=np.intp,
    ).reshape(paths.feature.shape)
    lengths = (paths.player < paths.zero_fraction.shape[1]).sum(axis=1)
    table = np.zeros(trees * 256 * (size + 1))
    for length in np.unique(lengths).tolist():
        chosen = np.flatnonzero(lengths == length)
        group = paths.select(chosen)
        patterns = np.arange(2**length)
        followed = np.ones((len(patterns), len(chosen), paths.nodes.shape[1]), dtype=bool)
        followed[:, :, :length] = ((patterns[:, None] >> np.arange(length)) & 1 == 1)[:, None, :]
        phi = group.shared(followed)  # (patterns, paths, players)
        bits = part.node_bit[group.nodes[:, :length]]  # (paths, length)
        made = ((codes[:, None, None] >> bits) & 1 == 1) == group.left[:, :length]  # (codes, paths, length)
        pattern = (made << np.arange(length)).sum(axis=2)  # (codes, paths)
        gathered = phi[pattern, np.arange(len(chosen))]  # (codes, paths, players)
        rows = paths.tree[chosen][None, :, None] * 256 + codes[:, None, None]
        flat = np.broadcast_to(rows * (size + 1) + path_local[chosen], gathered.shape)
        table += np.bincount(flat.ravel(), weights=gathered.ravel(), minlength=len(table))
    return table.reshape(trees * 256, size + 1)[:, :size].copy(), table_feature


def _summed(flat: np.ndarray, values: np.ndarray, rows: int, width: int) -> np.ndarray:
    """Values added up per (row, feature); index `width` of each row collects the padding and is dropped."""
    flat = np.broadcast_to(flat, values.shape)
    summed = np.bincount(flat.ravel(), weights=values.ravel(), minlength=rows * (width + 1))
    return summed.reshape(rows, width + 1)[:, :width]


@dataclass(frozen=True)
class ModelAttribution:
    """The blend's attributions, built once from a compiled model and the training profile."""

    features: tuple[str, ...]  # the model's input features: numeric, then categorical, in schema order
    model: CompiledModel
    parts: tuple[LinearAttribution | TreeAttribution, ...]
    shares: np.ndarray  # the blend's normalised weight of each part

    @property
    def base(self) -> float:
        return float(sum(share * part.base for share, part in zip(self.shares, self.parts, strict=True)))

    def explain_arrays(self, numbers: np.ndarray, slots: np.ndarray) -> Attributions:
        width = len(self.features)
        total = np.zeros((len(numbers), width))
        for share, attribution in zip(self.shares, self.parts, strict=True):
            total += share * attribution.contributions(numbers, slots, width)
        return Attributions(self.base, total)

    def explain(self, rows: Sequence[Mapping[str, Any]]) -> Attributions:
        return self.explain_arrays(*self.model.layout.arrays(rows))


def attribute_model(model: CompiledModel, reference: Reference) -> ModelAttribution:
    """Raises UnsupportedModelError when the price is not the exponential of the blend (no log-price effects)."""
    if model.inverse is not np.exp:
        raise UnsupportedModelError(f"explanations of a target transform {model.inverse!r} (only np.log/np.exp)")
    layout = model.layout
    shares = [_category_shares(column.vocabulary, reference, column.name) for column in layout.categorical]
    parts = tuple(
        LinearAttribution.build(part, layout, shares)
        if isinstance(part, LinearPart)
        else TreeAttribution.build(part, layout)
        for part in model.parts
    )
    weights = np.ones(len(parts)) if model.weights is None else np.asarray(model.weights, dtype=np.float64)
    features = (*layout.numeric, *(column.name for column in layout.categorical))
    return ModelAttribution(features, model, parts, weights / weights.sum())


def product_shapley(one: np.ndarray, zero: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Shapley values of g(S) = Π_{j∈S} one_j · Π_{j∉S} zero_j, for every player j (the last axis).

    With P(z) = Π_j (zero_j + one_j z) and Q_i = P / (zero_i + one_i z), the value of player i is
    (one_i − zero_i) · Σ_s w_s q_{i,s}, w_s = s!(n−1−s)!/n!. `one` is 0 or 1 (whether the row follows the path),
    so the division is exact either way: by zero_i alone, or by (z + zero_i), from the top coefficient down
    (each step multiplies earlier rounding by zero_i ≤ 1).
    """
    players = one.shape[-1]
    ones = one.astype(np.float64)
    poly = np.zeros((*one.shape[:-1], players + 1))
    poly[..., 0] = 1.0
    for j in range(players):  # multiply by (zero_j + one_j z)
        poly[..., 1:] = poly[..., 1:] * zero[..., j, None] + poly[..., :-1] * ones[..., j, None]
        poly[..., 0] *= zero[..., j]
    values = np.empty(one.shape)
    for i in range(players):
        zero_i = zero[..., i]
        divided = poly[..., :players] / zero_i[..., None]  # one_i = 0: P = zero_i Q
        by_root = np.empty_like(divided)  # one_i = 1: P = (z + zero_i) Q
        by_root[..., players - 1] = poly[..., players]
        for s in range(players - 1, 0, -1):
            by_root[..., s - 1] = poly[..., s] - zero_i * by_root[..., s]
        quotient = np.where(one[..., i, None], by_root, divided)
        values[..., i] = (ones[..., i] - zero_i) * (quotient @ weights)
    return values


def _node_features(part: TreePart, layout: InputLayout) -> dict[int, int]:
    """The input feature (numeric first, then categorical) each internal node splits on."""
    numeric = len(part.thresholds)
    features: dict[int, int] = {}
    for node, decider in zip(part.internal_ids.tolist(), part.node_decider.tolist(), strict=True):
        if decider < numeric:
            features[node] = int(part.number_sources[decider])
        else:
            features[node] = len(layout.numeric) + int(part.slot_columns[decider - numeric])
    return features


def _paths(part: TreePart, root: int) -> list[tuple[int, list[tuple[int, bool]]]]:
    """(leaf, [(node, went left), …]) for every leaf under `root`."""
    found: list[tuple[int, list[tuple[int, bool]]]] = []
    stack: list[tuple[int, list[tuple[int, bool]]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        left, right = int(part.left[node]), int(part.right[node])
        if left == node:  # a leaf points to itself
            found.append((node, path))
            continue
        stack.append((right, [*path, (node, False)]))
        stack.append((left, [*path, (node, True)]))
    return found


def _category_shares(vocabulary: tuple[str | None, ...], reference: Reference, name: str) -> np.ndarray:
    """Share of the training table in each slot (missing, each category, unseen), from reference.json."""
    profile = reference.categorical.get(name)
    if profile is None:
        raise UnsupportedModelError(f"explanations of {name!r}, which reference.json does not profile")
    frequencies = profile.frequencies
    # The profile's MISSING and OTHER keys count empty cells and unseen values, never a category of that name.
    categories = {key: share for key, share in frequencies.items() if key not in (MISSING, OTHER)}
    shares = [frequencies.get(MISSING, 0.0) if value is None else categories.get(value, 0.0) for value in vocabulary]
    shares[-1] = frequencies.get(OTHER, 0.0)  # the unseen slot
    array = np.asarray(shares, dtype=np.float64)
    return array / array.sum() if array.sum() > 0 else array
