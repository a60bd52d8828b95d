"""The standalone verifier (consult/records/loket_verify.py) against docs/RECORDS.md.

Its JCS encoder is held to the ``rfc8785`` package the server uses; its Merkle code to naive
versions of RFC 9162's recursive definitions written here (MTH, PATH, SUBPROOF), exhaustively for
small trees, and to forged proofs; its bundle check to a bundle built here by hand from the
formats (the chain and statements encoded with ``rfc8785``, a real Ed25519 key), then tampered
with in each way the records are meant to catch. No database: nothing here needs Django.
"""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import json
import random
import shutil
import struct
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from consult.records import loket_verify as lv


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- JCS ---------------------------------------------------------------------------------------

# Strings without lone surrogates (UTF-8 cannot hold them), integers JSON can hold exactly.
json_text = st.text(st.characters(exclude_categories=("Cs",)))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(json_text, children, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=600)
@given(json_values)
def test_canonical_matches_rfc8785(value: Any) -> None:
    assert lv.canonical(value) == rfc8785.dumps(value)


@settings(max_examples=2000)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_canonical_floats_match_rfc8785(number: float) -> None:
    assert lv.canonical(number) == rfc8785.dumps(number)


@settings(max_examples=500)
@given(st.text(st.characters(exclude_categories=("Cs",), max_codepoint=0x2FF)))
def test_canonical_strings_near_the_escapes_match_rfc8785(text: str) -> None:
    assert lv.canonical(text) == rfc8785.dumps(text)


def test_canonical_sorts_members_by_utf16_code_units() -> None:
    # RFC 8785 section 3.2.3: the emoji's surrogates (0xD83D...) sort before U+FB33.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert lv.canonical(value) == expected.encode()
    assert lv.canonical({"b": [1, {"d": None, "c": True}], "a": False}) == (
        b'{"a":false,"b":[1,{"c":true,"d":null}]}'
    )


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        # RFC 8785 appendix B (IEEE 754 bits -> ECMAScript's text).
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ],
)
def test_canonical_numbers_of_rfc8785_appendix_b(bits: str, expected: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert lv.canonical(number) == expected.encode()


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (-0.0, "0"),
        (2.0, "2"),
        (-2.5, "-2.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (123.456, "123.456"),
        (2**53, "9007199254740992"),
        (-(2**53), "-9007199254740992"),
        (0, "0"),
    ],
)
def test_canonical_numbers(number: float, expected: str) -> None:
    assert lv.canonical(number) == expected.encode()


def test_canonical_strings() -> None:
    text = '\u0000\u001f\b\t\n\f\r"\\/\u007f\u2028\u2029\U0001f600é'
    expected = '"\\u0000\\u001f\\b\\t\\n\\f\\r\\"\\\\/\u007f\u2028\u2029\U0001f600é"'
    assert lv.canonical(text) == expected.encode()
    assert lv.canonical("\u000b\u001b") == b'"\\u000b\\u001b"'


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("\ud800", ValueError),
        ("a\udfffb", ValueError),
        ({"\udc00": 1}, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (-float("inf"), ValueError),
        (2**53 + 1, ValueError),
        (-(2**53) - 1, ValueError),
        ((1, 2), TypeError),
        ({1: "a"}, TypeError),
        (b"bytes", TypeError),
        ({"a": {1, 2}}, TypeError),
    ],
)
def test_canonical_refuses(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        lv.canonical(value)


# --- Merkle: RFC 9162 section 2.1 written out naively ------------------------------------------


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0])
    k = split(len(leaves))
    return sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: list[bytes]) -> list[tuple[bytes, str]]:
    """PATH(m, D[n]) (2.1.3.1), each node with the side its sibling is on."""
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), (ref_mth(leaves[k:]), "right")]
    return [*ref_path(m - k, leaves[k:]), (ref_mth(leaves[:k]), "left")]


def ref_inclusion(m: int, leaves: list[bytes]) -> list[bytes]:
    return [node for node, _ in ref_path(m, leaves)]


def ref_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (2.1.4.1)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = split(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], complete), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def ref_consistency(m: int, leaves: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]); empty from the empty tree and between equal sizes."""
    return ref_subproof(m, leaves, True) if 0 < m < len(leaves) else []


LEAVES = [f"leaf {i}".encode() for i in range(2000)]
SMALL = 33
ROOTS = [ref_mth(LEAVES[:n]) for n in range(SMALL + 1)]
# The sides of each (index, size) inclusion path: a proof verifies for a claimed (index, size)
# exactly when that pair's path has the same sides as the pair the proof was made for.
SIDES = {
    (i, n): [side for _, side in ref_path(i, LEAVES[:n])]
    for n in range(1, SMALL + 1)
    for i in range(n)
}


def flip(node: bytes, bit: int = 0) -> bytes:
    return bytes([node[0] ^ (1 << bit)]) + node[1:]


def test_tree_root_matches_mth() -> None:
    assert lv.tree_root([]) == sha256(b"") == lv.EMPTY_ROOT
    for n in range(1, SMALL + 1):
        assert lv.tree_root(LEAVES[:n]) == ROOTS[n]
    for n in (64, 100, 257, 1000, 1999):
        assert lv.tree_root(LEAVES[:n]) == ref_mth(LEAVES[:n])


def test_inclusion_every_index_of_every_small_tree() -> None:
    for n in range(1, SMALL + 1):
        for i in range(n):
            leaf = lv.leaf_hash(LEAVES[i])
            proof = ref_inclusion(i, LEAVES[:n])
            assert lv.verify_inclusion(i, n, leaf, proof, ROOTS[n]), (i, n)
            for j in range(n):
                if j != i:
                    assert not lv.verify_inclusion(j, n, leaf, proof, ROOTS[n]), (i, j, n)
            for size in range(i + 1, SMALL + 1):
                if size != n:
                    expected = SIDES[i, size] == SIDES[i, n]
                    assert lv.verify_inclusion(i, size, leaf, proof, ROOTS[n]) == expected
            assert not lv.verify_inclusion(i, n, lv.leaf_hash(b"another"), proof, ROOTS[n])


def test_inclusion_in_larger_trees() -> None:
    rng = random.Random(9162)
    for n in (64, 65, 100, 257, 1000, 1999):
        root = ref_mth(LEAVES[:n])
        for i in {0, n - 1, *(rng.randrange(n) for _ in range(5))}:
            proof = ref_inclusion(i, LEAVES[:n])
            assert lv.verify_inclusion(i, n, lv.leaf_hash(LEAVES[i]), proof, root)
            assert not lv.verify_inclusion(i, n, lv.leaf_hash(LEAVES[i]), proof[:-1], root)


def test_consistency_every_pair_of_small_sizes() -> None:
    for n in range(SMALL + 1):
        for m in range(n + 1):
            proof = ref_consistency(m, LEAVES[:n])
            assert lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], proof), (m, n)
            # The proof fits no other old size, except that the empty proof (from 0 or
            # between equal sizes) fits both of those.
            for other in range(n + 1):
                if other != m and not (not proof and other in (0, n)):
                    assert not lv.verify_consistency(other, n, ROOTS[other], ROOTS[n], proof)
            if 0 < m < n:  # (from the empty tree, any new root is consistent)
                assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n - 1], proof)
                assert not lv.verify_consistency(m, n, flip(ROOTS[m]), ROOTS[n], proof)
            if proof:
                assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[:-1])
                assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[1:])
                assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], [*proof, proof[-1]])
                assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], [ROOTS[m], *proof])


def test_consistency_in_larger_trees() -> None:
    rng = random.Random(6962)
    for n in (64, 100, 257, 1999):
        root = ref_mth(LEAVES[:n])
        for m in {1, 32, n - 1, *(rng.randrange(1, n) for _ in range(4))}:
            proof = ref_consistency(m, LEAVES[:n])
            assert lv.verify_consistency(m, n, ref_mth(LEAVES[:m]), root, proof), (m, n)


def test_forged_inclusion_proofs_fail() -> None:
    n, i = 11, 5
    leaf, root = lv.leaf_hash(LEAVES[i]), ROOTS[n]
    proof = ref_inclusion(i, LEAVES[:n])
    assert lv.verify_inclusion(i, n, leaf, proof, root)
    for position in range(len(proof)):
        forged = list(proof)
        forged[position] = flip(forged[position], 7)
        assert not lv.verify_inclusion(i, n, leaf, forged, root)
    assert not lv.verify_inclusion(i, n, leaf, [*proof, proof[0]], root)  # appended
    assert not lv.verify_inclusion(i, n, leaf, [*proof, ROOTS[1]], root)
    assert not lv.verify_inclusion(i, n, leaf, proof[:-1], root)  # removed
    assert not lv.verify_inclusion(i, n, leaf, proof[1:], root)
    assert not lv.verify_inclusion(i + 1, n, leaf, proof, root)  # wrong index
    assert not lv.verify_inclusion(i - 1, n, leaf, proof, root)
    # A wrong size. The algorithm reads only the proof's shape from the size, and leaf 5 has
    # the same shape in every tree of 9 to 16 leaves: the root pins the size (the checkpoint
    # signs both). Sizes of another shape fail.
    assert [size for size in range(6, SMALL + 1) if SIDES[i, size] == SIDES[i, n]] == [
        *range(9, 17)
    ]
    assert not lv.verify_inclusion(i, 8, leaf, proof, root)
    assert not lv.verify_inclusion(i, 17, leaf, proof, root)
    last = ref_inclusion(n - 1, LEAVES[:n])
    assert lv.verify_inclusion(n - 1, n, lv.leaf_hash(LEAVES[n - 1]), last, root)
    assert not lv.verify_inclusion(n - 1, n + 1, lv.leaf_hash(LEAVES[n - 1]), last, root)
    assert not lv.verify_inclusion(n, n, leaf, proof, root)  # index == size
    assert not lv.verify_inclusion(n + 3, n, leaf, proof, root)
    assert not lv.verify_inclusion(-1, n, leaf, proof, root)
    assert not lv.verify_inclusion(i, n, leaf, [*proof[:-1], proof[-1][:31]], root)  # 31 bytes
    assert not lv.verify_inclusion(i, n, leaf[:31], proof, root)
    assert not lv.verify_inclusion(i, n, leaf, proof, root[:31])
    assert not lv.verify_inclusion(i, n, leaf, [*proof[:-1], proof[-1] + b"\x00"], root)
    other = lv.leaf_hash(LEAVES[i + 1])  # a proof for another leaf
    assert not lv.verify_inclusion(i, n, other, proof, root)
    assert not lv.verify_inclusion(i + 1, n, other, proof, root)
    assert not lv.verify_inclusion(i, n, leaf, ref_inclusion(i + 1, LEAVES[:n]), root)
    assert not lv.verify_inclusion(0, 1, leaf, [leaf], leaf)  # one leaf: nothing to prove
    assert lv.verify_inclusion(0, 1, leaf, [], leaf)
    assert not lv.verify_inclusion(0, 0, leaf, [], lv.EMPTY_ROOT)
    assert not lv.verify_inclusion(True, n, leaf, proof, root)


def test_forged_consistency_proofs_fail() -> None:
    m, n = 6, 13
    proof = ref_consistency(m, LEAVES[:n])
    assert lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)
    for position in range(len(proof)):
        forged = list(proof)
        forged[position] = flip(forged[position], 3)
        assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], forged)
    assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], [*proof, proof[0]])  # appended
    assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[:-1])  # removed
    assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], [])
    assert not lv.verify_consistency(m + 1, n, ROOTS[m + 1], ROOTS[n], proof)  # wrong sizes
    assert not lv.verify_consistency(m, n + 1, ROOTS[m], ref_mth(LEAVES[: n + 1]), proof)
    assert not lv.verify_consistency(n, m, ROOTS[n], ROOTS[m], proof)  # size1 > size2
    assert not lv.verify_consistency(n, m, ROOTS[n], ROOTS[m], [])
    # Equal sizes: the empty proof and the same root, nothing else.
    assert lv.verify_consistency(n, n, ROOTS[n], ROOTS[n], [])
    assert not lv.verify_consistency(n, n, ROOTS[n], ROOTS[n], [ROOTS[n]])
    assert not lv.verify_consistency(n, n, ROOTS[n], flip(ROOTS[n]), [])
    # From the empty tree: only the empty proof, and only from its root.
    assert lv.verify_consistency(0, n, lv.EMPTY_ROOT, ROOTS[n], [])
    assert not lv.verify_consistency(0, n, lv.EMPTY_ROOT, ROOTS[n], [ROOTS[n]])
    assert not lv.verify_consistency(0, n, ROOTS[1], ROOTS[n], [])
    assert lv.verify_consistency(0, 0, lv.EMPTY_ROOT, lv.EMPTY_ROOT, [])
    assert not lv.verify_consistency(0, 0, ROOTS[1], ROOTS[1], [])
    # Hashes are 32 bytes.
    assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], [*proof[:-1], proof[-1][:31]])
    assert not lv.verify_consistency(m, n, ROOTS[m][:31], ROOTS[n], proof)
    assert not lv.verify_consistency(n, n, ROOTS[n][:31], ROOTS[n][:31], [])
    # A power-of-two old tree: its root is implied, and listing it is an element too many.
    proof8 = ref_consistency(8, LEAVES[:n])
    assert lv.verify_consistency(8, n, ROOTS[8], ROOTS[n], proof8)
    assert not lv.verify_consistency(8, n, ROOTS[8], ROOTS[n], [ROOTS[8], *proof8])
    assert not lv.verify_consistency(8, n, ROOTS[8], ROOTS[n], ref_subproof(8, LEAVES[:n], False))
    # A proof from another old tree.
    assert not lv.verify_consistency(m, n, ROOTS[m], ROOTS[n], ref_consistency(m - 1, LEAVES[:n]))


# A mutation of a proof: flip a bit, drop, insert, duplicate, replace, shorten or lengthen an
# element, or swap two.
mutation = st.tuples(
    st.sampled_from(["flip", "drop", "insert", "duplicate", "replace", "short", "long", "swap"]),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
    st.binary(min_size=32, max_size=32),
)


def mutate(proof: list[bytes], mutations: list[tuple[str, int, int, bytes]]) -> list[bytes]:
    result = list(proof)
    for kind, a, b, fresh in mutations:
        if not result and kind != "insert":
            kind = "insert"
        i = a % (len(result) + 1) if kind == "insert" else a % len(result)
        if kind == "flip":
            node = bytearray(result[i] or b"\x00")  # (an element shortened to nothing)
            node[b % len(node)] ^= 1 << (b % 8)
            result[i] = bytes(node)
        elif kind == "drop":
            del result[i]
        elif kind == "insert":
            result.insert(i, fresh)
        elif kind == "duplicate":
            result.insert(i, result[i])
        elif kind == "replace":
            result[i] = fresh
        elif kind == "short":
            result[i] = result[i][: b % 32]
        elif kind == "long":
            result[i] = result[i] + fresh[: 1 + b % 31]
        else:
            j = b % len(result)
            result[i], result[j] = result[j], result[i]
    return result


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(mutation, min_size=1, max_size=3))
def test_mutated_inclusion_proofs_fail(data: st.DataObject, mutations: list[Any]) -> None:
    n = data.draw(st.integers(min_value=1, max_value=70))
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = ref_inclusion(i, LEAVES[:n])
    forged = mutate(proof, mutations)
    leaf, root = lv.leaf_hash(LEAVES[i]), ref_mth(LEAVES[:n])
    assert lv.verify_inclusion(i, n, leaf, forged, root) == (forged == proof)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(mutation, min_size=1, max_size=3))
def test_mutated_consistency_proofs_fail(data: st.DataObject, mutations: list[Any]) -> None:
    n = data.draw(st.integers(min_value=1, max_value=70))
    m = data.draw(st.integers(min_value=0, max_value=n))
    proof = ref_consistency(m, LEAVES[:n])
    forged = mutate(proof, mutations)
    root1, root2 = ref_mth(LEAVES[:m]), ref_mth(LEAVES[:n])
    assert lv.verify_consistency(m, n, root1, root2, forged) == (forged == proof)


# --- Keys and checkpoints -----------------------------------------------------------------------

ORIGIN = "loket.test/records"
TIME = "2025-03-04T10:11:12.123456Z"


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_entry(key: Ed25519PrivateKey, retired_at: str | None = None) -> dict[str, Any]:
    public = public_bytes(key)
    return {
        "key_id": hashlib.sha256(public).digest()[:8].hex(),
        "algorithm": "Ed25519",
        "public_key": b64(public),
        "created_at": TIME,
        "retired_at": retired_at,
    }


def keys_document(*keys: Ed25519PrivateKey, office: str = ORIGIN) -> dict[str, Any]:
    return {"office": office, "keys": [key_entry(key) for key in keys]}


def signature_line(key: Ed25519PrivateKey, body: str, name: str = ORIGIN) -> str:
    key_hash = sha256(name.encode() + b"\n\x01" + public_bytes(key))[:4]
    return f"\u2014 {name} {b64(key_hash + key.sign(body.encode()))}\n"


def checkpoint_note(
    key: Ed25519PrivateKey, size: int, root: bytes, *, origin: str = ORIGIN, extra: str = ""
) -> str:
    body = f"{origin}\n{size}\n{b64(root)}\ntime {TIME}\n{extra}"
    return body + "\n" + signature_line(key, body, origin)


OFFICE_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
OFFICE_KEYS = {key_entry(OFFICE_KEY)["key_id"]: public_bytes(OFFICE_KEY)}


def test_key_ids() -> None:
    public = public_bytes(OFFICE_KEY)
    assert lv.key_id(public) == hashlib.sha256(public).hexdigest()[:16]
    assert lv.note_key_hash(ORIGIN, public) == sha256(ORIGIN.encode() + b"\n\x01" + public)[:4]


def test_load_keys() -> None:
    doc = keys_document(OFFICE_KEY)
    doc["keys"].append(key_entry(OTHER_KEY, retired_at=TIME))
    office, keys = lv.load_keys(doc)
    assert office == ORIGIN
    assert keys == {
        key_entry(OFFICE_KEY)["key_id"]: public_bytes(OFFICE_KEY),
        key_entry(OTHER_KEY)["key_id"]: public_bytes(OTHER_KEY),
    }


@pytest.mark.parametrize(
    "spoil",
    [
        lambda doc: doc.update(office=""),
        lambda doc: doc.pop("office"),
        lambda doc: doc.update(keys=[]),
        lambda doc: doc.update(keys="none"),
        lambda doc: doc["keys"][0].update(key_id="0" * 16),
        lambda doc: doc["keys"][0].update(algorithm="RSA"),
        lambda doc: doc["keys"][0].update(public_key=b64(b"\x01" * 31)),
        lambda doc: doc["keys"][0].update(public_key="not base64!"),
        lambda doc: doc["keys"].append(dict(doc["keys"][0])),
        lambda doc: doc["keys"].append("key"),
    ],
)
def test_load_keys_refuses_malformed_documents(spoil: Callable[[dict[str, Any]], Any]) -> None:
    doc = keys_document(OFFICE_KEY)
    spoil(doc)
    with pytest.raises(lv.VerifyError):
        lv.load_keys(doc)


def test_statement_signature() -> None:
    statement = {"type": "seal", "key_id": key_entry(OFFICE_KEY)["key_id"], "n": 1.5}
    signature = b64(OFFICE_KEY.sign(rfc8785.dumps(statement)))
    assert lv.verify_statement_signature(statement, signature, OFFICE_KEYS)
    assert not lv.verify_statement_signature({**statement, "n": 2}, signature, OFFICE_KEYS)
    assert not lv.verify_statement_signature(statement, signature[:-4], OFFICE_KEYS)
    assert not lv.verify_statement_signature(statement, "@@@@", OFFICE_KEYS)
    other = b64(OTHER_KEY.sign(rfc8785.dumps(statement)))
    assert not lv.verify_statement_signature(statement, other, OFFICE_KEYS)
    assert not lv.verify_statement_signature({**statement, "key_id": "x"}, signature, OFFICE_KEYS)
    assert not lv.verify_statement_signature({**statement, "key_id": []}, signature, OFFICE_KEYS)
    assert lv.statement_hash(statement) == hashlib.sha256(rfc8785.dumps(statement)).hexdigest()


def test_parse_checkpoint() -> None:
    root = ROOTS[5]
    note = checkpoint_note(OFFICE_KEY, 5, root, extra="other extension\n")
    note += signature_line(OTHER_KEY, "whatever", "witness.example/w1")
    checkpoint = lv.parse_checkpoint(note)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root, checkpoint.time) == (
        ORIGIN,
        5,
        root,
        TIME,
    )
    assert checkpoint.body == f"{ORIGIN}\n5\n{b64(root)}\ntime {TIME}\nother extension\n".encode()
    assert [(name, len(key_hash), len(sig)) for name, key_hash, sig in checkpoint.signatures] == [
        (ORIGIN, 4, 64),
        ("witness.example/w1", 4, 64),
    ]
    # Unknown signers are ignored; the office's signature is the one that counts.
    assert lv.verify_checkpoint(note, ORIGIN, OFFICE_KEYS) == checkpoint
    plain = f"{ORIGIN}\n0\n{b64(lv.EMPTY_ROOT)}\n"
    assert lv.parse_checkpoint(plain + "\n" + signature_line(OFFICE_KEY, plain)).time is None
    largest = f"{ORIGIN}\n{2**64 - 1}\n{b64(root)}\n"
    assert (
        lv.parse_checkpoint(largest + "\n" + signature_line(OFFICE_KEY, largest)).size == 2**64 - 1
    )


def _good_note() -> str:
    return checkpoint_note(OFFICE_KEY, 5, ROOTS[5])


@pytest.mark.parametrize(
    "spoil",
    [
        lambda note: note.replace("\n5\n", "\n05\n"),  # a leading zero
        lambda note: note.replace("\n5\n", "\n+5\n"),
        lambda note: note.replace("\n5\n", "\n\u0665\n"),  # a non-ASCII digit
        lambda note: note.replace("\n5\n", f"\n{2**64}\n"),  # beyond uint64
        lambda note: note.replace("\n5\n", f"\n{'9' * 5000}\n"),
        lambda note: note.replace("\n5\n", "\n\n"),
        lambda note: note.replace("\n\n", "\n"),  # no blank line
        lambda note: note[:-1],  # the signature line unterminated
        lambda note: note.replace("\u2014 ", "- "),
        lambda note: note.replace("\u2014 ", "\u2014  "),
        lambda note: note.replace(b64(ROOTS[5]), b64(ROOTS[5][:31])),
        lambda note: note.replace(b64(ROOTS[5]), b64(ROOTS[5]).rstrip("=")),
        lambda note: note.replace(f"time {TIME}", "time yesterday"),
        lambda note: note.replace(f"time {TIME}\n", f"time {TIME}\ntime {TIME}\n"),
        lambda note: note.replace(ORIGIN + "\n", ORIGIN + "\r\n", 1),
        lambda note: note.replace(ORIGIN + "\n", "\n", 1),
        lambda note: note + "\n",
        lambda note: note.split("\n\n")[0] + "\n\n",  # no signature at all
        lambda note: note + "\u2014 x " + b64(b"1234") + "\n",  # a signature of no bytes
        lambda note: note + "\u2014 a+b " + b64(b"12345") + "\n",
    ],
)
def test_parse_checkpoint_is_strict(spoil: Callable[[str], str]) -> None:
    note = spoil(_good_note())
    assert note != _good_note()
    with pytest.raises(lv.VerifyError):
        lv.parse_checkpoint(note)


def test_verify_checkpoint_needs_the_office_signature() -> None:
    note = _good_note()
    assert lv.verify_checkpoint(note, ORIGIN, OFFICE_KEYS).size == 5
    with pytest.raises(lv.VerifyError):
        lv.verify_checkpoint(note, "other.example/log", OFFICE_KEYS)
    with pytest.raises(lv.VerifyError):
        lv.verify_checkpoint(checkpoint_note(OTHER_KEY, 5, ROOTS[5]), ORIGIN, OFFICE_KEYS)
    body = note.split("\n\n")[0] + "\n"
    # Signed by the office key but under another name, so with another key hash.
    with pytest.raises(lv.VerifyError):
        lv.verify_checkpoint(
            body + "\n" + signature_line(OFFICE_KEY, body, "x"), ORIGIN, OFFICE_KEYS
        )
    # The body changed after signing.
    with pytest.raises(lv.VerifyError):
        lv.verify_checkpoint(note.replace("\n5\n", "\n6\n"), ORIGIN, OFFICE_KEYS)


# --- Evidence bundles ---------------------------------------------------------------------------


def reference_entry_hash(consultation: str, entry: dict[str, Any], prev: str) -> str:
    """hex(H(JCS(E))) with E as the table in RECORDS.md lists it."""
    e = {
        "type": "entry",
        "v": 1,
        "consultation": consultation,
        "seq": entry["seq"],
        "time": entry["time"],
        "kind": entry["kind"],
        "role": entry["role"],
        "author": entry["author"],
        "event": entry["event"],
        "data": entry["data"],
        "text": entry["text_hash"],
        "prev": prev,
    }
    return hashlib.sha256(rfc8785.dumps(e)).hexdigest()


def rechain(consultation: str, entries: list[dict[str, Any]]) -> None:
    """Recompute every entry's hash in place, as a forger who can hash but not sign would."""
    prev = lv.ZERO
    for entry in entries:
        entry["hash"] = prev = reference_entry_hash(consultation, entry, prev)


def entry(
    seq: int, kind: str, role: str, text: str, *, author: int | None = None, event: str = ""
) -> dict[str, Any]:
    salt = random.randbytes(16).hex()
    return {
        "seq": seq,
        "time": f"2025-03-04T10:{seq:02d}:00.000000Z",
        "kind": kind,
        "role": role,
        "author": author,
        "event": event,
        "data": {"topic": "parkeren", "queue": 2} if kind == "event" else {},
        "text": text,
        "salt": salt,
        "text_hash": hashlib.sha256(bytes.fromhex(salt) + text.encode()).hexdigest(),
        "hash": "",
    }


def signed(statement: dict[str, Any], key: Ed25519PrivateKey = OFFICE_KEY) -> dict[str, Any]:
    return {"statement": statement, "signature": b64(key.sign(rfc8785.dumps(statement)))}


def statement_digest(statement: dict[str, Any]) -> str:
    return hashlib.sha256(rfc8785.dumps(statement)).hexdigest()


@dataclass
class Evidence:
    """A bundle built by hand, with the log it is in and the keys to check it with."""

    bundle: dict[str, Any]
    keys: dict[str, Any]
    log: list[bytes]  # the leaves: JCS of every statement of the office, in order
    consultation: str

    def statement(self, number: int) -> dict[str, Any]:
        item: dict[str, Any] = self.bundle["statements"][number - 1]
        return item


def other_seal(key_id: str) -> dict[str, Any]:
    return {
        "type": "seal",
        "v": 1,
        "office": ORIGIN,
        "consultation": str(uuid.uuid4()),
        "last_seq": 0,
        "head": lv.ZERO,
        "sealed_at": TIME,
        "key_id": key_id,
    }


def build_evidence() -> Evidence:
    """Five entries, their seal and one addendum (a rating with a comment), in a log of six
    statements of the office; the checkpoint at size 6."""
    consultation = str(uuid.uuid4())
    kid = key_entry(OFFICE_KEY)["key_id"]
    entries = [
        entry(1, "event", "system", "", event="joined"),
        entry(2, "message", "applicant", "Goedemiddag, ik heb een vraag over mijn vergunning."),
        entry(3, "message", "counselor", "Natuurlijk. Wat wilt u weten?", author=7),
        entry(4, "message", "applicant", 'Wanneer verloopt hij? \U0001f697 \u2028 "quote"\n'),
        entry(5, "event", "system", "", event="ended"),
    ]
    rechain(consultation, entries)
    seal = {
        "type": "seal",
        "v": 1,
        "office": ORIGIN,
        "consultation": consultation,
        "last_seq": 5,
        "head": entries[-1]["hash"],
        "sealed_at": "2025-03-04T10:06:00.000000Z",
        "key_id": kid,
    }
    comment_salt = random.randbytes(16).hex()
    comment = "Snel en vriendelijk geholpen."
    addendum = {
        "type": "addendum",
        "v": 1,
        "office": ORIGIN,
        "consultation": consultation,
        "n": 1,
        "prev": statement_digest(seal),
        "time": "2025-03-04T10:07:00.000000Z",
        "key_id": kid,
        "record": {
            "kind": "rating",
            "stars": 4,
            "comment": hashlib.sha256(bytes.fromhex(comment_salt) + comment.encode()).hexdigest(),
            "comment_salt_id": 1,
        },
    }
    statements = [
        other_seal(kid),
        seal,
        other_seal(kid),
        other_seal(kid),
        addendum,
        other_seal(kid),
    ]
    log = [rfc8785.dumps(statement) for statement in statements]
    items = []
    for statement, index in ((seal, 1), (addendum, 4)):
        item = signed(statement)
        item["log_index"] = index
        item["inclusion_proof"] = [b64(node) for node in ref_inclusion(index, log)]
        items.append(item)
    items[1]["texts"] = {"comment": {"text": comment, "salt": comment_salt}}
    bundle = {
        "format": "loket.evidence/1",
        "office": ORIGIN,
        "consultation": consultation,
        "entries": entries,
        "statements": items,
        "checkpoint": checkpoint_note(OFFICE_KEY, len(log), ref_mth(log)),
        "keys": [key_entry(OTHER_KEY)],  # not to be trusted: the verifier ignores it
    }
    return Evidence(bundle, keys_document(OFFICE_KEY), log, consultation)


@pytest.fixture
def evidence() -> Evidence:
    return build_evidence()


def found(report: lv.Report) -> list[tuple[str, str]]:
    return [(failure.code, failure.where) for failure in report.failures]


def reseal(evidence: Evidence, **changes: Any) -> None:
    """Re-sign the seal with ``changes`` (as the office's key would), and make the rest of the
    evidence agree with it: the addendum's prev, the log, the proofs and the checkpoint."""
    seal = evidence.statement(1)["statement"]
    seal.update(changes)
    evidence.statement(1)["signature"] = signed(seal)["signature"]
    addendum = evidence.statement(2)["statement"]
    addendum["prev"] = statement_digest(seal)
    evidence.statement(2)["signature"] = signed(addendum)["signature"]
    relog(evidence)


def relog(evidence: Evidence) -> None:
    """Put the bundle's statements in the log again, with new proofs and a new checkpoint."""
    for item in evidence.bundle["statements"]:
        evidence.log[item["log_index"]] = rfc8785.dumps(item["statement"])
    for item in evidence.bundle["statements"]:
        proof = ref_inclusion(item["log_index"], evidence.log)
        item["inclusion_proof"] = [b64(node) for node in proof]
    root = ref_mth(evidence.log)
    evidence.bundle["checkpoint"] = checkpoint_note(OFFICE_KEY, len(evidence.log), root)


def test_the_bundle_verifies(evidence: Evidence) -> None:
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert report.failures == []
    assert report.ok
    assert report.notes == []
    assert (report.consultation, report.entries, report.statements, report.tree_size) == (
        evidence.consultation,
        5,
        2,
        6,
    )
    # The verifier's own entry hashes are the reference ones.
    prev = lv.ZERO
    for item in evidence.bundle["entries"]:
        assert lv.entry_hash(evidence.consultation, item, prev) == item["hash"]
        prev = item["hash"]


def test_withheld_texts_are_noted(evidence: Evidence) -> None:
    for item in evidence.bundle["entries"][1:3]:
        item["text"] = item["salt"] = None
    del evidence.statement(2)["texts"]
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert report.ok
    assert report.notes == [
        "2 text(s) not in the bundle (withheld or purged): seq 2, 3; their hashes are taken as "
        "given"
    ]


def test_a_consultation_without_entries(evidence: Evidence) -> None:
    evidence.bundle["entries"] = []
    reseal(evidence, last_seq=0, head=lv.ZERO)
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert report.failures == []
    reseal(evidence, head="1" * 64)
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("head_mismatch", "statement 1 (seal)")
    ]


def test_a_retired_key_still_verifies(evidence: Evidence) -> None:
    evidence.keys["keys"][0]["retired_at"] = TIME
    evidence.keys["keys"].insert(0, key_entry(OTHER_KEY))
    assert lv.verify_bundle(evidence.bundle, evidence.keys).ok


def test_a_changed_text(evidence: Evidence) -> None:
    evidence.bundle["entries"][2]["text"] = "Natuurlijk. Dat kan niet."
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [("text_changed", "seq 3")]


def test_a_changed_text_with_its_hash(evidence: Evidence) -> None:
    changed = evidence.bundle["entries"][2]
    changed["text"] = "Natuurlijk. Dat kan niet."
    changed["text_hash"] = lv.text_hash(changed["salt"], changed["text"])
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert found(report) == [("hash_mismatch", "seq 3")]
    assert "later entries" in report.failures[0].message
    # Rehashing the changed entry moves the divergence to the next one; rehashing all of them
    # leaves the chain consistent, but it is not the one the office sealed.
    rechain(evidence.consultation, evidence.bundle["entries"][:3])
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [("hash_mismatch", "seq 4")]
    rechain(evidence.consultation, evidence.bundle["entries"])
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("head_mismatch", "statement 1 (seal)")
    ]


def test_a_changed_rating_comment(evidence: Evidence) -> None:
    evidence.statement(2)["texts"]["comment"]["text"] = "Slecht geholpen."
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("text_changed", "statement 2 (addendum n=1)")
    ]


def test_a_deleted_entry(evidence: Evidence) -> None:
    del evidence.bundle["entries"][2]
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("seq_gap", "seq 4"),
        ("hash_mismatch", "seq 4"),
    ]


def test_a_deleted_entry_renumbered_and_rechained(evidence: Evidence) -> None:
    entries = evidence.bundle["entries"]
    del entries[2]
    for seq, item in enumerate(entries, 1):
        item["seq"] = seq
    rechain(evidence.consultation, entries)
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("truncated", "statement 1 (seal)")
    ]


def test_two_entries_swapped(evidence: Evidence) -> None:
    entries = evidence.bundle["entries"]
    entries[1], entries[2] = entries[2], entries[1]
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("seq_order", "seq 2"),
        ("hash_mismatch", "seq 3"),
    ]
    rechain(evidence.consultation, entries)
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("seq_order", "seq 2"),
        ("head_mismatch", "statement 1 (seal)"),
    ]


def test_an_inserted_entry(evidence: Evidence) -> None:
    entries = evidence.bundle["entries"]
    entries.insert(2, entry(3, "message", "counselor", "U krijgt de vergunning.", author=7))
    entries[2]["hash"] = reference_entry_hash(evidence.consultation, entries[2], entries[1]["hash"])
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("seq_duplicate", "seq 3"),
        ("hash_mismatch", "seq 3"),
    ]
    # Renumbered and rechained: the chain holds, but the seal does not cover it.
    for seq, item in enumerate(entries, 1):
        item["seq"] = seq
    rechain(evidence.consultation, entries)
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("extra_entries", "statement 1 (seal)"),
        ("head_mismatch", "statement 1 (seal)"),
    ]


def test_an_entry_appended_after_the_seal(evidence: Evidence) -> None:
    entries = evidence.bundle["entries"]
    entries.append(entry(6, "message", "applicant", "Nog een vraag."))
    entries[5]["hash"] = reference_entry_hash(evidence.consultation, entries[5], entries[4]["hash"])
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("extra_entries", "statement 1 (seal)")
    ]


def test_seq_gaps(evidence: Evidence) -> None:
    entries = evidence.bundle["entries"]
    entries[1]["seq"], entries[3]["seq"] = 7, 10**18
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    # 1 7 3 1e18 5: 2, 4 and 6 never come, nor 8 to 1e18 - 1; 3 and 5 come late.
    assert [(f.code, f.where, f.message) for f in report.failures if f.code.startswith("seq_")] == [
        ("seq_gap", "seq 7", "3 of seq 2 to 6 are missing before seq 7: entries were removed"),
        ("seq_order", "seq 3", "seq 3 comes after seq 7"),
        (
            "seq_gap",
            f"seq {10**18}",
            f"seq 8 to {10**18 - 1} are missing before seq {10**18}: entries were removed",
        ),
        ("seq_order", "seq 5", f"seq 5 comes after seq {10**18}"),
    ]
    entries[1]["seq"], entries[3]["seq"] = 4, 2  # 1 4 3 2 5: out of order, nothing missing
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert [f.where for f in report.failures if f.code.startswith("seq_")] == ["seq 3", "seq 2"]
    entries[1]["seq"], entries[3]["seq"] = 5, 3  # 1 5 3 3 5: 2 and 4 missing
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert [(f.code, f.where, f.message) for f in report.failures if f.code.startswith("seq_")] == [
        ("seq_gap", "seq 5", "2 of seq 2 to 4 are missing before seq 5: entries were removed"),
        ("seq_order", "seq 3", "seq 3 comes after seq 5"),
        ("seq_duplicate", "seq 3", "two entries are numbered 3"),
        ("seq_duplicate", "seq 5", "two entries are numbered 5"),
    ]


def test_truncated_entries(evidence: Evidence) -> None:
    del evidence.bundle["entries"][3:]
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert found(report) == [("truncated", "statement 1 (seal)")]
    assert "seq 1 to 5" in report.failures[0].message


def test_seal_resigned_with_another_key(evidence: Evidence) -> None:
    seal_item = evidence.statement(1)
    seal_item["statement"]["key_id"] = key_entry(OTHER_KEY)["key_id"]
    seal_item["signature"] = signed(seal_item["statement"], OTHER_KEY)["signature"]
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("unknown_key", "statement 1 (seal)"),
        ("addendum_chain", "statement 2 (addendum n=1)"),
        ("not_in_log", "statement 1 (seal)"),
    ]


def test_seal_signed_by_another_key_under_the_office_key_id(evidence: Evidence) -> None:
    seal_item = evidence.statement(1)
    seal_item["signature"] = signed(seal_item["statement"], OTHER_KEY)["signature"]
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("bad_signature", "statement 1 (seal)")
    ]


def test_a_changed_seal(evidence: Evidence) -> None:
    evidence.statement(1)["statement"]["last_seq"] = 4
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("extra_entries", "statement 1 (seal)"),
        ("head_mismatch", "statement 1 (seal)"),
        ("bad_signature", "statement 1 (seal)"),
        ("addendum_chain", "statement 2 (addendum n=1)"),
        ("not_in_log", "statement 1 (seal)"),
    ]


def test_a_seal_of_another_consultation_or_office(evidence: Evidence) -> None:
    reseal(evidence, consultation=str(uuid.uuid4()))
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("consultation_mismatch", "statement 1 (seal)")
    ]
    reseal(evidence, consultation=evidence.consultation, office="other.example/log")
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("office_mismatch", "statement 1 (seal)")
    ]


def test_the_addendum_chain(evidence: Evidence) -> None:
    addendum = evidence.statement(2)["statement"]
    addendum["n"] = 2
    evidence.statement(2)["signature"] = signed(addendum)["signature"]
    relog(evidence)
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("addendum_chain", "statement 2 (addendum n=2)")
    ]
    addendum["n"], addendum["prev"] = 1, "ab" * 32
    evidence.statement(2)["signature"] = signed(addendum)["signature"]
    relog(evidence)
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("addendum_chain", "statement 2 (addendum n=1)")
    ]


def test_a_missing_seal(evidence: Evidence) -> None:
    del evidence.bundle["statements"][0]
    assert ("not_sealed", "statement 1 (addendum n=1)") in found(
        lv.verify_bundle(evidence.bundle, evidence.keys)
    )
    evidence.bundle["statements"] = []
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [("not_sealed", "statements")]


def test_a_forged_inclusion_proof(evidence: Evidence) -> None:
    proof = evidence.statement(2)["inclusion_proof"]
    proof[1] = b64(flip(base64.b64decode(proof[1])))
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("not_in_log", "statement 2 (addendum n=1)")
    ]


def test_a_wrong_log_index(evidence: Evidence) -> None:
    evidence.statement(1)["log_index"] = 2
    evidence.statement(2)["log_index"] = 6  # beyond the checkpoint's tree
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("not_in_log", "statement 1 (seal)"),
        ("not_in_log", "statement 2 (addendum n=1)"),
    ]


def test_a_statement_missing_from_the_log(evidence: Evidence) -> None:
    # The office logs a different seal in its place: the bundle's cannot be shown in the log.
    logged_seal = dict(evidence.statement(1)["statement"], sealed_at=TIME)
    evidence.log[1] = rfc8785.dumps(logged_seal)
    evidence.bundle["checkpoint"] = checkpoint_note(
        OFFICE_KEY, len(evidence.log), ref_mth(evidence.log)
    )
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("not_in_log", "statement 1 (seal)"),
        ("not_in_log", "statement 2 (addendum n=1)"),
    ]


def test_a_checkpoint_signed_by_another_key(evidence: Evidence) -> None:
    evidence.bundle["checkpoint"] = checkpoint_note(
        OTHER_KEY, len(evidence.log), ref_mth(evidence.log)
    )
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert found(report) == [("bad_checkpoint", "checkpoint")]
    assert report.tree_size is None
    assert report.notes == ["inclusion in the log is not checked: the checkpoint is not valid"]


def test_a_checkpoint_of_another_log(evidence: Evidence) -> None:
    evidence.bundle["checkpoint"] = checkpoint_note(
        OFFICE_KEY, len(evidence.log), ref_mth(evidence.log), origin="other.example/log"
    )
    assert found(lv.verify_bundle(evidence.bundle, evidence.keys)) == [
        ("bad_checkpoint", "checkpoint")
    ]


def test_a_bundle_of_another_office(evidence: Evidence) -> None:
    report = lv.verify_bundle(evidence.bundle, keys_document(OFFICE_KEY, office="other.example/x"))
    assert found(report) == [
        ("office_mismatch", "bundle"),
        ("office_mismatch", "statement 1 (seal)"),
        ("office_mismatch", "statement 2 (addendum n=1)"),
        ("bad_checkpoint", "checkpoint"),
    ]


def test_the_bundles_own_keys_are_not_trusted(evidence: Evidence) -> None:
    """A forger signs with their key and puts it in the bundle: the given keys decide."""
    forged_keys = keys_document(OTHER_KEY)
    for item in evidence.bundle["statements"]:
        item["statement"]["key_id"] = forged_keys["keys"][0]["key_id"]
        item["signature"] = signed(item["statement"], OTHER_KEY)["signature"]
    evidence.bundle["keys"] = forged_keys["keys"]
    failures = found(lv.verify_bundle(evidence.bundle, evidence.keys))
    assert ("unknown_key", "statement 1 (seal)") in failures
    assert ("unknown_key", "statement 2 (addendum n=1)") in failures


def older_evidence(evidence: Evidence, log: list[bytes]) -> tuple[str, dict[str, Any]]:
    """An older checkpoint over ``log`` and the office's consistency proof from its size to
    the bundle's checkpoint (computed from the office's current log)."""
    older = checkpoint_note(OFFICE_KEY, len(log), ref_mth(log))
    proof = ref_consistency(len(log), evidence.log)
    return older, {"first": len(log), "second": len(evidence.log), "proof": [b64(p) for p in proof]}


def test_the_log_grew_from_an_older_checkpoint(evidence: Evidence) -> None:
    for size in (0, 1, 3, 4, 6):
        older, consistency = older_evidence(evidence, evidence.log[:size])
        report = lv.verify_bundle(
            evidence.bundle, evidence.keys, older_checkpoint=older, consistency=consistency
        )
        assert report.failures == [], size


def test_a_log_rewritten_after_an_older_checkpoint(evidence: Evidence) -> None:
    # The older checkpoint saw a first statement the office has since replaced.
    rewritten = [rfc8785.dumps(other_seal("0" * 16)), *evidence.log[1:3]]
    older, consistency = older_evidence(evidence, rewritten)
    report = lv.verify_bundle(
        evidence.bundle, evidence.keys, older_checkpoint=older, consistency=consistency
    )
    assert found(report) == [("log_rewritten", "log")]
    assert "not an extension of the older checkpoint" in report.failures[0].message
    # A forged proof against the true older checkpoint fails as well.
    older, consistency = older_evidence(evidence, evidence.log[:3])
    consistency["proof"][0] = b64(flip(base64.b64decode(consistency["proof"][0])))
    report = lv.verify_bundle(
        evidence.bundle, evidence.keys, older_checkpoint=older, consistency=consistency
    )
    assert found(report) == [("log_rewritten", "log")]
    # So does a fork at the same size.
    older = checkpoint_note(OFFICE_KEY, 6, ref_mth([*rewritten, *evidence.log[3:]]))
    consistency = {"first": 6, "second": 6, "proof": []}
    report = lv.verify_bundle(
        evidence.bundle, evidence.keys, older_checkpoint=older, consistency=consistency
    )
    assert found(report) == [("log_rewritten", "log")]


def test_an_older_checkpoint_that_does_not_fit(evidence: Evidence) -> None:
    older, consistency = older_evidence(evidence, evidence.log[:3])

    def check(older: Any, consistency: Any) -> list[tuple[str, str]]:
        return found(
            lv.verify_bundle(
                evidence.bundle, evidence.keys, older_checkpoint=older, consistency=consistency
            )
        )

    assert check(older, {**consistency, "first": 2}) == [("bad_input", "log")]
    assert check(older, {**consistency, "second": 7}) == [("bad_input", "log")]
    assert check(older, None) == [("bad_input", "log")]
    assert check(None, consistency) == [("bad_input", "log")]
    assert check(older, {**consistency, "proof": ["AAAA"]}) == [("bad_input", "log")]
    assert check(older, ["first", "second"]) == [("bad_input", "log")]
    other = checkpoint_note(OTHER_KEY, 3, ref_mth(evidence.log[:3]))
    assert check(other, consistency) == [("bad_checkpoint", "older checkpoint")]
    assert check(12, consistency) == [("bad_checkpoint", "older checkpoint")]
    larger = checkpoint_note(OFFICE_KEY, 7, ref_mth([*evidence.log, evidence.log[0]]))
    assert check(larger, {"first": 7, "second": 6, "proof": []}) == [("bad_input", "log")]


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def spoil(bundle: dict[str, Any]) -> None:
        target: Any = bundle
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return spoil


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def spoil(bundle: dict[str, Any]) -> None:
        target: Any = bundle
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return spoil


@pytest.mark.parametrize(
    ("spoil", "where"),
    [
        (_set(("format",), "loket.evidence/2"), "bundle"),
        (_set(("consultation",), "not-a-uuid"), "bundle"),
        (_set(("office",), None), "bundle"),
        (_set(("entries",), {"1": {}}), "bundle"),
        (_set(("entries", 1), "entry"), "entry 2"),
        (_delete(("entries", 1, "time")), "seq 2"),
        (_set(("entries", 1, "seq"), "2"), "entry 2"),
        (_set(("entries", 1, "seq"), True), "entry 2"),
        (_set(("entries", 1, "seq"), 0), "seq 0"),
        (_set(("entries", 1, "author"), "7"), "seq 2"),
        (_set(("entries", 1, "data"), []), "seq 2"),
        (_set(("entries", 1, "salt"), "zz" * 16), "seq 2"),
        (_set(("entries", 1, "salt"), "AB" * 16), "seq 2"),
        (_set(("entries", 1, "salt"), None), "seq 2"),
        (_set(("entries", 1, "text"), None), "seq 2"),
        (_set(("entries", 1, "text"), "\ud800"), "seq 2"),
        (_set(("entries", 1, "text_hash"), "AB" * 32), "seq 2"),
        (_set(("entries", 1, "hash"), 12), "seq 2"),
        (_set(("entries", 1, "data"), {"n": 2**60}), "seq 2"),
        (_set(("entries", 1, "data"), {"x": "\udc00"}), "seq 2"),
        (_set(("statements",), "seal"), "bundle"),
        (_set(("statements", 0), []), "statement 1"),
        (_delete(("statements", 0, "statement")), "statement 1"),
        (_delete(("statements", 0, "signature")), "statement 1 (seal)"),
        (_set(("statements", 0, "signature"), "!!not base64!!"), "statement 1 (seal)"),
        (_set(("statements", 0, "signature"), b64(b"short")), "statement 1 (seal)"),
        (_set(("statements", 0, "log_index"), -1), "statement 1 (seal)"),
        (_set(("statements", 0, "log_index"), "1"), "statement 1 (seal)"),
        (_set(("statements", 0, "inclusion_proof"), "AAAA"), "statement 1 (seal)"),
        (_set(("statements", 0, "inclusion_proof", 0), b64(b"\x00" * 31)), "statement 1 (seal)"),
        (_set(("statements", 0, "statement", "v"), 2), "statement 1 (seal)"),
        (_set(("statements", 0, "statement", "type"), "stamp"), "statement 1"),
        (_set(("statements", 0, "statement", "last_seq"), -1), "statement 1 (seal)"),
        (_set(("statements", 0, "statement", "head"), "00"), "statement 1 (seal)"),
        (_set(("statements", 0, "statement", "key_id"), ["x"]), "statement 1 (seal)"),
        (
            _set(("statements", 0, "texts"), {"comment": {"text": "x", "salt": "00" * 16}}),
            "statement 1 (seal)",
        ),
        (_delete(("statements", 1, "statement", "record")), "statement 2 (addendum n=1)"),
        (
            _set(("statements", 1, "statement", "record"), {"stars": 5}),
            "statement 2 (addendum n=1)",
        ),
        (_set(("statements", 1, "statement", "n"), "1"), "statement 2"),
        (_set(("statements", 1, "texts"), ["comment"]), "statement 2 (addendum n=1)"),
        (_set(("statements", 1, "texts", "comment"), "Snel."), "statement 2 (addendum n=1)"),
        (_set(("statements", 1, "texts", "comment", "salt"), 5), "statement 2 (addendum n=1)"),
        (
            _set(("statements", 1, "texts", "stars"), {"text": "x", "salt": "00" * 16}),
            "statement 2 (addendum n=1)",
        ),
        (_set(("checkpoint",), {"size": 6}), "checkpoint"),
    ],
)
def test_malformed_members_are_bad_input(
    evidence: Evidence, spoil: Callable[[dict[str, Any]], None], where: str
) -> None:
    spoil(evidence.bundle)
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert ("bad_input", where) in found(report), found(report)
    assert not report.ok


def test_a_malformed_consultation_id_is_not_repeated(evidence: Evidence) -> None:
    evidence.bundle["consultation"] = "x\nFAIL forged\ud800"
    report = lv.verify_bundle(evidence.bundle, evidence.keys)
    assert ("bad_input", "bundle") in found(report)
    assert {failure.consultation for failure in report.failures} == {"?"}
    assert report.consultation == "?"


def test_malformed_documents_are_bad_input(evidence: Evidence) -> None:
    assert found(lv.verify_bundle([evidence.bundle], evidence.keys)) == [("bad_input", "bundle")]
    report = lv.verify_bundle(evidence.bundle, {"office": ORIGIN, "keys": []})
    assert found(report) == [("bad_input", "keys")]
    assert found(lv.verify_bundle(None, None)) == [("bad_input", "keys"), ("bad_input", "bundle")]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member and item of a JSON value, as paths from its root."""
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    else:
        return []
    found: list[tuple[Any, ...]] = []
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


GOOD = build_evidence()
GOOD_PATHS = _paths(GOOD.bundle)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(GOOD_PATHS), json_values)
def test_any_member_replaced_is_caught_without_an_exception(
    path: tuple[Any, ...], value: Any
) -> None:
    bundle = copy.deepcopy(GOOD.bundle)
    target: Any = bundle
    for step in path[:-1]:
        target = target[step]
    assume(target[path[-1]] != value)
    target[path[-1]] = value
    report = lv.verify_bundle(bundle, GOOD.keys)
    withheld = path[-1] == "texts" and value == {}
    if path[0] != "keys" and not withheld:
        assert not report.ok


# --- The command line ---------------------------------------------------------------------------


def write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return str(path)


def test_cli_valid(evidence: Evidence, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = write(tmp_path, "bundle.json", evidence.bundle)
    keys = write(tmp_path, "keys.json", evidence.keys)
    assert lv.main([bundle, "--keys", keys]) == 0
    assert capsys.readouterr().out == (
        f"VALID: consultation {evidence.consultation}, 5 entries, 2 statements, "
        "in the log at tree size 6\n"
    )
    older, consistency = older_evidence(evidence, evidence.log[:4])
    argv = [
        bundle,
        "--keys",
        keys,
        "--older-checkpoint",
        write(tmp_path, "old.txt", older),
        "--consistency",
        write(tmp_path, "proof.json", consistency),
    ]
    assert lv.main(argv) == 0
    assert capsys.readouterr().out.startswith("VALID: ")


def test_cli_invalid(
    evidence: Evidence, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence.bundle["entries"][2]["text"] = "changed"
    del evidence.bundle["entries"][4]
    bundle = write(tmp_path, "bundle.json", evidence.bundle)
    keys = write(tmp_path, "keys.json", evidence.keys)
    assert lv.main([bundle, "--keys", keys]) == 1
    lines = capsys.readouterr().out.splitlines()
    cid = evidence.consultation
    assert lines[0] == f"FAIL {cid} seq 3: text_changed: the text does not match its salted hash"
    assert lines[1].startswith(f"FAIL {cid} statement 1 (seal): truncated: ")
    assert lines[2] == "INVALID: 2 problem(s)"
    good = build_evidence()
    older, consistency = older_evidence(good, [rfc8785.dumps(other_seal("0" * 16))])
    argv = [
        write(tmp_path, "good.json", good.bundle),
        "--keys",
        keys,
        "--older-checkpoint",
        write(tmp_path, "old.txt", older),
        "--consistency",
        write(tmp_path, "proof.json", consistency),
    ]
    assert lv.main(argv) == 1
    assert ": log_rewritten: " in capsys.readouterr().out


def test_cli_unreadable_input(
    evidence: Evidence, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = write(tmp_path, "bundle.json", evidence.bundle)
    keys = write(tmp_path, "keys.json", evidence.keys)
    missing = str(tmp_path / "missing.json")
    not_json = write(tmp_path, "not.json", "{")
    twice = write(tmp_path, "twice.json", '{"format": "a", "format": "b"}')
    nan = write(tmp_path, "nan.json", '{"office": NaN}')
    (tmp_path / "latin1.json").write_bytes(b'{"office": "\xe9"}')
    latin1 = str(tmp_path / "latin1.json")
    older = write(tmp_path, "old.txt", _good_note())
    assert lv.main([missing, "--keys", keys]) == 2
    assert lv.main([bundle, "--keys", missing]) == 2
    assert lv.main([not_json, "--keys", keys]) == 2
    assert lv.main([bundle, "--keys", twice]) == 2
    assert lv.main([nan, "--keys", keys]) == 2
    assert lv.main([latin1, "--keys", keys]) == 2
    assert lv.main([bundle, "--keys", keys, "--older-checkpoint", older]) == 2
    argv = [bundle, "--keys", keys, "--older-checkpoint", missing, "--consistency", keys]
    assert lv.main(argv) == 2
    assert lv.main([bundle]) == 2
    assert lv.main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "missing.json" in captured.err
    # JSON that is not a bundle is read, and is invalid.
    assert lv.main([write(tmp_path, "list.json", [1]), "--keys", keys]) == 1


def test_runs_as_a_standalone_file(evidence: Evidence, tmp_path: Path) -> None:
    """The file needs nothing but the standard library and cryptography: it runs on its own."""
    source = Path(lv.__file__)
    tree = ast.parse(source.read_text("utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported - set(sys.stdlib_module_names) == {"cryptography"}
    copied = tmp_path / "loket_verify.py"
    shutil.copy(source, copied)
    bundle = write(tmp_path, "bundle.json", evidence.bundle)
    keys = write(tmp_path, "keys.json", evidence.keys)
    done = subprocess.run(
        [sys.executable, "-I", str(copied), bundle, "--keys", keys],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"VALID: consultation {evidence.consultation}, ")
