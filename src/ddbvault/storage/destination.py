"""Destination URLs, parsed strictly and in one place: `s3://BUCKET[/PREFIX]`,
`file:///ABSOLUTE/PATH`, or a plain local path.

Anything else that looks like a URL (a scheme followed by `:`, such as `s3:/b`, `S3://b`,
`gs://b`, `file:rel`, or a Windows drive `C:\\x`) is refused with a UsageError: a typo is never
guessed into a local directory. Bucket names follow the S3 naming rules
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).

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
    prefix = prefix.rstrip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise UsageError(f"invalid S3 prefix {prefix!r} in {text!r}: empty, '.' or '..' parts",
                         hint="use s3://BUCKET/a/b with no '//', '/./' or '/../'")
    return Destination("s3", bucket, prefix)


def _file_destination(text: str, rest: str) -> Destination:
    import os
    from urllib.parse import unquote

    host, slash, path = rest.partition("/")
    if host not in ("", "localhost") or not slash:
        raise UsageError(f"unsupported destination {text!r}: a file:// URL takes an absolute path",
                         hint="use file:///ABSOLUTE/PATH (three slashes), or a plain local path")
    return Destination("local", os.path.abspath("/" + unquote(path)))
