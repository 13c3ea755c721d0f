"""Where the contexts of a task share tokens: a radix tree over their token sequences.

Every prefix that several contexts share and that is worth a forward pass of
its own (a task description, fixed demonstrations, the same demonstrations
drawn for several examples, a group's header) becomes a *node*: it runs once,
and the examples below it continue from its KV cache. What is left of each
context after its deepest node (at least its last token, whose logits predict
the choices' first tokens) is the example's own *leaf*.

The tree is built from the contexts sorted as token lists: the longest prefix
a set of sorted sequences shares is the smallest common prefix of neighbours,
so one pass over neighbours' common-prefix lengths finds every node.

>>> plan = plan_prefixes([[1, 2, 3, 4], [1, 2, 3, 5], [9, 8]], min_saving=1)
>>> [(n.tokens, n.start, n.users) for n in plan.nodes]
[([1, 2, 3], 0, 2)]
>>> plan.leaf_parent, plan.leaf_start
([0, 0, None], [3, 3, 0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# A shared prefix gets its own forward pass (and a cache held while its examples run) only when it saves at
# least this many tokens, (users - 1) * length: a shorter one costs more in passes than it saves in tokens.
MIN_SHARED_SAVING = 16


@dataclass(frozen=True)
class Node:
    """A prefix shared by ``users`` contexts: ``tokens`` at positions ``start`` onwards, below node ``parent``."""

    parent: int | None
    tokens: list[int]
    start: int
    users: int


@dataclass(frozen=True)
class Plan:
    """The shared nodes (parents before children) and, per context, its deepest node and where its own tokens start."""

    nodes: list[Node]
    leaf_parent: list[int | None]
    leaf_start: list[int]


def plan_prefixes(
    contexts: Sequence[Sequence[int]], share: bool = True, min_saving: int = MIN_SHARED_SAVING
) -> Plan:
    """The radix tree of ``contexts``; ``share=False`` gives every context as its own leaf (no nodes)."""
    parents: list[int | None] = [None] * len(contexts)
    starts = [0] * len(contexts)
    nodes: list[Node] = []
    if not share or len(contexts) < 2:
        return Plan(nodes, parents, starts)
    order = sorted(range(len(contexts)), key=lambda i: contexts[i])
    common = [0] + [_kept_common(contexts[a], contexts[b]) for a, b in zip(order, order[1:])]
    stack: list[tuple[int, int, int | None, int]] = [(0, len(order), None, 0)]  # (lo, hi, parent, its end)
    while stack:
        lo, hi, parent, end = stack.pop()
        if hi - lo == 1:
            parents[order[lo]], starts[order[lo]] = parent, end
            continue
        shared = min(common[lo + 1 : hi])
        if shared > end and (hi - lo - 1) * (shared - end) >= min_saving:
            nodes.append(Node(parent, list(contexts[order[lo]][end:shared]), end, hi - lo))
            parent, end = len(nodes) - 1, shared
        cuts = [lo] + [k for k in range(lo + 1, hi) if common[k] == shared] + [hi]
        stack += [(a, b, parent, end) for a, b in zip(cuts, cuts[1:]) if b > a]
    return Plan(nodes, parents, starts)


def needed_tokens(sequences: Sequence[Sequence[int]]) -> int:
    """Token positions that must run to score ``sequences``: the nodes of their trie (a shared prefix counts once).

    >>> needed_tokens([[1, 2, 3], [1, 2, 4], [5]])
    5
    """
    root: dict = {}
    count = 0
    for sequence in sequences:
        node = root
        for token in sequence:
            if token not in node:
                node[token] = {}
                count += 1
            node = node[token]
    return count


def _kept_common(a: Sequence[int], b: Sequence[int]) -> int:
    """Common prefix length of two contexts, leaving each at least one own token."""
    limit = min(len(a), len(b)) - 1
    n = 0
    while n < limit and a[n] == b[n]:
        n += 1
    return n
