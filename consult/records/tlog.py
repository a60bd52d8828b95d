"""Roots and proofs of the office's Merkle log (RFC 9162 section 2.1), computed from the hashes
of its complete subtrees (``consult.models.LogNode``).

A complete subtree is ``2**level`` leaves starting at a multiple of ``2**level``; ``node(level,
index)`` gives its hash (level 0: a leaf's hash). Any range the RFC's recursive definitions ask
for is either such a subtree or splits into them, so a root or a proof of a tree of ``n`` leaves
reads O(log n) stored hashes and computes O(log n) more. Checking proofs is
``loket_verify.verify_inclusion`` / ``verify_consistency``: the standalone verifier's code.
"""

from __future__ import annotations

from collections.abc import Callable

from .loket_verify import node_hash

Node = Callable[[int, int], bytes]
EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def split(count: int) -> int:
    """The largest power of two smaller than ``count`` (``count`` >= 2)."""
    return 1 << ((count - 1).bit_length() - 1)


def subtree(start: int, count: int, node: Node) -> bytes:
    """MTH of the leaves [start, start + count), ``count`` >= 1."""
    if count & (count - 1) == 0 and start % count == 0:
        return node(count.bit_length() - 1, start // count)
    k = split(count)
    return node_hash(subtree(start, k, node), subtree(start + k, count - k, node))


def root(size: int, node: Node) -> bytes:
    """MTH of the first ``size`` leaves."""
    return EMPTY_ROOT if size == 0 else subtree(0, size, node)


def inclusion_proof(index: int, size: int, node: Node) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 2.1.3.1, leaf end first."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    proof: list[bytes] = []
    start, count, m = 0, size, index
    # Walk down from the root, keeping the sibling of the side the leaf is on; the RFC lists
    # them from the leaf up, so the list is reversed at the end.
    while count > 1:
        k = split(count)
        if m < k:
            proof.append(subtree(start + k, count - k, node))
            count = k
        else:
            proof.append(subtree(start, k, node))
            start, count, m = start + k, count - k, m - k
    proof.reverse()
    return proof


def consistency_proof(first: int, second: int, node: Node) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162 2.1.4.1 (empty when first is 0 or equals
    second)."""
    if not 0 <= first <= second:
        raise ValueError("first must be between 0 and second")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, count, m, whole = 0, second, first, True
    while m != count:
        k = split(count)
        if m <= k:
            proof.append(subtree(start + k, count - k, node))
            count = k
        else:
            proof.append(subtree(start, k, node))
            start, count, m, whole = start + k, count - k, m - k, False
    if not whole:
        proof.append(subtree(start, count, node))
    proof.reverse()
    return proof
