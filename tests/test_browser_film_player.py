"""An album played as a film in a real browser: two photos whose real clips (rendered by the server's own
worker) play one after the other, the first ending on its still and fading into the second; the keys, the
buttons, the Original link, closing, and a swipe on a phone; then the film exported as one MP4.

A screenshot of the film mid-way lands in docs/screenshots/film.jpg; the phone's in test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests import test_browser as browser_test
from tests.fixture_paths import FIXTURES
from tests.test_browser import CHROMIUM, CLIP_READY_MS, Console, shot
from worker.film_plan import FilmTiming
from worker.video import VideoInfo, probe

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PHOTOS = [FIXTURES / "photos" / name for name in ("hopper.jpg", "einstein.jpg")]
ADMIN = ("nana@example.org", "a long family password")
# The server's clips last 2 s; a film step (clip, 1.5 s hold, 0.75 s fade) is well within this.
STEP_MS = 20_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

server = browser_test.server  # a `vivant serve` of this module's own

COUNT = ".player-count"
CURRENT_VIDEO = ".player-layer.current video"
# The video of the item at index `i`, once it has moved past `t` seconds.
FADE_DURATION = "() => getComputedStyle(document.querySelector('.player-layer.current')).transitionDuration"
VIDEO_PAST = """([i, t]) => {
  const v = document.querySelector(`.player-layer.current[data-index="${i}"] video`);
  return v !== null && v.currentTime > t;
}"""


def _album_with_clips(browser: Browser, base: str) -> tuple[str, list[str]]:
    """An album of two photos, each with the clip its upload queued; returns once both are ready."""
    setup = browser.new_context(base_url=base).request
    made = setup.post("/api/setup", data={"email": ADMIN[0], "password": ADMIN[1]})
    assert made.ok, made.text()
    csrf = {"X-CSRF-Token": made.json()["csrf_token"]}
    photo_ids = []
    for path in PHOTOS:
        one = {"name": path.name, "mimeType": "application/octet-stream", "buffer": path.read_bytes()}
        response = setup.post("/api/photos", headers=csrf, multipart={"files": one})
        assert response.status == 201, response.text()
        photo_ids.append(response.json()[0]["id"])
    album = setup.post("/api/albums", headers=csrf, data={"title": "Grandpa's garden"})
    assert album.status == 201, album.text()
    album_id = album.json()["id"]
    added = setup.post(f"/api/albums/{album_id}/photos", headers=csrf, data={"photo_ids": photo_ids})
    assert added.ok, added.text()
    # The album lists its photos by date taken: that is the film's order.
    detail = setup.get(f"/api/albums/{album_id}").json()
    return album_id, [p["id"] for p in detail["photos"]]


def _album_page(browser: Browser, base: str, album_id: str, **context: object) -> Page:
    page = browser.new_context(base_url=base, **context).new_page()  # type: ignore[arg-type]
    response = page.request.post("/api/auth/login", data={"email": ADMIN[0], "password": ADMIN[1]})
    assert response.ok, response.text()
    page.goto(f"/albums/{album_id}")
    # Both clips ready: the album polls while they are made, and each tile then carries its motion badge.
    expect(page.locator(".tile .badge.motion")).to_have_count(2, timeout=CLIP_READY_MS)
    return page


def _clip_urls(page: Page, album_id: str) -> list[str]:
    """The video of each photo's shown clip, in the album's order."""
    photos = page.request.get(f"/api/albums/{album_id}").json()["photos"]
    shown = [next(c for c in p["clips"] if c["id"] == p["shown_clip_id"]) for p in photos]
    return [clip["video_url"] for clip in shown]


def _probe(data: bytes, folder: Path) -> VideoInfo:
    path = folder / f"{len(list(folder.iterdir()))}.mp4"
    path.write_bytes(data)
    return probe(path)


def test_an_album_plays_as_a_film(server: str, tmp_path: Path) -> None:
    console = Console()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        album_id, order = _album_with_clips(browser, server)

        # 1. Play film: a dialog over the page, focus inside it, the first clip playing.
        page = _album_page(browser, server, album_id, viewport={"width": 1280, "height": 800})
        console.watch(page)
        console.step = "first clip"
        page.click("[data-play-film]")
        player = page.locator(".player")
        expect(player).to_be_visible()
        expect(player).to_have_attribute("role", "dialog")
        expect(player).to_have_attribute("aria-label", "Album film: Grandpa's garden")
        expect(page.locator(".player-album")).to_have_text("Grandpa's garden")
        assert page.evaluate("document.activeElement.closest('.player') !== null")
        expect(page.locator(COUNT)).to_have_text("1 / 2")
        expect(page.locator(".player-title")).to_have_text(re.compile(r"\b20\d\d$"))
        expect(page.locator(".player-original")).to_have_attribute("href", f"/photos/{order[0]}")
        page.wait_for_function(VIDEO_PAST, arg=[0, 0.3], timeout=STEP_MS)
        assert page.evaluate(FADE_DURATION) == f"{FilmTiming().fade_s}s"  # as long as the exported film's
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / "film.jpg"), quality=80)

        # 2. It ends on its still, held before the fade: the counter still says 1 when the clip is over.
        page.wait_for_function(
            "() => document.querySelector('.player-layer.current[data-index=\"0\"] video')?.ended",
            timeout=STEP_MS,
        )
        expect(page.locator(COUNT)).to_have_text("1 / 2")

        # 3. Into the second clip, whose currentTime moves on from 0.
        console.step = "second clip"
        expect(page.locator(COUNT)).to_have_text("2 / 2", timeout=STEP_MS)
        page.wait_for_function(VIDEO_PAST, arg=[1, 0.2], timeout=STEP_MS)
        expect(page.locator(".player-original")).to_have_attribute("href", f"/photos/{order[1]}")

        # 4. The end: the last still stays, with Play again.
        console.step = "end"
        again = page.locator(".player-again")
        expect(again).to_be_visible(timeout=STEP_MS)
        expect(page.locator(".player-layer.current")).to_have_attribute("data-index", "1")
        again.click()
        expect(page.locator(COUNT)).to_have_text("1 / 2")
        page.wait_for_function(VIDEO_PAST, arg=[0, 0.1], timeout=STEP_MS)

        # 5. Keys: → skips to the next; Space pauses (time stands still) and plays on; ← goes back.
        console.step = "keys"
        page.keyboard.press("ArrowRight")
        expect(page.locator(COUNT)).to_have_text("2 / 2")
        page.wait_for_function(VIDEO_PAST, arg=[1, 0.1], timeout=STEP_MS)
        page.keyboard.press(" ")
        page.wait_for_function(f"() => document.querySelector('{CURRENT_VIDEO}').paused")
        expect(page.locator(".player-toggle")).to_have_attribute("aria-label", "Play (Space)")
        stopped = page.eval_on_selector(CURRENT_VIDEO, "v => v.currentTime")
        page.wait_for_timeout(600)  # a pause is the absence of motion: look again a little later
        assert page.eval_on_selector(CURRENT_VIDEO, "v => v.currentTime") == stopped
        expect(page.locator(COUNT)).to_have_text("2 / 2")
        page.keyboard.press(" ")
        page.wait_for_function(VIDEO_PAST, arg=[1, stopped + 0.2], timeout=STEP_MS)
        page.keyboard.press("ArrowLeft")
        expect(page.locator(COUNT)).to_have_text("1 / 2")
        expect(page.locator(".player-original")).to_have_attribute("href", f"/photos/{order[0]}")

        # The same with the buttons.
        console.step = "buttons"
        page.click(".player-next")
        expect(page.locator(COUNT)).to_have_text("2 / 2")
        expect(page.locator(".player-next")).to_be_disabled()
        page.click(".player-previous")
        expect(page.locator(COUNT)).to_have_text("1 / 2")

        # 6. Esc closes it, and focus goes back to the button that opened it.
        console.step = "close"
        page.keyboard.press("Escape")
        expect(player).to_have_count(0)
        assert page.evaluate("document.activeElement.matches('[data-play-film]')")
        assert page.evaluate("document.fullscreenElement") is None
        page.click("[data-play-film]")
        expect(player).to_be_visible()
        page.click(".player-close")
        expect(player).to_have_count(0)

        # 7. A phone (asking for less motion): a swipe left goes to the next photo, right back again.
        console.step = "phone"
        phone = _album_page(
            browser,
            server,
            album_id,
            viewport={"width": 375, "height": 740},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            reduced_motion="reduce",
        )
        console.watch(phone)
        phone.locator("[data-play-film]").tap()
        expect(phone.locator(COUNT)).to_have_text("1 / 2")
        assert phone.evaluate(FADE_DURATION) == "0s"  # no cross-fade for who asked for less motion
        cdp = phone.context.new_cdp_session(phone)

        def swipe(from_x: int, to_x: int) -> None:
            """A finger across the middle of the screen, as the phone's own touch events."""
            xs = [from_x + (to_x - from_x) * step // 5 for step in range(6)]
            for kind, x in [("touchStart", xs[0])] + [("touchMove", x) for x in xs[1:]]:
                cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": 400}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

        swipe(300, 60)
        expect(phone.locator(COUNT)).to_have_text("2 / 2")
        phone.wait_for_function(VIDEO_PAST, arg=[1, 0.1], timeout=STEP_MS)
        for control in (".player-close", ".player-original", ".player-previous", ".player-next"):
            box = phone.locator(control).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375, control
        shot(phone, "film-phone")
        swipe(60, 300)
        expect(phone.locator(COUNT)).to_have_text("1 / 2")

        # 8. Export film: followed to its download, which decodes as H.264 and lasts what its clips make.
        console.step = "export"
        page.click("[data-export-film]")
        download = page.locator("[data-film-download]")
        expect(download).to_be_visible(timeout=CLIP_READY_MS)
        expect(page.locator("[data-film-status]")).to_contain_text("The film is ready")
        film_bytes = page.request.get(download.get_attribute("href") or "").body()
        clips = [page.request.get(url).body() for url in _clip_urls(page, album_id)]
        browser.close()
    timing = FilmTiming()
    clip_frames = [
        round(_probe(clip, tmp_path).frames * timing.fps / _probe(clip, tmp_path).fps) for clip in clips
    ]
    film = _probe(film_bytes, tmp_path)
    assert (film.codec, film.pix_fmt) == ("h264", "yuv420p")
    assert (
        film.frames
        == sum(n + timing.hold_frames for n in clip_frames) - (len(clips) - 1) * timing.fade_frames
    )
    assert console.errors({}) == []
