"""An album link in a real browser: made from the album page's Share album dialog, then opened signed out on
a 375-px phone, where the grid shows the album's photos, a tapped clip plays, nothing scrolls sideways, and
Play film plays the album from the link's own files.

The phone screenshot lands in docs/screenshots/shared-album.jpg.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import APIRequestContext, expect, sync_playwright

from tests import test_browser as browser_test
from tests.fixture_paths import FIXTURES
from tests.test_browser import CHROMIUM, CLIP_READY_MS, LOADED_IMAGE, Console, assert_video_plays, shot

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PHOTOS = [FIXTURES / "photos" / name for name in ("einstein.jpg", "dog.png", "hopper.jpg")]
ADMIN = ("nana@example.org", "a long family password")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

server = browser_test.server  # a `vivant serve` of this module's own


def _album_with_clips(request: APIRequestContext, csrf: str) -> str:
    """Uploads the photos, waits (with a deadline) for each one's clip, and puts them in an album."""
    headers = {"X-CSRF-Token": csrf}
    ids = []
    for path in PHOTOS:
        one = {"name": path.name, "mimeType": "application/octet-stream", "buffer": path.read_bytes()}
        response = request.post("/api/photos", headers=headers, multipart={"files": one})
        assert response.status == 201, response.text()
        ids.append(response.json()[0]["id"])
    album = request.post("/api/albums", headers=headers, data={"title": "Summer at the lake"}).json()
    added = request.post(f"/api/albums/{album['id']}/photos", headers=headers, data={"photo_ids": ids})
    assert added.ok, added.text()
    return str(album["id"])


def test_an_album_link_is_made_on_the_album_page_and_watched_on_a_phone(server: str) -> None:
    console = Console()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        member = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=server)
        made = member.request.post("/api/setup", data={"email": ADMIN[0], "password": ADMIN[1]})
        assert made.ok, made.text()
        album_id = _album_with_clips(member.request, made.json()["csrf_token"])

        # 1. The album page: once every clip is there, Share album makes a link, shown once with Copy.
        console.step = "album page"
        page = member.new_page()
        console.watch(page)
        page.goto(f"/albums/{album_id}")
        animated = page.locator(".tile-item:has(.badge.motion)")
        expect(animated).to_have_count(len(PHOTOS), timeout=CLIP_READY_MS)
        page.click("[data-open-album-share]")
        dialog = page.locator("[data-share-dialog]")
        expect(dialog.locator("#share-title")).to_have_text("Share this album")
        # Served on 127.0.0.1 with no public address: the dialog warns where the link is made.
        expect(dialog.locator("[data-local-only]")).to_be_visible()
        dialog.locator("input[name=allow_download]").check()
        dialog.locator("button[type=submit]").click()
        url_box = dialog.locator("[data-share-url]")
        expect(url_box).to_have_value(re.compile(rf"^{re.escape(server)}/s/[\w-]{{22,}}$"))
        expect(dialog.locator("[data-share-result]")).to_be_visible()
        link = url_box.input_value()
        expect(dialog.locator("[data-copy]")).to_be_visible()
        shot(page, "album-share-dialog")
        listed = member.request.get(f"/api/albums/{album_id}/shares").json()
        assert len(listed) == 1 and listed[0]["allow_download"] is True and listed[0]["kind"] == "album"

        # 2. Signed out, on a phone: the grid of the album's photos; a tap plays a clip.
        console.step = "shared album"
        phone = browser.new_context(
            viewport={"width": 375, "height": 812}, has_touch=True, is_mobile=True, device_scale_factor=2
        )
        visitor = phone.new_page()
        console.watch(visitor)
        visitor.goto(link)
        expect(visitor.locator("h1")).to_have_text("Summer at the lake")
        tiles = visitor.locator(".shared-tile")
        expect(tiles).to_have_count(len(PHOTOS))
        for image in visitor.locator(".shared-tile img").all():
            image.scroll_into_view_if_needed()
            visitor.wait_for_function(LOADED_IMAGE, arg=image.element_handle())
        visitor.evaluate("window.scrollTo(0, 0)")
        first = tiles.nth(0)
        first.locator(".tile").tap()
        expect(first).to_have_class(re.compile(r"\bplaying\b"))
        assert visitor.url == link  # the first tap plays; it does not open the photo
        photo_id = first.get_attribute("data-photo-id")
        assert_video_plays(visitor, f'.shared-tile[data-photo-id="{photo_id}"] video')
        scroll_width = visitor.evaluate("document.scrollingElement.scrollWidth")
        assert scroll_width <= 375, f"the page scrolls sideways on a 375-px phone ({scroll_width} px)"
        expect(first.locator(".shared-downloads a")).to_have_count(2)  # downloads were allowed
        DOCS.mkdir(parents=True, exist_ok=True)
        visitor.screenshot(path=str(DOCS / "shared-album.jpg"), quality=80, full_page=True)

        # 3. Play film: the album full screen, from the link's own files, the first clip playing.
        console.step = "player"
        token_path = link.removeprefix(server)
        visitor.locator("[data-play-film]").tap()
        player = visitor.locator(".player")
        expect(player).to_be_visible()
        expect(visitor.locator(".player-count")).to_have_text(f"1 / {len(PHOTOS)}")
        expect(visitor.locator(".player-album")).to_have_text("Summer at the lake")
        visitor.wait_for_function(
            "() => (document.querySelector('.player-layer.current video')?.currentTime ?? 0) > 0.2",
            timeout=CLIP_READY_MS,
        )
        sources = visitor.evaluate(
            "[...document.querySelectorAll('.player video, .player img')].map(e => e.getAttribute('src'))"
        )
        assert sources and all(src.startswith(f"{token_path}/photos/") for src in sources), sources
        original = visitor.locator(".player-original").get_attribute("href") or ""
        assert original.startswith(f"{token_path}/photos/") and "/media/" not in original
        visitor.locator(".player-next").tap()
        expect(visitor.locator(".player-count")).to_have_text(f"2 / {len(PHOTOS)}")
        visitor.locator(".player-close").tap()
        expect(player).to_have_count(0)
        browser.close()
    assert console.errors({}) == []
