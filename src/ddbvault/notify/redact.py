"""redact(): remove what looks like a credential or item data from free text (invariant 7).

ddbvault's own errors (DdbvaultError) are written never to contain credentials or item contents.
An *unexpected* exception's message comes from somewhere else (botocore, urllib, a bug) and may
quote anything, so every message that leaves the process in a notification or a log line goes
through redact() first. It is a heuristic safety net, not a proof; what it removes:

- AWS access key ids (`AKIA…`, `ASIA…`) and bare 40-character secret-access-key look-alikes;
- `key=value` / `key: value` pairs whose key names a secret (password, secret, token, …);
- `Bearer …` / `Basic …` authorization values;
- the password in URLs of the form `scheme://user:password@host`;
- parameter values quoted by botocore's validation errors (`value: …, type: …`);
- and if the text looks like it quotes a DynamoDB item or attribute value (`{"S": …}`,
  `'Item': {`), the whole text is withheld, because item data has no recognisable shape.

Pure, total and idempotent: redact(redact(s)) == redact(s); it never raises.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "ITEM_DATA_WITHHELD", "redact", "shorten"]

REDACTED = "[REDACTED]"
ITEM_DATA_WITHHELD = "[message withheld: it appeared to quote item data]"

_R = re.escape(REDACTED)
_SECRET_KEYS = (r"aws_secret_access_key|aws_session_token|secret_access_key|secretaccesskey"
                r"|session_token|sessiontoken|password|passwd|pwd|passphrase|client_secret|secret"
                r"|api[_-]?key|access[_-]?token|auth[_-]?token|token|authorization|x-api-key")

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://user:[REDACTED]@host
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*):[^/\s@]+@"), rf"\1:{REDACTED}@"),
    # Authorization schemes that carry a credential.
    (re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=\-]{6,}"), rf"\1 {REDACTED}"),
    # password=..., "aws_secret_access_key": "...", token: ... (quoted or not)
    (re.compile(rf"(?i)([\"']?\b(?:{_SECRET_KEYS})\b[\"']?\s*[=:]\s*)(?!{_R})(\"[^\"]*\"|'[^']*'|[^\s,;&)\]}}]+)"),
     rf"\1{REDACTED}"),
    # AWS access key ids: long-term (AKIA) and temporary (ASIA).
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), REDACTED),
    # botocore ParamValidationError quotes the offending value: "value: <v>, type: <class ...>".
    (re.compile(r"(\bvalue: ).*?(, type: )"), rf"\1{REDACTED}\2"),
)

# A standalone 40-character base64-ish token with upper case, lower case and a digit: the shape
# of an AWS secret access key. Lower-case hex digests (sha1) lack upper case and are left alone.
_SECRET_KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")

# DynamoDB attribute values ({"S": ...}, {'N': ...}) or an "Item" mapping quoted in a message.
_ITEM_DATA = re.compile(r"[\"'](?:S|N|B|SS|NS|BS|M|L|BOOL|NULL)[\"']\s*:"
                        r"|[\"'](?:Item|Items|Key|ExclusiveStartKey|LastEvaluatedKey)[\"']\s*:\s*[{\[]")


def _looks_like_secret_key(token: str) -> bool:
    return (any(c.isupper() for c in token) and any(c.islower() for c in token)
            and any(c.isdigit() for c in token))


def redact(text: str | None) -> str:
    """`text` with credential-looking substrings replaced by REDACTED ('' for None).

    If the text appears to quote DynamoDB item data, ITEM_DATA_WITHHELD replaces all of it.
    """
    if not text:
        return ""
    text = str(text)
    if _ITEM_DATA.search(text):
        return ITEM_DATA_WITHHELD
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return _SECRET_KEY_SHAPE.sub(
        lambda m: REDACTED if _looks_like_secret_key(m.group(0)) else m.group(0), text)


def shorten(text: str, limit: int = 1000) -> str:
    """`text` cut to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"
