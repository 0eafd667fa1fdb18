"""What a page or script would fetch from other machines (shared by the offline tests)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0", "::1"}
_URL = re.compile(r"https?://[^\s\"'<>()]+")
# what a browser loads by itself: script and stylesheet sources, and links to .js / .css
_LOADED = re.compile(
    r"""(?:src|href)\s*=\s*["'](https?://[^"']+)|["'](https?://[^"']+\.(?:js|css|mjs))["']""",
    re.IGNORECASE,
)


def is_external(url: str) -> bool:
    """Whether ``url`` names another machine (not this one, not a relative path)."""
    return bool(urlsplit(url).scheme) and urlsplit(url).hostname not in LOCAL_HOSTS


def external_urls(text: str) -> list[str]:
    """Every http(s) URL in ``text`` that names another machine."""
    return [url for url in _URL.findall(text) if is_external(url)]


def external_loads(text: str) -> list[str]:
    """The scripts and stylesheets ``text`` (HTML or a JS loader) would fetch from other
    machines; URLs that are only mentioned (a comment, a licence) do not count."""
    found = (a or b for a, b in _LOADED.findall(text))
    return [url for url in found if is_external(url)]
