"""Web app benchmark: bundle size, cold page loads and the cost of one highlight update, in
Debian's headless Chromium against a real `scriberr serve` on a loopback port.

Data is seeded directly into the database (no engine runs): 200 completed transcriptions with
short fake transcripts, plus one 2-hour transcript of about 20,000 words (on the JFK recording
as its audio file, uploaded through the API).

    .venv/bin/python bench/web.py [--runs 5]

Keys of the JSON object on the last line (targets in brackets):
- `bundle_kb_gz`: JS + CSS of `web/dist/assets` after gzip, in KB [≤ 250];
- `library_ready_ms`: median cold load (fresh browser context, signed in by cookie) of `/`
  with 200 transcriptions until the first page of rows is rendered [≤ 1500];
- `reader_ready_ms`: the same for the reader of the 20,000-word transcript until its words are
  on screen [≤ 1000];
- `highlight_frame_ms_p95`: p95 of one highlight update while "playing" that transcript (word
  after word from several places), including the style and layout it forces [≤ 4].
Needs a built app (`scripts/install`) and `/usr/bin/chromium`. Only loopback is used.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    JFK,
    WEB_DIST,
    start_server,
    stop_server,
)

PASSWORD = "correct horse battery staple"
VOCAB = [
    *("the", "of", "and", "to", "in", "we", "our", "this", "that", "is", "for", "it", "with"),
    *("as", "was", "on", "be", "at", "by", "not", "are", "from", "you", "all", "have", "new"),
    *("more", "an", "can", "will", "one", "about", "there", "people", "would", "their", "what"),
    *("country", "nation", "freedom", "future", "energy", "science", "together", "world"),
]


def bundle_kb_gz() -> float:
    total = 0
    for path in sorted((WEB_DIST / "assets").glob("*")):
        if path.suffix in (".js", ".css"):
            total += len(gzip.compress(path.read_bytes(), compresslevel=9))
    return round(total / 1024, 1)


def fake_transcript(words: int, speakers: int, rng: random.Random) -> dict[str, Any]:
    """A transcript shaped like the engine's: ~8 words per segment, speaker turns, word times."""
    out_words: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    t = 0.0
    speaker = 0
    while len(out_words) < words:
        if rng.random() < 0.15:
            speaker = (speaker + 1) % speakers
        label = f"SPEAKER_{speaker:02d}"
        count = min(rng.randint(5, 14), words - len(out_words))
        seg_words = []
        for i in range(count):
            token = rng.choice(VOCAB)
            if i == 0:
                token = token.capitalize()
            if i == count - 1:
                token += "."
            length = 0.15 + rng.random() * 0.3
            seg_words.append({"start": round(t, 3), "end": round(t + length, 3), "word": token})
            t += length + 0.05
        for w in seg_words:
            w["speaker"] = label
        out_words.extend(seg_words)
        segments.append(
            {
                "id": f"seg_{len(segments) + 1:06d}",
                "start": seg_words[0]["start"],
                "end": seg_words[-1]["end"],
                "speaker": label,
                "text": " ".join(w["word"] for w in seg_words),
            }
        )
        t += 0.4
    return {
        "text": " ".join(s["text"] for s in segments),
        "language": "en",
        "duration": round(t, 2),
        "segments": segments,
        "words": out_words,
        "speakers": [{"label": f"SPEAKER_{i:02d}", "name": None} for i in range(speakers)],
        "engine": {"provider": "fake", "transcription_model": "fake"},
    }


def seed(data_dir: Path, user_id: str, file_id: str) -> str:
    """200 completed transcriptions + one 20,000-word one, written straight into the database."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from scriberr.clock import utcnow
    from scriberr.ids import new_id
    from scriberr.persistence.models import Transcription

    rng = random.Random(7)
    engine = create_engine(f"sqlite:///{data_dir / 'scriberr.db'}")
    now = utcnow()
    big_id = new_id("tr")
    with Session(engine) as session:
        for i in range(200):
            text = fake_transcript(60, 1, rng)
            when = now - timedelta(minutes=i)
            session.add(
                Transcription(
                    id=new_id("tr"),
                    user_id=user_id,
                    file_id=file_id,
                    title=f"Meeting {i + 1:03d}",
                    options={},
                    status="completed",
                    progress=1.0,
                    progress_stage="completed",
                    language="en",
                    diarization=False,
                    transcript=json.dumps(text),
                    queued_at=when,
                    started_at=when,
                    completed_at=when,
                    created_at=when,
                    updated_at=when,
                )
            )
        big = fake_transcript(20_000, 3, rng)
        session.add(
            Transcription(
                id=big_id,
                user_id=user_id,
                file_id=file_id,
                title="Two-hour hearing",
                options={"diarization": True},
                status="completed",
                progress=1.0,
                progress_stage="completed",
                language="en",
                diarization=True,
                transcript=json.dumps(big),
                queued_at=now,
                started_at=now,
                completed_at=now,
                created_at=now - timedelta(days=1),
                updated_at=now - timedelta(days=1),
            )
        )
        session.commit()
    engine.dispose()
    return big_id


def cold_load(browser: Any, base: str, path: str, ready: str) -> float:
    """ms from navigation start until `ready` (a JS expression) holds, in a fresh context."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        login = context.request.post(
            base + "/api/v1/auth/login", data={"username": "bench", "password": PASSWORD}
        )
        assert login.ok, login.text()
        page = context.new_page()
        page.goto(base + path, wait_until="commit")
        page.wait_for_function(ready, timeout=60_000, polling="raf")
        return float(page.evaluate("() => performance.now()"))
    finally:
        context.close()


def highlight_costs(browser: Any, base: str, reader_path: str) -> list[float]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        context.request.post(
            base + "/api/v1/auth/login", data={"username": "bench", "password": PASSWORD}
        )
        page = context.new_page()
        page.goto(base + reader_path)
        page.wait_for_function("() => window.scriberrHighlightAt && document.querySelector('.w')")
        costs = page.evaluate(
            """async () => {
              const starts = Array.from(document.querySelectorAll('.w'), (w) => Number(w.dataset.start));
              const costs = [];
              const frame = () => new Promise((r) => requestAnimationFrame(r));
              // Play 300 words from each of several places (the view follows, rows re-render).
              for (const from of [0, 1800, 3600, 5400, 7000, 900, 4500]) {
                let t = from;
                for (let i = 0; i < 300; i += 1) {
                  const t0 = performance.now();
                  const index = window.scriberrHighlightAt(t);
                  document.querySelector('.w.active')?.getBoundingClientRect();
                  costs.push(performance.now() - t0);
                  await frame();
                  t += 0.42;
                }
              }
              return costs;
            }"""
        )
        return [float(c) for c in costs]
    finally:
        context.close()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (WEB_DIST / "index.html").is_file():
        sys.exit("web/dist is missing: run scripts/install (needs Node.js 20+)")
    if not CHROMIUM.is_file():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    result: dict[str, Any] = {"bundle_kb_gz": bundle_kb_gz()}
    print(f"bundle: {result['bundle_kb_gz']} KB gzipped", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="scriberr-bench-web-"))
    server = start_server(workdir / "data", SPEECH_ENGINE_PRELOAD="none")
    try:
        base = server.base_url
        with httpx.Client(base_url=base, timeout=60) as http:
            tokens = http.post(
                "/api/v1/auth/register",
                json={"username": "bench", "password": PASSWORD, "confirm_password": PASSWORD},
            ).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            with JFK.open("rb") as handle:
                uploaded = http.post(
                    "/api/v1/files", files={"file": ("jfk.flac", handle)}, headers=headers
                ).json()
        big_id = seed(server.data_dir, tokens["user"]["id"], uploaded["id"])
        print("seeded 200 transcriptions and a 20,000-word transcript", flush=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                library_ready = "() => document.querySelectorAll('.item[data-id]').length >= 50"
                reader_ready = "() => document.querySelectorAll('.w').length > 100"
                cold_load(browser, base, "/", library_ready)  # warm the server's caches once
                library = [cold_load(browser, base, "/", library_ready) for _ in range(args.runs)]
                print(f"library ready ms: {[round(x) for x in library]}", flush=True)
                reader_path = f"/transcriptions/{big_id}"
                reader = [
                    cold_load(browser, base, reader_path, reader_ready) for _ in range(args.runs)
                ]
                print(f"reader ready ms: {[round(x) for x in reader]}", flush=True)
                costs = highlight_costs(browser, base, reader_path)
                print(
                    f"highlight updates: {len(costs)}, median {statistics.median(costs):.3f} ms",
                    flush=True,
                )
            finally:
                browser.close()
        result["library_ready_ms"] = round(statistics.median(library))
        result["reader_ready_ms"] = round(statistics.median(reader))
        result["highlight_frame_ms_p95"] = round(p95(costs), 3)
    finally:
        stop_server(server.process)
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    started = time.monotonic()
    main()
