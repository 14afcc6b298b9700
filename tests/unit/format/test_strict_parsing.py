"""Hostile inputs to the pure parsers: destinations, backup URLs, backup ids, object keys.

Each kind of malformed input is refused with a UsageError (or False / ValueError for the
predicates), never guessed into something else, such as a local directory named `s3:`.
"""

from __future__ import annotations

import os

import pytest

from ddbvault.vault.reader import parse_backup_url
from ddbvault.errors import UsageError
from ddbvault.format.layout import check_object_key, is_backup_id
from ddbvault.storage.destination import parse_destination
from ddbvault.vault.listing import group_keys

ID = "20261127T081900Z-3f9a1c"


@pytest.mark.parametrize("text", [
    "s3:/bucket/prefix",        # one slash: a typo of s3://
    "s3:bucket/prefix",         # no slashes
    "S3://bucket/prefix",       # upper-case scheme
    "s3:///prefix",             # empty bucket
    "s3://Bad_Bucket/x",        # invalid bucket name
    "s3://bucket//x",           # empty prefix part
    "s3://bucket/a/../b",       # '..' in the prefix
    "s3://bucket\n/x",          # a bucket name with a trailing newline
    "s3://bucket/./b",          # '.' in the prefix
    "gs://bucket/x",            # another cloud's scheme
    "ftp://host/x",
    "https://bucket.s3.amazonaws.com/x",
    "file:relative/dir",        # file: without //
    "file://host/dir",          # a remote host
    "file:/x",
    "C:\\backups",              # a Windows drive
    "c:/backups",
    "d:",
    "backup:2026",              # anything shaped like scheme:...
    "",
    "   ",
    "/tmp/with\x00nul",
    "/tmp/new\nline",
])
def test_destinations_that_look_like_urls_are_refused(text):
    with pytest.raises(UsageError) as err:
        parse_destination(text)
    assert err.value.hint


@pytest.mark.parametrize("text,kind,location,prefix", [
    ("s3://bucket", "s3", "bucket", ""),
    ("s3://bucket/", "s3", "bucket", ""),
    ("s3://my.bucket-1/a/b/", "s3", "my.bucket-1", "a/b"),
    ("file:///srv/backups", "local", "/srv/backups", ""),
    ("file://localhost/srv/b", "local", "/srv/b", ""),
    ("file:///srv/with%20space", "local", "/srv/with space", ""),
    ("/srv/backups", "local", "/srv/backups", ""),
    ("./backup:2026", "local", os.path.abspath("backup:2026"), ""),
    ("relative/dir", "local", os.path.abspath("relative/dir"), ""),
])
def test_valid_destinations(text, kind, location, prefix):
    dest = parse_destination(text)
    assert (dest.kind, dest.location, dest.prefix) == (kind, location, prefix)


@pytest.mark.parametrize("text", [
    "s3://AKIAEXAMPLE:s3cr3tpass@bucket/prefix",
    "s3://user@bucket",
    "s3:/user:s3cr3tpass@bucket/p",      # also with a typo'd scheme, whose message echoes the URL
    "file://user:s3cr3tpass@host/srv",
    "https://user:s3cr3tpass@example.com/b",
])
def test_a_url_with_credentials_is_refused_without_echoing_them(text):
    with pytest.raises(UsageError) as err:
        parse_destination(text)
    shown = f"{err.value.message} {err.value.hint}"
    assert "s3cr3tpass" not in shown and "user" not in shown.replace("user name", "") and "AKIA" not in shown
    assert "not shown" in err.value.message and err.value.hint


@pytest.mark.parametrize("url", ["s3://user:s3cr3tpass@vault", "s3://user:s3cr3tpass@vault/p/orders/not-an-id"])
def test_a_backup_url_with_credentials_is_not_echoed(url):
    with pytest.raises(UsageError) as err:
        parse_backup_url(url)
    assert "s3cr3tpass" not in err.value.message and "***@vault" in err.value.message


def test_the_hint_shows_the_corrected_url():
    with pytest.raises(UsageError) as err:
        parse_destination("s3:/bucket/prefix")
    assert "s3://bucket/prefix" in err.value.hint and "'s3:/bucket/prefix'" in err.value.message


@pytest.mark.parametrize("url", [
    f"s3:/bucket/p/orders/{ID}",
    f"S3://bucket/p/orders/{ID}",
    f"gs://bucket/p/orders/{ID}",
    f"file:rel/orders/{ID}",
    f"s3://bucket/p/o/{ID}",               # table name too short
    f"s3://bucket/p/bad$name/{ID}",        # not a table name
    "s3://bucket/p/orders/20261399T999999Z-abcdef",   # impossible date
    "s3://bucket/p/orders/latest",
    f"{ID}",
])
def test_backup_urls_are_parsed_strictly(url):
    with pytest.raises(UsageError):
        parse_backup_url(url)


def test_backup_url_forms():
    dest, layout = parse_backup_url(f"s3://bucket/p/q/orders/{ID}/")
    assert (dest.kind, dest.location, layout.prefix, layout.table) == ("s3", "bucket", "p/q", "orders")
    dest, layout = parse_backup_url(f"file:///srv/b/orders/{ID}")
    assert (dest.kind, dest.location, layout.root) == ("local", "/srv/b", f"orders/{ID}")


EMPTY_SEGMENT_URLS = [  # (url, the segment before the '//', the url without it)
    (f"s3://bucket/prefix//orders/{ID}", "'prefix'", f"s3://bucket/prefix/orders/{ID}"),
    (f"s3://bucket//prefix/orders/{ID}", "bucket 'bucket'", f"s3://bucket/prefix/orders/{ID}"),
    (f"s3://bucket/p/orders//{ID}", "'orders'", f"s3://bucket/p/orders/{ID}"),
    (f"s3://bucket/p/orders/{ID}//", f"'{ID}'", f"s3://bucket/p/orders/{ID}"),
]
EMPTY_SEGMENT_DESTINATIONS = [
    ("s3://bucket//prefix", "bucket 'bucket'", "s3://bucket/prefix"),
    ("s3://bucket/a//b", "'a'", "s3://bucket/a/b"),
    ("s3://bucket/prefix//", "'prefix'", "s3://bucket/prefix"),
    ("s3://bucket//", "bucket 'bucket'", "s3://bucket"),
]


def _refused_as_empty_segment(call, url, before, fixed):
    with pytest.raises(UsageError) as err:
        call(url)
    assert err.value.message.startswith(f"S3 URL {url!r} has an empty path segment ('//' ")
    assert before in err.value.message and "\n" not in err.value.message
    assert err.value.hint == f"use {fixed}"


@pytest.mark.parametrize("url,before,fixed", EMPTY_SEGMENT_URLS + EMPTY_SEGMENT_DESTINATIONS)
def test_a_destination_with_an_empty_segment_is_refused_not_normalized(url, before, fixed):
    _refused_as_empty_segment(parse_destination, url, before, fixed)


@pytest.mark.parametrize("url,before,fixed", EMPTY_SEGMENT_URLS)
def test_a_backup_url_with_an_empty_segment_is_refused_not_normalized(url, before, fixed):
    _refused_as_empty_segment(parse_backup_url, url, before, fixed)


@pytest.mark.parametrize("url,before,fixed", [
    ("s3://bucket/prefix//orders", "'prefix'", "s3://bucket/prefix/orders"),
    ("s3://bucket/prefix/orders//", "'orders'", "s3://bucket/prefix/orders"),
])
def test_a_table_folder_with_an_empty_segment_is_refused_before_any_read(url, before, fixed):
    from ddbvault.restore.point_in_time import Vault

    _refused_as_empty_segment(Vault, url, before, fixed)


def test_an_export_url_with_an_empty_segment_is_refused_before_any_read():
    from ddbvault.vault.native_export import open_native_export

    _refused_as_empty_segment(open_native_export, "s3://bucket/p//AWSDynamoDB/0123-abcd", "'p'",
                              "s3://bucket/p/AWSDynamoDB/0123-abcd")


@pytest.mark.parametrize("command", ["history", "get"])
def test_the_cli_refuses_a_vault_with_an_empty_segment_before_adding_the_table(command):
    from click.testing import CliRunner

    from ddbvault.cli import cli

    ran = CliRunner().invoke(cli, [command, "orders", "--from", "s3://bucket/prefix//", "--key", "pk=1", "--json"])
    assert ran.exit_code == 2, ran.output
    assert "empty path segment" in ran.output and "use s3://bucket/prefix" in ran.output


@pytest.mark.parametrize("text,expected", [
    ("s3://bucket/prefix/", "prefix"),                  # one trailing slash stays accepted
    ("s3://bucket/", ""),
    ("/srv//backups", "/srv/backups"),                  # a path: POSIX reads '//' as '/'
    ("file:///srv//backups", "/srv/backups"),
])
def test_one_trailing_slash_and_local_double_slashes_are_accepted(text, expected):
    dest = parse_destination(text)
    assert (dest.prefix if dest.kind == "s3" else dest.location) == expected


@pytest.mark.parametrize("text,ok", [
    (ID, True),
    ("20240229T235959Z-abcdef", True),      # a leap day
    ("20230229T000000Z-abcdef", False),     # not a leap year
    ("20261399T999999Z-abcdef", False),
    ("20261301T000000Z-abcdef", False),
    ("20261127T250000Z-abcdef", False),
    ("20261127T081900Z-ABCDEF", False),
    ("20261127T081900Z-3f9a1", False),
    ("20261127T081900-3f9a1c", False),
    ("20261127T081900Z-3f9a1c\n", False),  # a trailing newline
    ("٢٠٢٦١١٢٧T081900Z-3f9a1c", False),     # digits, but not ASCII ones
])
def test_backup_ids_must_be_real_times(text, ok):
    assert is_backup_id(text) is ok


def test_listing_skips_ids_with_impossible_dates():
    keys = ["p/orders/20261399T999999Z-abcdef/manifest.json", f"p/orders/{ID}/manifest.json"]
    assert set(group_keys(keys, "p")) == {("orders", ID)}


@pytest.mark.parametrize("key", [
    "../../../elsewhere/data/000000-0000.json.gz",
    "data/../../x.json.gz",
    "data/./x.json.gz",
    "/etc/hostname",
    "/data/x.json.gz",
    "data//x.json.gz",
    "data/",
    "data",
    "manifest.json",
    "other/x.json.gz",
    "data\\..\\x.json.gz",
    "data/x\x00.json.gz",
    "data/x\n.json.gz",
    "",
    5,
    None,
])
def test_object_keys_that_escape_the_backup_are_refused(key):
    with pytest.raises(ValueError):
        check_object_key(key)


@pytest.mark.parametrize("key", ["data/000000-0000.json.gz", "data/x.gz", "data/sub/part-1.json"])
def test_object_keys_under_data(key):
    assert check_object_key(key) == key


@pytest.mark.parametrize("name", ["orders\n", "or", "orders/x", "ördérs", "a" * 256, ""])
def test_table_names_are_checked_whole(name):
    from ddbvault.format.layout import check_table_name

    with pytest.raises(UsageError, match="table name"):
        check_table_name(name)
