"""API latency and upload benchmark against a real `scriberr serve` on a free loopback port.

1. CPU: `list_cpu_ms`, the process CPU time (`time.process_time`) per
   `GET /api/v1/transcriptions?limit=100` (100 rows), measured in-process: the real app on a real
   Core (SQLite, fake engine) in this process, driven through its ASGI interface with no HTTP
   client, so the figure is the app's own work (routing, auth, query, encoding).
2. Latency: p50/p95/p99 of `GET /api/v1/transcriptions?limit=100` (100 rows) and `GET /health`
   under 50 concurrent clients, once idle and once while a real transcription (the bundled
   whisper-tiny.en on a few minutes of speech) is running.
3. Upload: throughput of one 500 MB multipart upload and the server's peak RSS while it streams
   (also measured for a 50 MB upload, to show the peak does not grow with the file size).
3. Security: the median failed-login time of unknown usernames over that of known ones
   (`login_unknown_known_ratio`, target 0.5 to 2), and the server's peak RSS growth while it refuses
   a 200 MB JSON login body (`flood_rss_growth_mb`, target < 32).

    .venv/bin/python bench/api.py [--requests 1000] [--upload-mb 500]
    .venv/bin/python bench/api.py --cpu-only       # just `list_cpu_ms` (a few seconds)
    .venv/bin/python bench/api.py --security-only  # just the two security figures

Prints progress lines, then ONE JSON object on the last line with keys `list_cpu_ms`, `idle_p95_ms`,
`busy_p95_ms`, `health_idle_p95_ms`, `health_busy_p95_ms`, `upload_mb_per_s`,
`upload_peak_rss_mb`, `login_unknown_known_ratio`, `flood_rss_growth_mb` (only the last two with
`--security-only`). Only loopback addresses are used.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds a `queue.py`; keep it from shadowing the standard library's `queue`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
JFK = (ROOT / ".." / "shared" / "fixtures" / "audio" / "jfk.flac").resolve()
HOST = "127.0.0.1"
PASSWORD = "bench password 1234"
CONCURRENCY = 50
ROWS = 100


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(_percentile(values, 0.50), 2),
        "p95": round(_percentile(values, 0.95), 2),
        "p99": round(_percentile(values, 0.99), 2),
    }


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def _serve(data_dir: Path, port: int, threads: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "SCRIBERR_DATA_DIR": str(data_dir),
        "SCRIBERR_HOST": HOST,
        "SCRIBERR_PORT": str(port),
        "SPEECH_ENGINE_AUTO_DOWNLOAD": "false",
        "SPEECH_ENGINE_PROVIDER": "cpu",
        "SPEECH_ENGINE_THREADS": threads,
        "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "500ms",
        "SCRIBERR_LOG_LEVEL": "warning",
        # The login-timing measurement spreads its attempts over forwarded client addresses.
        "SCRIBERR_FORWARDED_ALLOW_IPS": HOST,
    }
    log = (data_dir.parent / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "scriberr.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("scriberr serve exited; see server.log")
            try:
                if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("scriberr serve did not start")
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _long_speech(path: Path, seconds: float) -> Path:
    """A WAV of the JFK recording repeated to `seconds` (16 kHz mono)."""
    import av

    chunks = []
    with av.open(str(JFK)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
    speech = np.concatenate(chunks)
    repeats = int(seconds * 16000 / len(speech)) + 1
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(np.tile(speech, repeats).astype(np.int16).tobytes())
    return path


def _big_wav(path: Path, megabytes: int) -> Path:
    """A valid WAV of `megabytes` MB (quiet noise), written in 8 MB blocks."""
    total = megabytes * 1024 * 1024 - 44
    frames = total // 2
    rng = np.random.default_rng(7)
    block = (rng.standard_normal(4 * 1024 * 1024) * 200).astype(np.int16).tobytes()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        written = 0
        while written < frames:
            count = min(len(block) // 2, frames - written)
            handle.writeframesraw(block[: count * 2])
            written += count
    return path


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """One keep-alive HTTP/1.1 GET on an open connection; returns the status code."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def _load(port: int, path: str, headers: dict[str, str], total: int) -> list[float]:
    """`total` GETs from CONCURRENCY concurrent keep-alive connections; latency in ms.

    A minimal HTTP/1.1 client (plain asyncio streams) keeps the load generator's own CPU use
    small, so the figures are the server's, not the client library's."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    per_client = max(1, total // CONCURRENCY)

    async def one_client() -> None:
        reader, writer = await asyncio.open_connection(HOST, port, limit=2**22)
        try:
            for _ in range(per_client):
                started = time.perf_counter()
                status = await _get(reader, writer, request)
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
        finally:
            writer.close()

    await asyncio.gather(*(one_client() for _ in range(CONCURRENCY)))
    return latencies


def _measure(port: int, headers: dict[str, str], total: int) -> tuple[list[float], list[float]]:
    listing = f"/api/v1/transcriptions?limit={ROWS}"
    asyncio.run(_load(port, listing, headers, CONCURRENCY * 2))  # warm up
    rows = asyncio.run(_load(port, listing, headers, total))
    health = asyncio.run(_load(port, "/health", {}, total))
    return rows, health


def _setup(client: httpx.Client) -> dict[str, str]:
    tokens = client.post(
        "/api/v1/auth/register",
        json={"username": "bench", "password": PASSWORD, "confirm_password": PASSWORD},
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    key = client.post("/api/v1/api-keys", json={"name": "bench"}, headers=headers).json()["key"]
    return {"Authorization": f"Bearer {key}"}


def _upload(client: httpx.Client, headers: dict[str, str], path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        response = client.post(
            "/api/v1/files",
            files={"file": (path.name, handle, "audio/wav")},
            headers=headers,
            timeout=600,
        )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _make_rows(client: httpx.Client, headers: dict[str, str]) -> None:
    """100 transcriptions: created through the API, then canceled so none runs."""
    file_id = _upload(client, headers, JFK)["id"]
    ids = []
    for index in range(ROWS):
        created = client.post(
            "/api/v1/transcriptions",
            json={"file_id": file_id, "title": f"bench {index}"},
            headers=headers,
        )
        created.raise_for_status()
        ids.append(created.json()["id"])
    for transcription_id in ids:
        client.post(f"/api/v1/transcriptions/{transcription_id}:cancel", headers=headers)
    _wait(lambda: client.get("/api/v1/admin/queue", headers=headers).json()["running"] == 0, 120)


def _wait(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise RuntimeError("timed out waiting")


def _status(client: httpx.Client, headers: dict[str, str], transcription_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(
        f"/api/v1/transcriptions/{transcription_id}", headers=headers
    ).json()
    return body


def _upload_with_rss(
    client: httpx.Client, headers: dict[str, str], path: Path, pid: int
) -> tuple[float, float, float]:
    """(MB/s, peak RSS MB during the upload, RSS MB before it)."""
    before = _rss_mb(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size_mb = path.stat().st_size / (1024 * 1024)
    started = time.perf_counter()
    try:
        file_id = _upload(client, headers, path)["id"]
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
    client.delete(f"/api/v1/files/{file_id}", headers=headers)
    return size_mb / elapsed, peak, before


def _login_timing(client: httpx.Client, headers: dict[str, str], tries: int = 20) -> float:
    """Median failed-login time for unknown usernames / for known ones. Known accounts are
    created by the admin (at most 4 failures each, under the per-account throttle), and every
    attempt comes from its own forwarded address (under the per-client throttle)."""
    known = [f"timing{n}" for n in range(tries // 4 + 1)]
    for name in known:
        client.post(
            "/api/v1/admin/users", json={"username": name, "password": PASSWORD}, headers=headers
        ).raise_for_status()

    def attempt(name: str, number: int) -> float:
        started = time.perf_counter()
        response = client.post(
            "/api/v1/auth/login",
            json={"username": name, "password": "not the password"},
            headers={"X-Forwarded-For": f"10.{number // 250}.{number % 250}.1"},
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 401:
            raise RuntimeError(f"failed login answered {response.status_code}")
        return elapsed

    known_times, unknown_times = [], []
    for number in range(tries):
        known_times.append(attempt(known[number % len(known)], 2 * number))
        unknown_times.append(attempt(f"ghost{number}", 2 * number + 1))
    return _median(unknown_times) / _median(known_times)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _flood_rss_growth(port: int, pid: int, megabytes: int = 200) -> float:
    """Peak RSS growth (MB) while the server refuses a `megabytes` MB JSON login body, sent
    without a length (chunked), so the server has to count it as it arrives."""
    before = _rss_mb(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mb(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    block = b"a" * (1024 * 1024)
    chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    status = 0
    try:
        with socket.create_connection((HOST, port), timeout=30) as sock:
            sock.sendall(
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: bench\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            try:
                for _ in range(megabytes):
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                status = int(sock.recv(65536).split(b" ", 2)[1])
            except (ConnectionResetError, IndexError, ValueError):
                status = 0
    finally:
        done.set()
        sampler.join()
    if status != 413:
        raise RuntimeError(f"the flood answered {status}, not 413")
    return max(peak, _rss_mb(pid)) - before


def _security(base: str, port: int, pid: int, admin: dict[str, str]) -> dict[str, float]:
    """The two security measurements; `admin` authenticates the first (admin) account."""
    with httpx.Client(base_url=base, timeout=120) as client:
        ratio = _login_timing(client, admin)
    growth = _flood_rss_growth(port, pid)
    print(f"login unknown/known {ratio:.2f}; 200 MB flood RSS growth {growth:.1f} MB", flush=True)
    return {"login_unknown_known_ratio": round(ratio, 2), "flood_rss_growth_mb": round(growth, 1)}


async def _asgi_get(app: Any, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """One GET straight through the ASGI app (no HTTP client or server); returns the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": (HOST, 50000),
        "server": (HOST, 80),
    }
    status = 0
    body = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += len(message.get("body", b""))

    await app(scope, receive, send)
    if status != 200 or body == 0:
        raise RuntimeError(f"{path} answered {status}")
    return status


async def _list_cpu(requests: int, data_dir: Path) -> float:
    """CPU ms per `GET /api/v1/transcriptions?limit=100` through the real app, in this process."""
    from scriberr.api.app import create_app
    from scriberr.bootstrap import build_core
    from scriberr.config import load_config
    from scriberr.engine.fake import FakeProvider, FakeScript, fake_registry

    config = load_config(
        {
            "SCRIBERR_DATA_DIR": str(data_dir),
            "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "500ms",
            "SCRIBERR_LOG_LEVEL": "warning",
        }
    )
    core = build_core(config, providers=fake_registry(FakeProvider(FakeScript(delay_s=30))))
    core.start()
    try:
        app = create_app(core)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            tokens = (
                await client.post(
                    "/api/v1/auth/register",
                    json={"username": "bench", "password": PASSWORD, "confirm_password": PASSWORD},
                )
            ).json()
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            key = (await client.post("/api/v1/api-keys", json={"name": "b"}, headers=bearer)).json()
            headers = {"Authorization": f"Bearer {key['key']}"}
            with JFK.open("rb") as handle:
                uploaded = await client.post(
                    "/api/v1/files",
                    files={"file": (JFK.name, handle, "audio/flac")},
                    headers=headers,
                )
            file_id = uploaded.json()["id"]
            for index in range(ROWS):
                created = await client.post(
                    "/api/v1/transcriptions",
                    json={"file_id": file_id, "title": f"bench {index}"},
                    headers=headers,
                )
                job = created.json()["id"]
                await client.post(f"/api/v1/transcriptions/{job}:cancel", headers=headers)
            while (await client.get("/api/v1/admin/queue", headers=headers)).json()["running"]:
                await asyncio.sleep(0.1)
            page = await client.get(f"/api/v1/transcriptions?limit={ROWS}", headers=headers)
            if len(page.json()["items"]) != ROWS:
                raise RuntimeError("the listing does not show every transcription")
        raw_headers = [(b"host", b"bench"), (b"authorization", f"Bearer {key['key']}".encode())]
        query = f"limit={ROWS}".encode()
        for _ in range(50):  # warm up
            await _asgi_get(app, "/api/v1/transcriptions", query, raw_headers)
        started = time.process_time()
        for _ in range(requests):
            await _asgi_get(app, "/api/v1/transcriptions", query, raw_headers)
        return (time.process_time() - started) * 1000 / requests
    finally:
        core.close(timeout=10.0)


def list_cpu_ms(requests: int = 1000) -> float:
    """`list_cpu_ms`, on a fresh Core in a temporary data directory (uvloop, as the server)."""
    import uvloop

    with (
        tempfile.TemporaryDirectory(prefix="scriberr-bench-cpu-") as scratch,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        return round(runner.run(_list_cpu(requests, Path(scratch) / "data")), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per measurement")
    parser.add_argument("--upload-mb", type=int, default=500)
    parser.add_argument("--speech-seconds", type=float, default=600.0)
    parser.add_argument(
        "--engine-threads", default="1", help="SPEECH_ENGINE_THREADS for the server"
    )
    parser.add_argument(
        "--cpu-only", action="store_true", help="measure only list_cpu_ms (no server)"
    )
    parser.add_argument(
        "--security-only", action="store_true", help="only the login-timing and flood figures"
    )
    arguments = parser.parse_args()
    if arguments.security_only:
        with tempfile.TemporaryDirectory(prefix="scriberr-bench-") as scratch:
            port = _free_port()
            with _serve(Path(scratch) / "data", port, arguments.engine_threads) as server:
                base = f"http://{HOST}:{port}"
                with httpx.Client(base_url=base, timeout=120) as client:
                    admin = _setup(client)
                print(json.dumps(_security(base, port, server.pid, admin)))
        return 0
    cpu_ms = list_cpu_ms(arguments.requests)
    print(f"list cpu: {cpu_ms:.3f} ms per request (in-process)", flush=True)
    if arguments.cpu_only:
        print(json.dumps({"list_cpu_ms": cpu_ms}))
        return 0
    with tempfile.TemporaryDirectory(prefix="scriberr-bench-") as scratch:
        workdir = Path(scratch)
        data_dir = workdir / "data"
        port = _free_port()
        base = f"http://{HOST}:{port}"
        with _serve(data_dir, port, arguments.engine_threads) as server:
            client = httpx.Client(base_url=base, timeout=120)
            headers = _setup(client)
            security = _security(base, port, server.pid, headers)
            _make_rows(client, headers)
            print(f"server on {base}, {ROWS} transcriptions", flush=True)

            idle_rows, idle_health = _measure(port, headers, arguments.requests)
            print(f"idle   list {_summary(idle_rows)}  health {_summary(idle_health)}", flush=True)

            speech = _long_speech(workdir / "speech.wav", arguments.speech_seconds)
            speech_id = _upload(client, headers, speech)["id"]
            job = client.post(
                "/api/v1/transcriptions", json={"file_id": speech_id}, headers=headers
            ).json()["id"]
            _wait(lambda: _status(client, headers, job)["progress_stage"] == "transcribing", 300)
            busy_rows, busy_health = _measure(port, headers, arguments.requests)
            still = _status(client, headers, job)
            print(
                f"busy   list {_summary(busy_rows)}  health {_summary(busy_health)}  "
                f"(job {still['status']}, stage {still['progress_stage']}, "
                f"progress {still['progress']:.2f})",
                flush=True,
            )
            if still["status"] != "processing":
                print("warning: the transcription ended during the busy measurement", flush=True)
            client.post(f"/api/v1/transcriptions/{job}:cancel", headers=headers)
            _wait(lambda: _status(client, headers, job)["status"] != "processing", 120)

            small_mb = max(1, arguments.upload_mb // 10)
            small = _big_wav(workdir / "small.wav", small_mb)
            small_rate, small_peak, small_before = _upload_with_rss(
                client, headers, small, server.pid
            )
            small.unlink()
            print(
                f"upload {small_mb} MB: {small_rate:.1f} MB/s, server RSS {small_before:.0f} -> "
                f"peak {small_peak:.0f} MB",
                flush=True,
            )
            big = _big_wav(workdir / "big.wav", arguments.upload_mb)
            rate, peak, before = _upload_with_rss(client, headers, big, server.pid)
            big.unlink()
            print(
                f"upload {arguments.upload_mb} MB: {rate:.1f} MB/s, server RSS {before:.0f} -> "
                f"peak {peak:.0f} MB",
                flush=True,
            )
            client.close()
    result = {
        "list_cpu_ms": cpu_ms,
        "idle_p95_ms": _summary(idle_rows)["p95"],
        "busy_p95_ms": _summary(busy_rows)["p95"],
        "health_idle_p95_ms": _summary(idle_health)["p95"],
        "health_busy_p95_ms": _summary(busy_health)["p95"],
        "upload_mb_per_s": round(rate, 1),
        "upload_peak_rss_mb": round(peak, 1),
        **security,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
