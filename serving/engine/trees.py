"""The trees: HistGradientBoostingRegressor behind its ordinal encoding, decided for every node at once.

Categorical columns are encoded twice in the pipeline (the outer OrdinalEncoder, then HGB's own re-encoding);
both fitted encoders are run once on every slot, so each split on a category becomes a lookup table over slots
that already holds the node's answer: left if the category is in the split's set, right if it is another known
category, and the missing-value route for missing, unseen and infrequent-but-unknown ones, exactly as
`_predict_one_from_raw_data` decides. Numeric splits compare `value <= threshold`, missing values taking the
node's route. Every node of every tree is decided in one vectorised pass; the walk from the roots is one gather
per level; leaf values are added to the baseline one tree after another, in scikit-learn's order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
from sklearn.utils.validation import check_array

from ..errors import UnsupportedModelError
from .derived import derived_steps, is_derivation
from .inputs import InputLayout
from .internals import hgb_known_categories, hgb_preprocessor, hgb_trees

#: Rows decided together: bounds the (rows × nodes) scratch arrays of a large batch to a few MB.
CHUNK_ROWS = 128
_GATHER_BYTES = np.uint64(0x0102040810204080)


@dataclass(frozen=True)
class Source:
    """Where one column the trees split on comes from: a number, or a value per slot of a categorical column."""

    numeric: int | None = None
    categorical: int | None = None
    slot_values: np.ndarray | None = None  # per local slot, the encoded value (NaN for missing or unknown)


@dataclass(frozen=True)
class Coverage:
    """Which sides of which splits a set of rows took (for the startup check's report)."""

    splits: int
    both_sides: int
    missing_reached: int


@dataclass(frozen=True)
class TreePart:
    """Leaf values summed over the trees, bit for bit as `HistGradientBoostingRegressor.predict` adds them.

    Internal nodes are decided in one pass: numeric splits (`number_*`) by comparison, the others (`slot_*`) by
    lookup. When every tree has at most eight splits (the shipped model has seven), a tree's answers pack into one
    byte that indexes the tree's table of leaves (`leaf_table`); otherwise the walk goes down one level at a time.
    """

    baseline: float
    roots: np.ndarray  # (trees,) node ids of the roots, in the order scikit-learn adds the trees
    left: np.ndarray  # (nodes,) next node when a node's answer is "left"; a leaf points to itself
    right: np.ndarray
    value: np.ndarray  # (nodes,) leaf values (0 for internal nodes)
    count: np.ndarray  # (nodes,) training rows that reached each node (for explanations, not predictions)
    internal_ids: np.ndarray  # node id of each internal node
    depth: int
    # The distinct split tests ("deciders"): a node is decided by one of them, and many nodes share one (the
    # shipped model's 3,497 numeric splits use 1,377 distinct column-threshold pairs).
    number_columns: np.ndarray  # column of the numbers array (or of its copy with NaN as -inf, see _decisions)
    number_sources: np.ndarray  # column of the numbers array itself
    thresholds: np.ndarray
    slot_columns: np.ndarray
    slot_shift: np.ndarray  # decider's table start minus its column's first global slot
    slot_table: np.ndarray  # bool: each slot decider's answer for each slot of its column
    node_decider: np.ndarray  # (internal nodes,) the decider of each internal node
    packing: np.ndarray | None  # (trees × 8,) decider at each (tree, bit), the last always-false one for padding
    leaf_table: np.ndarray | None  # (trees × 256,) the leaf value each byte of answers leads to
    node_bit: np.ndarray | None  # (nodes,) the bit of its tree's byte that holds a node's answer (-1: a leaf)

    def predict(self, numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
        out = np.empty(len(numbers), dtype=np.float64)
        for start in range(0, len(numbers), CHUNK_ROWS):
            part = slice(start, start + CHUNK_ROWS)
            leaf_values = self._leaf_values(numbers[part], slots[part])
            values = np.empty((leaf_values.shape[0], leaf_values.shape[1] + 1), dtype=np.float64)
            values[:, 0] = self.baseline
            values[:, 1:] = leaf_values
            out[part] = np.add.accumulate(values, axis=1)[:, -1]  # one tree after another, as HGB adds them
        return out

    def coverage(self, numbers: np.ndarray, slots: np.ndarray) -> Coverage:
        went_left = np.zeros(len(self.left), dtype=bool)
        went_right = np.zeros(len(self.left), dtype=bool)
        missing = np.zeros(len(self.left), dtype=bool)
        for start in range(0, len(numbers), CHUNK_ROWS):
            part = slice(start, start + CHUNK_ROWS)
            decisions = self._node_decisions(numbers[part], slots[part])
            nan = np.zeros_like(decisions)
            numeric = self.node_decider < len(self.thresholds)
            missing_inputs = np.isnan(numbers[part].take(self.number_sources, axis=1))
            nan[:, self.internal_ids[numeric]] = missing_inputs.take(self.node_decider[numeric], axis=1)
            visited = np.zeros_like(decisions)
            cur = np.broadcast_to(self.roots, (decisions.shape[0], len(self.roots))).copy()
            rows = np.arange(decisions.shape[0])[:, None]
            for _ in range(self.depth):
                visited[rows, cur] = True
                cur = np.where(decisions[rows, cur], self.left[cur], self.right[cur])
            went_left |= (visited & decisions).any(axis=0)
            went_right |= (visited & ~decisions).any(axis=0)
            missing |= (visited & nan).any(axis=0)
        inner = np.zeros(len(self.left), dtype=bool)
        inner[self.internal_ids] = True
        return Coverage(int(inner.sum()), int((went_left & went_right & inner).sum()), int((missing & inner).sum()))

    def _decisions(self, numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """(rows × deciders) answers, True for left: numeric ones, then slot ones, then one always false."""
        split = len(self.thresholds)
        out = np.empty((len(numbers), split + len(self.slot_columns) + 1), dtype=bool)
        # NaN <= t is false, so a missing value goes right by itself; the deciders that send it left read a second
        # copy of the numbers in which NaN is -inf (true for every finite or infinite threshold but -inf, which
        # compile_trees refuses).
        both = np.concatenate([numbers, np.where(np.isnan(numbers), -np.inf, numbers)], axis=1)
        np.less_equal(both.take(self.number_columns, axis=1), self.thresholds, out=out[:, :split])
        out[:, split:-1] = self.slot_table.take(self.slot_shift + slots.take(self.slot_columns, axis=1))
        out[:, -1] = False
        return out

    def _leaf_values(self, numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
        if self.leaf_table is not None:
            return self.leaf_table.take(self.codes(numbers, slots) + self._table_offsets)
        return self.value.take(self._walk(self._node_decisions(numbers, slots)))

    def codes(self, numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """(rows, trees): each tree's answers packed into one byte (bit k: the answer of the split at bit k)."""
        assert self.packing is not None, "trees with more than eight splits have no byte of answers"
        answers = self._decisions(numbers, slots).take(self.packing, axis=1)  # (rows, trees × 8), C order
        # A tree's eight answers are eight 0/1 bytes: read them as one little-endian integer and gather byte k
        # into bit k with one multiplication (the same bits as np.packbits(..., bitorder="little"), 20× faster).
        eight = answers.view(np.uint64)
        codes: np.ndarray = ((eight * _GATHER_BYTES) >> np.uint64(56)).astype(np.intp)
        return codes

    @functools.cached_property
    def _table_offsets(self) -> np.ndarray:
        return np.arange(len(self.roots), dtype=np.intp) * 256

    def _node_decisions(self, numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
        full = np.zeros((len(numbers), len(self.left)), dtype=bool)
        full[:, self.internal_ids] = self._decisions(numbers, slots).take(self.node_decider, axis=1)
        return full

    def _walk(self, decisions: np.ndarray) -> np.ndarray:
        """Leaf ids, (rows × trees): one gather per level of the deepest tree."""
        width = len(self.left)
        offsets = (np.arange(len(decisions), dtype=np.intp) * width)[:, None]
        following = (np.where(decisions, self.left, self.right) + offsets).ravel()
        cur = (self.roots + offsets).ravel()
        for _ in range(self.depth):
            cur = following[cur]
        return cur.reshape(len(decisions), -1) - offsets


def tree_columns(pipeline: Pipeline) -> tuple[list[str], dict[str, list[str]]]:
    """(numeric columns, categorical columns with their known categories) the trees read."""
    columns, _ = _two_steps(pipeline)
    numeric: list[str] = []
    categorical: dict[str, list[str]] = {}
    for _, transformer, selected in _used(columns):
        if type(transformer) is OrdinalEncoder:
            for name, known in zip(selected, transformer.categories_, strict=True):
                categorical[str(name)] = [str(value) for value in known if isinstance(value, str)]
        else:
            numeric += [str(name) for name in selected]
    return numeric, categorical


def compile_trees(pipeline: Pipeline, layout: InputLayout) -> TreePart:
    """Raises UnsupportedModelError naming the first thing it does not know."""
    columns, model = _two_steps(pipeline)
    sources = _inner_sources(model, _outer_sources(columns, layout), layout)
    baseline, trees = hgb_trees(model)
    if any(tree.nodes["is_categorical"].any() for tree in trees):
        known, feature_rows = hgb_known_categories(model)
    else:
        known, feature_rows = np.zeros((0, 8), np.uint32), np.zeros(0, np.intp)
    nodes = np.concatenate([tree.nodes for tree in trees])
    sizes = [len(tree.nodes) for tree in trees]
    starts = np.cumsum([0, *sizes])[:-1].astype(np.intp)
    owner = np.repeat(np.arange(len(trees)), sizes)
    ids = np.arange(len(nodes), dtype=np.intp)
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, ids, nodes["left"].astype(np.intp) + starts[owner])
    right = np.where(leaf, ids, nodes["right"].astype(np.intp) + starts[owner])
    width = len(layout.numeric)
    numeric_deciders: dict[tuple[int, float], int] = {}  # (routed column, threshold) → decider
    slot_deciders: dict[tuple[int, bytes], int] = {}  # (categorical column, answers) → decider
    tables: list[np.ndarray] = []
    node_keys: list[tuple[str, int]] = []
    for node in np.flatnonzero(~leaf):
        source = sources[int(nodes["feature_idx"][node])]
        if source.numeric is not None:
            if nodes["is_categorical"][node]:
                raise UnsupportedModelError("a categorical split on a numeric column")
            threshold = float(nodes["num_threshold"][node])
            routed_left = bool(nodes["missing_go_to_left"][node])
            if routed_left and not threshold > -np.inf:
                raise UnsupportedModelError("a split at -inf or NaN that sends missing values left")
            key: tuple[Any, Any] = (source.numeric + width * routed_left, threshold)
            node_keys.append(("number", numeric_deciders.setdefault(key, len(numeric_deciders))))
            continue
        assert source.categorical is not None and source.slot_values is not None
        raw_left = trees[owner[node]].raw_left_cat_bitsets
        table = _slot_answers(nodes[node], source.slot_values, raw_left, known, feature_rows)
        key = (source.categorical, table.tobytes())
        if key not in slot_deciders:
            slot_deciders[key] = len(slot_deciders)
            tables.append(table)
        node_keys.append(("slot", slot_deciders[key]))
    internal_ids = np.flatnonzero(~leaf).astype(np.intp)
    node_decider = np.array(
        [index if kind == "number" else len(numeric_deciders) + index for kind, index in node_keys], dtype=np.intp
    )
    slot_shift, start = [], 0
    for (column, _), table in zip(slot_deciders, tables, strict=True):
        slot_shift.append(start - layout.categorical[column].offset)
        start += len(table)
    always_false = len(numeric_deciders) + len(slot_deciders)
    packing, leaf_table, node_bit = _leaf_tables(
        internal_ids, node_decider, always_false, owner, starts, left, right, nodes
    )
    routed = np.array([column for column, _ in numeric_deciders], dtype=np.intp)
    return TreePart(
        baseline=baseline,
        roots=starts,
        left=left,
        right=right,
        value=np.where(leaf, nodes["value"], 0.0).astype(np.float64),
        count=nodes["count"].astype(np.float64),
        internal_ids=internal_ids,
        depth=max(int(tree.nodes["depth"].max()) for tree in trees),
        number_columns=routed,
        number_sources=routed % max(width, 1),
        thresholds=np.array([threshold for _, threshold in numeric_deciders], dtype=np.float64),
        slot_columns=np.array([column for column, _ in slot_deciders], dtype=np.intp),
        slot_shift=np.array(slot_shift, dtype=np.intp),
        slot_table=np.concatenate(tables) if tables else np.zeros(0, dtype=bool),
        node_decider=node_decider,
        packing=packing,
        leaf_table=leaf_table,
        node_bit=node_bit,
    )


def _leaf_tables(
    internal_ids: np.ndarray,
    node_decider: np.ndarray,
    always_false: int,
    owner: np.ndarray,
    starts: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    nodes: np.ndarray,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """For trees of at most eight splits: the decider at each bit of its tree's byte, each byte's leaf value, and
    the bit of each node."""
    trees = len(starts)
    bit = np.full(len(nodes), -1, dtype=np.intp)
    packing = np.full(trees * 8, always_false, dtype=np.intp)  # padding reads the always-false decider
    used = np.zeros(trees, dtype=np.intp)
    for node, decider in zip(internal_ids, node_decider, strict=True):
        tree = owner[node]
        if used[tree] == 8:
            return None, None, None  # a tree with more splits: walk level by level instead
        bit[node] = used[tree]
        packing[tree * 8 + used[tree]] = decider
        used[tree] += 1
    leaf = nodes["is_leaf"].astype(bool)
    codes = np.arange(256, dtype=np.intp)
    cur = np.broadcast_to(starts[:, None], (trees, 256)).copy()
    for _ in range(int(nodes["depth"].max())):
        answer = (codes >> np.maximum(bit[cur], 0)) & 1
        cur = np.where(leaf[cur], cur, np.where(answer == 1, left[cur], right[cur]))
    return packing, nodes["value"][cur].astype(np.float64).ravel(), bit


def _slot_answers(
    node: Any, values: np.ndarray, raw_left: np.ndarray, known: np.ndarray, feature_rows: np.ndarray
) -> np.ndarray:
    """The node's answer (True: left) for each slot's encoded value, as `_predict_one_from_raw_data` gives it."""
    missing_left = bool(node["missing_go_to_left"])
    answers = np.empty(len(values), dtype=bool)
    for n, value in enumerate(values):
        if np.isnan(value):
            answers[n] = missing_left
        elif not node["is_categorical"]:
            answers[n] = value <= node["num_threshold"]
        elif value < 0:
            answers[n] = missing_left
        else:
            if value >= 256:
                raise UnsupportedModelError("a category code above 255 (scikit-learn casts it to 8 bits)")
            code = int(value)
            if _in_bitset(raw_left[int(node["bitset_idx"])], code):
                answers[n] = True
            elif _in_bitset(known[feature_rows[int(node["feature_idx"])]], code):
                answers[n] = False
            else:  # a category the trees never saw is treated as missing
                answers[n] = missing_left
    return answers


def _in_bitset(bitset: np.ndarray, code: int) -> bool:
    return bool((int(bitset[code // 32]) >> (code % 32)) & 1)


def _two_steps(pipeline: Pipeline) -> tuple[ColumnTransformer, HistGradientBoostingRegressor]:
    steps = [step for _, step in pipeline.steps]
    if (
        len(steps) != 2
        or not isinstance(steps[0], ColumnTransformer)
        or type(steps[1]) is not HistGradientBoostingRegressor
    ):
        raise UnsupportedModelError(f"a tree part of shape {[type(s).__name__ for s in steps]}")
    if steps[0].sparse_output_:
        raise UnsupportedModelError("a sparse design matrix before the trees")
    return steps[0], steps[1]


def _used(columns: ColumnTransformer) -> list[tuple[str, Any, list[str]]]:
    used = []
    for name, transformer, selected in columns.transformers_:
        if transformer == "drop" or len(selected) == 0:
            continue
        if not isinstance(selected, list) or not all(isinstance(c, str) for c in selected):
            raise UnsupportedModelError("a ColumnTransformer that selects columns other than by a list of names")
        used.append((name, transformer, selected))
    return used


def _is_identity(transformer: Any) -> bool:
    if transformer == "passthrough":
        return True
    if type(transformer) is not FunctionTransformer or transformer.kw_args:
        return False
    func = transformer.func
    return func is None or (isinstance(func, functools.partial) and func.func is check_array)


def _outer_sources(columns: ColumnTransformer, layout: InputLayout) -> list[Source]:
    sources: list[Source] = []
    frame = None
    for name, transformer, selected in _used(columns):
        if type(transformer) is OrdinalEncoder:
            frame = layout.vocabulary_frame() if frame is None else frame
            encoded = np.asarray(transformer.transform(frame[selected]), dtype=np.float64)
            for j, index in enumerate(layout.category_index(selected)):
                size = len(layout.categorical[index].vocabulary)
                sources.append(Source(categorical=int(index), slot_values=encoded[:size, j].copy()))
        elif _is_identity(transformer):
            sources += [Source(numeric=int(index)) for index in layout.numeric_index(selected)]
        elif is_derivation(transformer) and not derived_steps(transformer):  # computed by the layout
            sources.append(Source(numeric=int(layout.numeric_index([name])[0])))
        else:
            raise UnsupportedModelError(f"the tree part's column step {name!r} ({transformer!r})")
    return sources


def _inner_sources(model: HistGradientBoostingRegressor, outer: list[Source], layout: InputLayout) -> list[Source]:
    """What HGB's own preprocessor makes of the outer columns (it re-encodes the categorical ones)."""
    preprocessor = hgb_preprocessor(model)
    if preprocessor is None:
        return outer
    inner: list[Source | None] = [None] * len(outer)
    for name, transformer, selected in preprocessor.transformers_:
        indices = np.flatnonzero(selected) if np.asarray(selected).dtype == bool else np.asarray(selected, dtype=int)
        if transformer == "drop" or len(indices) == 0:
            continue
        positions = range(len(outer))[preprocessor.output_indices_[name]]
        picked = [outer[i] for i in indices]
        if type(transformer) is OrdinalEncoder:
            if any(source.slot_values is None for source in picked):
                raise UnsupportedModelError("gradient boosting treats a numeric column as categorical")
            length = max(len(s.slot_values) for s in picked if s.slot_values is not None)
            matrix = np.full((length, len(picked)), np.nan)
            for j, source in enumerate(picked):
                assert source.slot_values is not None
                matrix[: len(source.slot_values), j] = source.slot_values
            encoded = np.asarray(transformer.transform(matrix), dtype=np.float64)
            for j, (position, source) in enumerate(zip(positions, picked, strict=True)):
                assert source.slot_values is not None
                size = len(source.slot_values)
                inner[position] = Source(categorical=source.categorical, slot_values=encoded[:size, j].copy())
        elif _is_identity(transformer):
            for position, source in zip(positions, picked, strict=True):
                inner[position] = source
        else:
            raise UnsupportedModelError(f"gradient boosting's own preprocessing step {name!r} ({transformer!r})")
    if any(source is None for source in inner):
        raise UnsupportedModelError("gradient boosting's preprocessor leaves columns unaccounted for")
    return [source for source in inner if source is not None]
