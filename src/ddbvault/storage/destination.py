"""Destination URLs, parsed strictly and in one place: `s3://BUCKET[/PREFIX]`,
`file:///ABSOLUTE/PATH`, or a plain local path.

Anything else that looks like a URL (a scheme followed by `:`, such as `s3:/b`, `S3://b`,
`gs://b`, `file:rel`, or a Windows drive `C:\\x`) is refused with a UsageError: a typo is never
guessed into a local directory. Bucket names follow the S3 naming rules
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).

An s3:// URL (a destination, a backup URL, DEST/TABLE, an export URL) with an empty path segment
(`s3://b/p//orders`, `s3://b//p`, or more than one trailing slash) is refused by
`refuse_empty_segments`: S3 keys are plain strings, so `p//orders` and `p/orders` name different
objects, and dropping the empty segment would read or write somewhere the user did not name. One
trailing slash (`s3://b/p/`) is accepted. Local paths and file:// URLs keep `//`: POSIX pathname
resolution treats successive slashes as one, so `/srv//b` is `/srv/b` and nothing is guessed.

Pure: no I/O. `storage.open_store` turns a Destination into an ObjectStore.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError
from ..format.layout import join

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# RFC 3986: a scheme is a letter, then letters, digits, '+', '-', '.'; it ends at the first ':'.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")
DESTINATION_HINT = "use s3://BUCKET/PREFIX, file:///ABSOLUTE/PATH or a local path (write ./NAME for a relative one)"


@dataclass(frozen=True)
class Destination:
    """A parsed DEST: `s3://bucket[/prefix]` or a local directory."""

    kind: str  # "s3" or "local"
    location: str  # bucket name, or absolute directory path
    prefix: str = ""

    @property
    def url(self) -> str:
        if self.kind == "s3":
            return "s3://" + join(self.location, self.prefix)
        return join(self.location, self.prefix) if self.prefix else self.location

    def url_of(self, key: str) -> str:
        if self.kind == "s3":
            return f"s3://{self.location}/{key}"
        return f"{self.location.rstrip('/')}/{key}"


def shown(text: str) -> str:
    """`text` as an error message may quote it: a URL's USER:PASSWORD@ (never a credential
    ddbvault uses) replaced by `***@`."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*:/*)[^/]*@", r"\1***@", text)


def refuse_empty_segments(url: str) -> None:
    """Raise UsageError when `url` is an s3:// URL with an empty segment after its bucket (see
    the module docstring); one trailing slash is not one. Anything else passes unchecked here."""
    if not url.startswith("s3://"):
        return
    body = url[len("s3://"):]
    bucket, sep, path = body.removesuffix("/").partition("/")
    parts = path.split("/")
    if not bucket or not sep or "" not in parts:  # no bucket: _s3_destination names that
        return
    at = parts.index("")
    where = f"after {parts[at - 1]!r}" if at else f"right after the bucket {bucket!r}"
    fixed = "s3://" + "/".join(part for part in body.split("/") if part)
    raise UsageError(f"S3 URL {shown(url)!r} has an empty path segment ('//' {where}); S3 keys are "
                     "taken as written, so ddbvault does not drop it", hint=f"use {shown(fixed)}")


def parse_destination(text: str) -> Destination:
    """Parse `s3://bucket[/prefix]`, `file:///abs/path` or a local path (see the module docstring).

    Raises UsageError naming what is wrong; never guesses what a malformed URL meant."""
    import os

    if not text or not text.strip():
        raise UsageError("empty destination", hint=DESTINATION_HINT)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UsageError(f"destination {text!r} contains a control character", hint=DESTINATION_HINT)
    scheme = _SCHEME.match(text)
    if scheme is None:
        return Destination("local", os.path.abspath(text))
    if _WINDOWS_DRIVE.match(text):
        raise UsageError(f"unsupported destination {text!r}: a Windows drive path",
                         hint="use a POSIX path, s3://BUCKET/PREFIX or file:///ABSOLUTE/PATH")
    name, rest = scheme.group(1), text[scheme.end():]
    if "@" in rest.lstrip("/").partition("/")[0]:
        # USER:PASSWORD@ in the authority: never echoed (no credential in any output), never used
        raise UsageError(f"destination {name}://... has a user name or password before '@' (not shown); "
                         "ddbvault takes no credentials in a URL",
                         hint="use s3://BUCKET/PREFIX; credentials come from --profile, the roles' options or "
                         "the environment")
    if name == "s3" and rest.startswith("//"):
        refuse_empty_segments(text)
        return _s3_destination(text, rest[2:])
    if name == "file" and rest.startswith("//"):
        return _file_destination(text, rest[2:])
    raise UsageError(f"unsupported destination {text!r}: only s3:// and file:// URLs are understood",
                     hint=_scheme_hint(name.lower(), rest))


def _scheme_hint(scheme: str, rest: str) -> str:
    if scheme in ("s3", "file"):
        return f"write {scheme}:// with two slashes, in lower case: {scheme}://{rest.lstrip('/')}"
    return DESTINATION_HINT


def _s3_destination(text: str, rest: str) -> Destination:
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise UsageError(f"invalid S3 bucket name {bucket!r} in {text!r}",
                         hint="use s3://BUCKET/optional/prefix with a valid bucket name")
    prefix = prefix.removesuffix("/")  # one trailing slash; more were refused as empty segments
    if any(part in (".", "..") for part in prefix.split("/")):
        raise UsageError(f"invalid S3 prefix {prefix!r} in {text!r}: '.' or '..' parts",
                         hint="use s3://BUCKET/a/b with no '/./' or '/../'")
    return Destination("s3", bucket, prefix)


def _file_destination(text: str, rest: str) -> Destination:
    import os
    from urllib.parse import unquote

    host, slash, path = rest.partition("/")
    if host not in ("", "localhost") or not slash:
        raise UsageError(f"unsupported destination {text!r}: a file:// URL takes an absolute path",
                         hint="use file:///ABSOLUTE/PATH (three slashes), or a plain local path")
    return Destination("local", os.path.abspath("/" + unquote(path)))
