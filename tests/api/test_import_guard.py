"""URL imports stay outside: loopback, private, link-local, multicast and reserved addresses are
refused (IPv4 and IPv6), also when an allowed server redirects there, with one public message
whatever failed. Real yt-dlp, real HTTP servers on loopback."""

from __future__ import annotations

import http.server
import ipaddress
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scriberr.services.egress import IpAddress, is_public_address
from scriberr.services.importer import PUBLIC_FAILURE, ImportFailed, YtDlpImporter

from .conftest import SAMPLE, Account


@dataclass
class Site:
    url: str
    hits: list[str] = field(default_factory=list)


def _serve(host: str, redirect_to: str | None = None) -> tuple[Site, http.server.HTTPServer]:
    site = Site("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hits.append(self.path)
            if redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = SAMPLE.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site.url = f"http://{host}:{server.server_address[1]}"
    return site, server


@pytest.fixture
def internal() -> Iterator[Site]:
    """A server on 127.0.0.1: the "internal" target nothing may reach."""
    site, server = _serve("127.0.0.1")
    yield site
    server.shutdown()
    server.server_close()


def _only_127_0_0_2(ip: IpAddress) -> bool:
    """A policy for the tests: 127.0.0.2 plays the allowed public server."""
    return ip == ipaddress.ip_address("127.0.0.2")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
        "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2001:db8::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_loopback_import_is_refused_before_any_connection(tmp_path: Path, internal: Site) -> None:
    importer = YtDlpImporter(is_public_address)
    for url in (f"{internal.url}/talk.wav", "http://localhost:9/x", "http://[::1]:9/x"):
        with pytest.raises(ImportFailed) as error:
            importer.download(url, tmp_path, max_bytes=10**8)
        assert error.value.public_message == PUBLIC_FAILURE
    assert internal.hits == []


def test_a_redirect_to_an_internal_address_is_refused(tmp_path: Path, internal: Site) -> None:
    allowed, server = _serve("127.0.0.2", redirect_to=f"{internal.url}/secret.wav")
    try:
        importer = YtDlpImporter(_only_127_0_0_2)
        with pytest.raises(ImportFailed) as error:
            importer.download(f"{allowed.url}/talk.wav", tmp_path, max_bytes=10**8)
    finally:
        server.shutdown()
        server.server_close()
    assert error.value.public_message == PUBLIC_FAILURE
    assert allowed.hits == ["/talk.wav"]  # the allowed server was asked...
    assert internal.hits == []  # ...but its redirect never reached the internal one


def test_the_guarded_import_still_downloads_from_an_allowed_server(tmp_path: Path) -> None:
    allowed, server = _serve("127.0.0.2")
    try:
        result = YtDlpImporter(_only_127_0_0_2).download(
            f"{allowed.url}/talk.wav", tmp_path, max_bytes=10**8
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.path.read_bytes() == SAMPLE.read_bytes()


def test_api_import_of_internal_addresses_fails_with_one_message(
    client: Any, user: Account, internal: Site
) -> None:
    urls = [
        f"{internal.url}/talk.wav",
        "http://10.0.0.1/a.wav",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:80/a.wav",
        "http://127.0.0.1:1/closed-port",
    ]
    ids = []
    for url in urls:
        response = client.post(
            "/api/v1/files:import-youtube", json={"url": url}, headers=user.headers
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    deadline = time.monotonic() + 60
    errors = set()
    for file_id in ids:
        while time.monotonic() < deadline:
            body = client.get(f"/api/v1/files/{file_id}", headers=user.headers).json()
            if body["status"] != "processing":
                break
            time.sleep(0.1)
        assert body["status"] == "failed"
        errors.add(body["error"])
    assert errors == {PUBLIC_FAILURE}
    assert internal.hits == []
