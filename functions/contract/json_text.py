"""The one JSON encoder of log lines and API replies: compact, text as is (UTF-8), never NaN or Infinity.

check_circular=False: documents are built fresh per request (saves ~0.4 µs a document).

A lone surrogate (JSON allows "\\ud800") is kept escaped, since UTF-8 cannot carry it.
U+0085, U+2028 and U+2029 are escaped: JSON allows them raw inside strings, but Python's
`str.splitlines()` (and some JavaScript) treat them as line ends, which would cut one record in two.
"""

from __future__ import annotations

import json

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False).encode
_encode_ascii = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False, check_circular=False).encode
_LINE_SEPARATORS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
ECHO_CHARS = 64  # the most characters of a client's string (key, path, value) a reply or log line repeats


def compact_json(value: object) -> str:
    """Compact JSON on one line, always encodable as UTF-8; ASCII text (the usual) is checked by one C-level scan."""
    text = _encode(value)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in a client's key): stdout would refuse to write it
        return _encode_ascii(value)
    return text.translate(_LINE_SEPARATORS)


def echoed(text: str, limit: int = ECHO_CHARS) -> str:
    """A client's string as a reply or log line may repeat it: at most `limit` characters, then its length.

    Echoing a key or path whole would let one request write a megabyte line (CloudWatch Logs cuts
    an event over 256 KB, and the cut line is no longer JSON)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"
