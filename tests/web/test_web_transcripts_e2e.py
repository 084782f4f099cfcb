"""Working on transcripts in the web app, end to end (issue 12, item 6): naming speakers inline,
correcting a segment in place (and a stale copy answered in plain words), revisions with revert,
and search across all transcripts jumping to the hit's time in the reader.

Debian's Chromium (driven by Playwright) against a real `scriberr serve` with the real engine and
real audio; the same guards as `test_web_e2e.py` (no other-origin request, no console error).
The tests run in order on one signed-in page.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.web import test_web_e2e as base
from tests.web.conftest import JFK, SAMPLE
from tests.web.test_web_e2e import (
    JOB_TIMEOUT_MS,
    PASSWORD,
    USERNAME,
    Browser,
    no_horizontal_scroll,
    shoot,
    upload,
)

# The signed-in page and its per-test guards, shared with the web app's main browser tests.
browser = base.browser
ui = base.ui

pytestmark = [pytest.mark.e2e, pytest.mark.engine, pytest.mark.slow]


def api_get(ui: Browser, path: str) -> httpx.Response:
    response = httpx.get(
        ui.base_url + path, headers={"Authorization": f"Bearer {ui.api_token()}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response


def open_completed(ui: Browser, job_id: str) -> None:
    page = ui.page
    page.locator(f'.item[data-id="{job_id}"][data-status="completed"]').wait_for(
        timeout=JOB_TIMEOUT_MS
    )
    page.locator(f'.item[data-id="{job_id}"] .item-title').click()
    page.locator(".seg").first.wait_for()


def transcript_text(page: Any) -> str:
    return re.sub(r"\s+", " ", page.locator(".tx-scroll").inner_text())


def test_register(ui: Browser) -> None:
    ui.goto("/")
    page = ui.page
    page.get_by_role("heading", name="Create the first account").wait_for()
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Library").wait_for()


def test_name_a_speaker_inline(ui: Browser) -> None:
    page = ui.page
    job_id = upload(ui, SAMPLE, diarize=True)
    open_completed(ui, job_id)
    ui.state["sample"] = job_id
    legend = page.get_by_role("list", name="Speakers")
    legend.get_by_role("button", name=re.compile(r"\(SPEAKER_00\)")).click()
    field = page.get_by_label("Name for SPEAKER_00")
    field.fill("Alice")
    field.press("Enter")
    legend.get_by_role("button", name="Rename Alice (SPEAKER_00)").wait_for()
    # The name shows in the transcript's speaker headings too, and only for SPEAKER_00.
    page.locator('.seg[data-speaker="SPEAKER_00"] .seg-speaker', has_text="Alice").first.wait_for()
    assert (
        page.locator('.seg[data-speaker="SPEAKER_01"] .seg-speaker', has_text="Alice").count() == 0
    )
    txt = api_get(ui, f"/api/v1/transcriptions/{job_id}/transcript?format=txt").text
    assert "Alice" in txt
    body = api_get(ui, f"/api/v1/transcriptions/{job_id}/transcript").json()
    assert {"label": "SPEAKER_00", "name": "Alice"} in [
        {"label": s["label"], "name": s["name"]} for s in body["speakers"]
    ]
    # Labels never change.
    assert {s["speaker"] for s in body["segments"]} == {"SPEAKER_00", "SPEAKER_01"}
    shoot(ui, "reader-speakers")


def test_edit_a_segment_in_place(ui: Browser) -> None:
    page = ui.page
    ui.goto("/")
    page.get_by_role("heading", name="Library").wait_for()
    job_id = upload(ui, JFK)
    open_completed(ui, job_id)
    ui.state["jfk"] = job_id
    original = api_get(ui, f"/api/v1/transcriptions/{job_id}/transcript").json()
    ui.state["jfk_original"] = original
    segment = original["segments"][0]
    new_text = segment["text"].strip() + " indeed zanzibar"
    first = page.locator(".seg").first
    first.get_by_role("button", name=re.compile(r"^Edit segment at")).click()
    first.get_by_label("Segment text").fill(new_text)
    # At phone width the editor fits without sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    assert no_horizontal_scroll(page)
    page.set_viewport_size({"width": 1280, "height": 860})
    first.get_by_role("button", name="Save").click()
    page.locator(".seg").first.locator(".seg-text", has_text="zanzibar").wait_for()
    # Keyboard focus goes back to the segment's Edit button.
    page.wait_for_function("() => document.activeElement?.classList.contains('seg-edit')")
    after = api_get(ui, f"/api/v1/transcriptions/{job_id}/transcript").json()
    edited = next(s for s in after["segments"] if s["id"] == segment["id"])
    assert edited["text"].strip() == new_text
    assert edited["edited"] is True
    assert after["revision"] == 1


def test_a_stale_edit_is_explained_and_reloaded(ui: Browser) -> None:
    page = ui.page
    job_id = ui.state["jfk"]
    first = page.locator(".seg").first
    first.get_by_role("button", name=re.compile(r"^Edit segment at")).click()
    first.get_by_label("Segment text").fill("this save must lose")
    # Meanwhile someone else saves a change through the API.
    current = httpx.get(
        f"{ui.base_url}/api/v1/transcriptions/{job_id}/transcript",
        headers={"Authorization": f"Bearer {ui.api_token()}"},
        timeout=30,
    )
    seg = current.json()["segments"][-1]
    response = httpx.patch(
        f"{ui.base_url}/api/v1/transcriptions/{job_id}/transcript",
        headers={
            "Authorization": f"Bearer {ui.api_token()}",
            "If-Match": current.headers["etag"],
        },
        json={"segments": [{"id": seg["id"], "text": seg["text"].strip() + " elsewhere"}]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    first.get_by_role("button", name="Save").click()
    page.locator(".notice", has_text="Someone else changed this transcript").wait_for()
    page.locator(".tx-scroll", has_text="elsewhere").wait_for()
    assert "this save must lose" not in transcript_text(page)
    after = api_get(ui, f"/api/v1/transcriptions/{job_id}/transcript").json()
    assert after["revision"] == 2
    # Chromium logs every 4xx response as "Failed to load resource"; this 412 is the expected
    # answer (handled above), so only that one line is allowed.
    ui.console_errors[:] = [e for e in ui.console_errors if "status of 412" not in e]


def test_revisions_list_and_revert(ui: Browser) -> None:
    page = ui.page
    job_id = ui.state["jfk"]
    page.get_by_text(re.compile(r"^Revisions \(current: 2\)")).click()
    revisions = page.get_by_role("list", name="Revisions")
    revisions.locator('li[data-revision="0"]').wait_for()
    assert revisions.locator("li").count() == 3
    assert "Transcription engine" in revisions.locator('li[data-revision="0"]').inner_text()
    assert USERNAME in revisions.locator('li[data-revision="1"]').inner_text()
    revisions.get_by_role("button", name="Revert to revision 0").click()
    page.get_by_text(re.compile(r"^Revisions \(current: 3\)")).wait_for()
    page.wait_for_function(
        "() => !document.querySelector('.tx-scroll').innerText.includes('zanzibar')"
    )
    text = transcript_text(page).lower()
    assert "ask not what your country can do for you" in text
    assert "elsewhere" not in text
    after = api_get(ui, f"/api/v1/transcriptions/{job_id}/transcript").json()
    original = ui.state["jfk_original"]
    assert [s["text"] for s in after["segments"]] == [s["text"] for s in original["segments"]]
    assert after["revision"] == 3
    shoot(ui, "reader-revisions")


def test_search_all_transcripts_and_jump_to_the_hit(ui: Browser) -> None:
    page = ui.page
    ui.goto("/")
    page.get_by_role("heading", name="Library").wait_for()
    page.get_by_label("Search", exact=True).fill("country")
    results = page.get_by_role("region", name="Matches in transcripts")
    hit = results.locator(f'a.hit[href^="/transcriptions/{ui.state["jfk"]}?t="]').first
    hit.wait_for()
    assert results.locator("mark", has_text=re.compile("country", re.I)).count() >= 1
    # The snippet's markup is the <mark> only: no other element came from the server's text.
    assert results.locator(".hit-snippet *:not(mark):not(span)").count() == 0
    start = float(hit.get_attribute("data-start") or "nan")
    api_hits = api_get(ui, "/api/v1/search?q=country").json()["items"]
    assert any(
        h["transcription_id"] == ui.state["jfk"] and abs(h["start"] - start) < 0.001
        for h in api_hits
    )
    page.set_viewport_size({"width": 390, "height": 844})
    assert no_horizontal_scroll(page)
    shoot(ui, "library-search")
    page.set_viewport_size({"width": 1280, "height": 860})
    hit.click()
    page.locator(".w").first.wait_for()
    page.wait_for_function(
        "(t) => { const a = document.querySelector('audio');"
        " return a && a.readyState >= 1 && Math.abs(a.currentTime - t) <= 0.5 }",
        arg=start,
    )
    current = page.evaluate("() => document.querySelector('audio').currentTime")
    assert abs(current - start) <= 0.5
    assert "country" in transcript_text(page).lower()
