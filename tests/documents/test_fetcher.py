"""The document renderer loads only the project's own files: no network, no file of the machine."""

from __future__ import annotations

import pytest
from weasyprint import HTML

from documents.pdf import LocalFetcher, RefusedURL


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/logo.png", "https://example.com/style.css", "ftp://example.com/x", "file:///etc/passwd",
    "//example.com/x.png", "static:../../config/settings.py", "static:/etc/passwd", "static:css/missing.css",
    "font:../../../../etc/passwd", "font:Inter.ttf", "font:inter-latin-400-normal.woff2",
])
def test_anything_but_our_own_files_is_refused(url):
    with pytest.raises((RefusedURL, ValueError)):
        LocalFetcher().fetch(url)


def test_our_static_files_fonts_and_data_urls_are_served():
    assert b"@page" in LocalFetcher().fetch("static:css/invoice_pdf.css").read()
    assert LocalFetcher().fetch("font:inter-latin-400-normal.woff").read()[:4] == b"wOFF"
    assert LocalFetcher().fetch("data:text/plain;base64,aGk=").read() == b"hi"


def test_a_document_that_points_elsewhere_is_rendered_without_it(monkeypatch):
    opened = []
    monkeypatch.setattr("urllib.request.OpenerDirector.open", lambda *args, **kw: opened.append(args) or None)
    html = '<img src="http://127.0.0.1:9/tracker.png"><link rel="stylesheet" href="https://example.com/x.css"><p>Hi</p>'
    pdf = HTML(string=html, url_fetcher=LocalFetcher(), base_url="static:").write_pdf()
    assert pdf.startswith(b"%PDF") and opened == []
