from __future__ import annotations


def test_unknown_api_url_answers_with_the_error_envelope(client, db):
    resp = client.get("/api/v1/no-such-thing/", HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_unknown_page_answers_with_the_site_page(client, db):
    resp = client.get("/no-such-page/")
    assert resp.status_code == 404
    assert resp["Content-Type"].startswith("text/html")
