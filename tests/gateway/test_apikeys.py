"""API key hashing, parsing and lookup."""

from __future__ import annotations

import re

import pytest

from fastn_gen.gateway.apikeys import (
    ApiKeyIndex,
    KeyEntry,
    KeyHashError,
    generate_api_key,
    hash_api_key,
    is_generated_key,
    key_id,
    parse_key_hash,
)


def entry(tenant: str, key: str, kid: str | None = None) -> KeyEntry:
    return KeyEntry(tenant, kid or key_id(key) or "label", parse_key_hash(hash_api_key(key)))


def test_generated_keys_have_a_public_id_and_a_random_secret() -> None:
    key, line = generate_api_key("acme")
    found = re.fullmatch(r"fgk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})", key)
    assert found is not None and is_generated_key(key)
    kid = found.group(1)
    assert key_id(key) == kid
    assert line.startswith(f'- {{id: "{kid}", hash: "scrypt$16384$8$1$')
    assert line.endswith('"}  # tenant acme')
    assert found.group(2) not in line
    assert generate_api_key("acme")[0] != key


def test_hashes_are_salted_and_verify() -> None:
    first, second = hash_api_key("demo-acme-key"), hash_api_key("demo-acme-key")
    assert first != second and first.startswith("sha256$")
    for text in (first, second):
        h = parse_key_hash(text)
        assert h.matches("demo-acme-key")
        assert not h.matches("demo-acme-kez")
        assert not h.matches("")


def test_generated_keys_use_scrypt() -> None:
    key, _ = generate_api_key("acme")
    h = parse_key_hash(hash_api_key(key))
    assert (h.scheme, h.n, h.r, h.p) == ("scrypt", 2**14, 8, 1)
    assert h.matches(key)
    assert not h.matches(key[:-1] + ("A" if key[-1] != "A" else "B"))


@pytest.mark.parametrize("bad", ["", " key", "key\n"])
def test_hash_refuses_empty_or_padded_keys(bad: str) -> None:
    with pytest.raises(ValueError):
        hash_api_key(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("md5$aa$bb", "expected scrypt"),
        ("scrypt$1000$8$1$c2FsdHNhbHQ$" + "A" * 43, "power of two"),
        ("scrypt$4194304$8$1$c2FsdHNhbHQ$" + "A" * 43, "out of range"),
        ("scrypt$16384$99$1$c2FsdHNhbHQ$" + "A" * 43, "out of range"),
        ("scrypt$x$8$1$c2FsdHNhbHQ$" + "A" * 43, "bad number or base64"),
        ("sha256$!!!$" + "A" * 43, "bad number or base64"),
        ("sha256$c2FsdHNhbHQ$AAAA", "32 bytes"),
        ("sha256$YQ$" + "A" * 43, "salt must be at least 8 bytes"),
    ],
)
def test_malformed_hashes(text: str, message: str) -> None:
    with pytest.raises(KeyHashError, match=re.escape(message)):
        parse_key_hash(text)


def test_generated_keys_are_found_by_id_without_scanning() -> None:
    key, _ = generate_api_key("acme")
    others = [entry(f"t{i}", f"legacy-key-number-{i:03d}") for i in range(100)]
    index = ApiKeyIndex([*others, entry("acme", key)])
    assert index.lookup(key) == "acme"
    assert index.stats.verifications == 1
    # A generated-looking key is never checked against the scanned entries.
    forged = f"fgk_{'0' * 12}_{'x' * 43}"
    assert index.lookup(forged) is None
    assert index.stats.verifications == 1


def test_other_keys_are_found_by_scanning() -> None:
    index = ApiKeyIndex([entry(f"t{i}", f"legacy-key-number-{i:03d}") for i in range(50)])
    assert index.lookup("legacy-key-number-042") == "t42"
    assert index.stats.verifications == 50
    assert index.lookup("legacy-key-number-999") is None


def test_results_are_cached_in_a_bounded_lru() -> None:
    keys = [generate_api_key("acme")[0] for _ in range(3)]
    index = ApiKeyIndex([entry("acme", k) for k in keys], cache_size=2)
    for _ in range(50):
        assert index.lookup(keys[0]) == "acme"
    stats = index.stats
    assert (stats.misses, stats.hits, stats.verifications) == (1, 49, 1)
    index.lookup(keys[1])
    index.lookup(keys[2])  # evicts keys[0], the least recently used
    assert index.stats.cached == 2
    index.lookup(keys[0])
    assert index.stats.verifications == 4
    index.lookup(keys[2])
    assert index.stats.verifications == 4


def test_wrong_secret_for_a_known_id_is_refused() -> None:
    key, _ = generate_api_key("acme")
    index = ApiKeyIndex([entry("acme", key)])
    kid = key_id(key)
    assert index.lookup(f"fgk_{kid}_{'y' * 43}") is None
    assert index.lookup("") is None


def test_cached_answers_only_keys_checked_before() -> None:
    key = generate_api_key("acme")[0]
    index = ApiKeyIndex([entry("acme", key)])
    assert index.cached(key) == (False, None)  # never checked: the caller must verify
    assert index.stats.verifications == 0
    assert index.lookup(key) == "acme"
    known, found = index.cached(key)
    assert known and found is not None and found.tenant_id == "acme"
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert index.lookup(wrong) is None
    assert index.cached(wrong) == (True, None)  # a refused key stays refused
    assert index.stats.verifications == 2
