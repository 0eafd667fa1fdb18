"""Websocket origins: on 0.0.0.0 the server lets in pages from this machine's own names
and addresses (not any page, as ``*`` would), prints them with the URL students open,
and refuses a foreign page's websocket with HTTP 403."""

from __future__ import annotations

import ipaddress

import pytest
from served import handshake, running

from attnviz import origins


@pytest.fixture
def classroom_laptop(monkeypatch):
    monkeypatch.setattr(origins, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.7"])
    monkeypatch.setattr(origins, "host_names", lambda: ["teacher-laptop"])


def test_every_interface_means_this_machines_names_and_addresses(classroom_laptop):
    assert origins.websocket_origins("0.0.0.0", 5006) == [
        "192.168.1.20:5006",
        "10.0.0.7:5006",
        "teacher-laptop:5006",
        "localhost:5006",
        "127.0.0.1:5006",
    ]
    assert origins.student_urls("0.0.0.0", 5006, "/attnviz") == [
        "http://192.168.1.20:5006/attnviz/",
        "http://10.0.0.7:5006/attnviz/",
        "http://teacher-laptop:5006/attnviz/",
    ]
    assert origins.websocket_origins("::", 8000) == [
        origin.replace(":5006", ":8000") for origin in origins.websocket_origins("0.0.0.0", 5006)
    ]


def test_one_address_means_that_address_and_localhost():
    assert origins.websocket_origins("127.0.0.1", 5006) == ["127.0.0.1:5006", "localhost:5006"]
    assert origins.websocket_origins("10.1.2.3", 80) == [
        "10.1.2.3:80",
        "localhost:80",
        "127.0.0.1:80",
    ]
    assert origins.student_urls("10.1.2.3", 80) == ["http://10.1.2.3:80/"]
    # Bokeh's origin list cannot hold an IPv6 literal: such a page needs a name
    assert origins.websocket_origins("::1", 5006) == ["localhost:5006", "127.0.0.1:5006"]


def test_explicit_origins_win(classroom_laptop):
    assert origins.websocket_origins("0.0.0.0", 5006, ["*"]) == ["*"]
    assert origins.websocket_origins("0.0.0.0", 5006, ["hub.school.org"]) == ["hub.school.org"]


def test_the_port_is_checked():
    for bad in (0, 70000, "5006", True):
        with pytest.raises(ValueError, match=r"port must be an integer in \[1, 65535\]"):
            origins.websocket_origins("0.0.0.0", bad)


def test_lan_addresses_are_reachable_ipv4_addresses():
    for text in origins.lan_addresses():  # this machine's: maybe none, if it is offline
        address = ipaddress.ip_address(text)
        assert address.version == 4
        assert not (address.is_loopback or address.is_unspecified or address.is_link_local)


@pytest.mark.slow
def test_a_foreign_page_is_refused_and_listed_ones_are_let_in():
    only = ("--num-procs", "1", "--dashboard", "soft_lookup")
    with running(*only, "--address", "0.0.0.0") as served:
        port = served.port
        output = served.output()
        allowed = origins.websocket_origins("0.0.0.0", port)
        assert f"websocket origins allowed: {', '.join(allowed)}" in output
        assert f"students open: {origins.student_urls('0.0.0.0', port)[0]}" in output
        assert handshake(served.base, "soft_lookup", f"http://evil.example:{port}") == "403"
        assert handshake(served.base, "soft_lookup", f"http://localhost:{port}") == "ok"
        for entry in allowed:
            assert handshake(served.base, "soft_lookup", f"http://{entry}") == "ok", entry
    with running(*only, "--address", "0.0.0.0", "--allow-websocket-origin", "*") as served:
        origin = f"http://evil.example:{served.port}"
        assert handshake(served.base, "soft_lookup", origin) == "ok"  # asked for: any page


def test_serve_refuses_a_prefix_without_its_leading_slash_before_starting():
    from attnviz.serve import serve

    with pytest.raises(ValueError, match=r"prefix must be empty or start with '/'"):
        serve(prefix="attnviz", start=False)
