"""site_core.base.net: who is asking (client address behind known proxies) and which login is tried."""

import pytest

from site_core.base.net import client_ip, login_identifier


@pytest.mark.parametrize("count, forwarded, expected", [
    (0, "", "192.0.2.1"),
    (0, "203.0.113.5", "192.0.2.1"),  # no proxy: the header is the client's own words
    (1, "203.0.113.5", "203.0.113.5"),
    (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # the left part is forged, the right appended
    (1, " 6.6.6.6 ,203.0.113.5 ", "203.0.113.5"),
    (2, "6.6.6.6, 203.0.113.5, 10.0.0.1", "203.0.113.5"),
    (2, "203.0.113.5", "192.0.2.1"),  # fewer entries than proxies: not from our proxies
    (1, "", "192.0.2.1"),
    (1, ", ,", "192.0.2.1"),
])
def test_client_ip(rf, settings, count, forwarded, expected):
    settings.CABINET_PROXY_COUNT = count
    request = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_login_identifier_reads_the_form_first(rf):
    allauth = rf.post("/accounts/login/", {"login": " Camille@Example.TEST ", "password": "x"})
    assert login_identifier(allauth, {"email": "camille@example.test"}) == "camille@example.test"
    # On success django-axes passes the account's username, not what was typed.
    assert login_identifier(allauth, {"username": "camille-3f2a1b"}) == "camille@example.test"
    wagtail = rf.post("/admin/login/", {"username": "Camille@example.test", "password": "x"})
    assert login_identifier(wagtail, {"username": "camille-3f2a1b"}) == "camille@example.test"


def test_login_identifier_without_a_form(rf):
    request = rf.get("/api/")
    assert login_identifier(request, {"username": "Camille"}) == "camille"
    assert login_identifier(request, {"email": "C@X.test"}) == "c@x.test"
    assert login_identifier(request, None) is None
