from __future__ import annotations

import pytest
from django.test import RequestFactory

from dangjian.core.audit import client_ip


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "", "10.0.0.9"),  # no proxy: the socket address
        (0, "1.2.3.4", "10.0.0.9"),  # no proxy of ours: a forwarded header is a forgeable claim
        (1, "1.2.3.4", "1.2.3.4"),  # behind nginx: the address nginx appended
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # a forged left-hand entry is ignored
        (2, "6.6.6.6, 1.2.3.4, 10.1.1.1", "1.2.3.4"),
        (1, "", "10.0.0.9"),
    ],
)
def test_audit_ip_trusts_only_our_own_proxies(settings, proxies, forwarded, expected):
    settings.PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
