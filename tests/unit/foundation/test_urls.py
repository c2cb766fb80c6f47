"""public_url: what may be printed of a URL (docs, logs, errors)."""

from __future__ import annotations

import pytest

from tenant_rag.urls import public_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://acme.atlassian.net/wiki", "https://acme.atlassian.net/wiki"),
        ("https://TOKEN@acme.atlassian.net/wiki", "https://acme.atlassian.net/wiki"),
        ("https://bob:pw@confluence.acme.com:8443/c/?os_authType=basic#x", "https://confluence.acme.com:8443/c/"),
        ("http://[::1]:8080/wiki?access_token=t", "http://[::1]:8080/wiki"),
        ("https://a@b@host/x", "https://host/x"),
        ("https://host/wiki/@mention?x=1", "https://host/wiki/@mention"),
        ("TOKEN@acme.atlassian.net/wiki?key=k", "acme.atlassian.net/wiki"),
        ("  https://host/wiki  ", "https://host/wiki"),
    ],
)
def test_public_url_keeps_scheme_host_port_and_path_only(url: str, shown: str) -> None:
    assert public_url(url) == shown
