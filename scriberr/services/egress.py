"""Outbound connections of URL imports stay on the public internet.

`is_public_address(ip)` says whether an address may be reached: loopback, private, link-local,
multicast, reserved, unspecified and shared (CGNAT) addresses may not, in IPv4 and IPv6
(IPv4-mapped IPv6 addresses are judged by their IPv4 address).

`EgressProxy` is a small HTTP proxy on a loopback port that yt-dlp is told to use for every
request. For each request (plain `GET http://…` or `CONNECT host:443`) it resolves the host
itself, refuses unless every address passes the policy, and connects to the address it checked
(so a DNS answer cannot change between the check and the connection). Redirects are new requests,
so every hop is checked. Refusals answer 403 and are counted; nothing of the target's identity or
reachability reaches the user (the importer reports one fixed message).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import select
import socket
import socketserver
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

logger = logging.getLogger("scriberr.importer")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IpAddress], bool]
_MAX_HEAD = 64 * 1024
_IDLE_TIMEOUT_S = 60.0
_CONNECT_TIMEOUT_S = 15.0
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class Refused(Exception):
    """The destination is not allowed (or could not be resolved)."""


def is_public_address(ip: IpAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return False
    return bool(
        ip.is_global
        and not (
            ip.is_multicast
            or ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_reserved
            or ip.is_unspecified
        )
    )


def resolve_allowed(host: str, port: int, policy: AddressPolicy) -> list[tuple[int, str]]:
    """(family, address) pairs for `host`, or `Refused` unless every one passes `policy`."""
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused(host) from None
    found: list[tuple[int, str]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]
        if not policy(ipaddress.ip_address(address)):
            raise Refused(host)
        found.append((family, address))
    if not found:
        raise Refused(host)
    return found


def check_url(url: str, policy: AddressPolicy) -> None:
    """`Refused` unless `url` is http(s) and its host resolves only to allowed addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused(url) from None
    resolve_allowed(parts.hostname, port, policy)


def _connect(host: str, port: int, policy: AddressPolicy) -> socket.socket:
    last: OSError | None = None
    for family, address in resolve_allowed(host, port, policy):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(_CONNECT_TIMEOUT_S)
        try:
            sock.connect((address, port))
            sock.settimeout(None)
            return sock
        except OSError as error:
            sock.close()
            last = error
    raise last or OSError("no address")


def _pipe(first: socket.socket, second: socket.socket) -> None:
    """Relay bytes both ways until one side closes or both stay silent for the idle timeout."""
    sockets = [first, second]
    while True:
        readable, _w, _x = select.select(sockets, [], [], _IDLE_TIMEOUT_S)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (second if source is first else first).sendall(data)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        with contextlib.suppress(OSError):
            self._relay(self.request)

    def _relay(self, client: socket.socket) -> None:
        client.settimeout(_IDLE_TIMEOUT_S)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(8192)
            if not chunk:
                return
            head += chunk
            if len(head) > _MAX_HEAD:
                return
        head, _sep, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
            if method.upper() == "CONNECT":
                host, _colon, port_text = target.rpartition(":")
                upstream = _connect(host.strip("[]"), int(port_text), self.server.policy)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                parts = urlsplit(target)
                if parts.scheme != "http" or not parts.hostname:
                    raise Refused(target)
                upstream = _connect(parts.hostname, parts.port or 80, self.server.policy)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                kept = [
                    line
                    for line in lines[1:]
                    if not line.lower().startswith(("proxy-", "connection:", "keep-alive:"))
                ]
                request = [f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""]
                upstream.sendall("\r\n".join(request).encode("latin-1") + rest)
        except (Refused, ValueError, OSError):
            self.server.refused += 1
            logger.info("import: refused an outbound connection")
            with contextlib.suppress(OSError):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        with upstream:
            _pipe(client, upstream)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.policy = policy
        self.refused = 0


class EgressProxy:
    """A running guard proxy: `url` to hand to yt-dlp; `close()` stops it."""

    def __init__(self, policy: AddressPolicy = is_public_address) -> None:
        self._server = _Server(policy)
        port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="scriberr-egress", daemon=True
        )
        self._thread.start()

    @property
    def refused(self) -> int:
        return self._server.refused

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EgressProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
