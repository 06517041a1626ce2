"""The value cache on its own: what it vouches for, what it never stores, and its file."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import pytest

from reconciler.fingerprint import derive_key
from reconciler.model import RemoteSecret, RemoteState, Sensitive
from reconciler.valuecache import FORMAT, Entry, ValueCache, cache_file

KEY = derive_key(b"k" * 32, "value-cache")
OTHER_KEY = derive_key(b"o" * 32, "value-cache")
VALUE = "CANARY-5b1e0f8a-value-cache-canary"
SITE = "https://www.wixapis.com site-1"


def secret(updated: str = "2026-01-01T00:00:00.000Z", id: str = "id-1", name: str = "API_KEY") -> RemoteSecret:
    return RemoteSecret(id=id, name=name, updated_date=updated)


def remembered(tmp_path: Path, value: str = VALUE, listed: RemoteSecret | None = None) -> ValueCache:
    listed = listed or secret()
    cache = ValueCache.open(tmp_path / "cache", site=SITE, key=KEY)
    cache.remember(RemoteState(secrets=(listed,), values={listed.id: Sensitive(value)}), in_sync={listed.id})
    return cache


def test_vouches_only_for_same_id_same_updated_date_and_same_value(tmp_path: Path) -> None:
    cache = remembered(tmp_path)
    assert cache.known(secret(), Sensitive(VALUE))
    assert not cache.known(secret(updated="2026-01-01T00:00:00.001Z"), Sensitive(VALUE))  # written since
    assert not cache.known(secret(id="id-2"), Sensitive(VALUE))  # deleted and re-created
    assert not cache.known(secret(), Sensitive(VALUE + "x"))  # the manifest wants another value
    assert not cache.known(secret(updated=""), Sensitive(VALUE))  # no date: never trusted
    assert cache.hits == 1


def test_the_mac_is_full_hmac_sha256_of_id_and_value_under_the_key(tmp_path: Path) -> None:
    cache = remembered(tmp_path)
    expected = hmac.new(KEY, b"id-1\0" + VALUE.encode(), hashlib.sha256).hexdigest()
    assert cache.entries["id-1"] == Entry("2026-01-01T00:00:00.000Z", expected)
    assert len(expected) == 64


def test_the_file_never_holds_the_value_or_an_unkeyed_hash(tmp_path: Path) -> None:
    cache = remembered(tmp_path)
    cache.save()
    text = cache.path.read_text()
    assert VALUE not in text
    for digest in (hashlib.sha256, hashlib.sha1, hashlib.md5):
        assert digest(VALUE.encode()).hexdigest() not in text
    assert json.loads(text)["format"] == FORMAT


def test_file_mode_0600_in_a_0700_directory_and_one_file_per_site(tmp_path: Path) -> None:
    cache = remembered(tmp_path)
    cache.save()
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "cache").st_mode) == 0o700
    assert cache.path == cache_file(tmp_path / "cache", SITE)
    assert cache_file(tmp_path, SITE) != cache_file(tmp_path, "https://www.wixapis.com site-2")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [cache.path.name]  # no temp file left


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    remembered(tmp_path).save()
    again = ValueCache.open(tmp_path / "cache", site=SITE, key=KEY)
    assert again.known(secret(), Sensitive(VALUE))


def test_another_key_starts_afresh(tmp_path: Path) -> None:
    remembered(tmp_path).save()
    other = ValueCache.open(tmp_path / "cache", site=SITE, key=OTHER_KEY)
    assert other.entries == {}
    assert not other.known(secret(), Sensitive(VALUE))


@pytest.mark.parametrize("content", [b"not json", b"[]", b'{"format": "other"}', b"\xff\xfe"])
def test_a_damaged_file_is_ignored(tmp_path: Path, content: bytes) -> None:
    path = cache_file(tmp_path, SITE)
    path.write_bytes(content)
    cache = ValueCache.open(tmp_path, site=SITE, key=KEY)
    assert cache.entries == {}


def test_remember_drops_secrets_gone_or_rewritten_and_keeps_unread_unchanged_ones(tmp_path: Path) -> None:
    a, b, c = secret(id="a", name="A"), secret(id="b", name="B"), secret(id="c", name="C")
    cache = ValueCache.open(tmp_path, site=SITE, key=KEY)
    cache.remember(RemoteState(secrets=(a, b, c), values={i: Sensitive(VALUE) for i in "abc"}), in_sync="abc")
    b2 = secret(id="b", name="B", updated="2026-02-02T00:00:00.000Z")
    # next plan: a not read (e.g. no longer declared) but unchanged; b rewritten, not read; c deleted
    cache.remember(RemoteState(secrets=(a, b2), values={}), in_sync="ab")
    assert set(cache.entries) == {"a"}


def test_forget_after_an_apply(tmp_path: Path) -> None:
    cache = remembered(tmp_path)
    cache.forget(["id-1", "unknown"])
    assert cache.entries == {}


def test_repr_shows_no_key(tmp_path: Path) -> None:
    cache = remembered(tmp_path)
    assert KEY.hex() not in repr(cache) and "entries=1" in repr(cache)


def test_a_site_value_that_differs_from_the_desired_one_is_never_maced(tmp_path: Path) -> None:
    # issue 10.4: the key derives from a data key a pull-request author can choose; a MAC of a site value
    # they did not write would let them test guesses offline
    from reconciler.model import DesiredSecret, DesiredState
    from reconciler.plan import make_plan
    from reconciler.valuecache import in_sync_ids

    same, other = secret(id="s", name="SAME"), secret(id="o", name="OTHER")
    remote = RemoteState(secrets=(same, other), values={"s": Sensitive("equal"), "o": Sensitive("site-only")})
    desired = DesiredState((DesiredSecret("SAME", Sensitive("equal")), DesiredSecret("OTHER", Sensitive("mine"))))
    plan = make_plan(desired, remote)
    assert in_sync_ids(plan) == {"s"}
    cache = ValueCache.open(tmp_path, site=SITE, key=KEY)
    cache.remember(remote, in_sync=in_sync_ids(plan))
    assert set(cache.entries) == {"s"}
    cache.save()
    assert cache.mac("o", Sensitive("site-only")) not in cache.path.read_text()
