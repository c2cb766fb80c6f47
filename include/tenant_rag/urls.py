"""URLs fit to print: docs, logs and error messages show where, never with what credentials."""

from __future__ import annotations

import re

_USER_INFO = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)?[^/?#]*@", re.IGNORECASE)


def public_url(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no user info, no query string, no fragment.

    A token can hide in any of those (``https://TOKEN@host``, ``?access_token=...``); host and path are what a
    reader needs to recognise the site. Works on malformed values too (``TOKEN@host/wiki`` -> ``host/wiki``).
    """
    text = url.strip().split("#", 1)[0].split("?", 1)[0]
    return _USER_INFO.sub(r"\g<scheme>", text, count=1)
