"""The photo page in a real browser: titled by its date, the clip played once (or looped, remembered),
a keep-still area painted and sent with a new clip (scene motion off), every version listed, one chosen,
one deleted, the localhost warning in the share dialog, the clip first on a phone, and the words for a
drifting sky.

The screenshots docs/screenshots/photo-page.jpg and phone.jpg come from here.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from tests.fixture_paths import FIXTURES
from tests.test_browser import ARTIFACTS, CHROMIUM, CLIP_READY_MS, LOADED_IMAGE, assert_fits_width, server

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
EMAIL, PASSWORD = "grandpa@example.org", "another long family password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
__all__ = ["server"]  # the module-scoped `vivant serve` of tests/test_browser.py


def _shot(page: Page, name: str) -> bytes:
    ARTIFACTS.mkdir(exist_ok=True)
    return page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _document(png: bytes, path: Path, *, width: int) -> None:
    """A screenshot for the README: JPEG at `width` CSS pixels, small enough to keep in the repository."""
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    shot.resize((width, round(width * shot.height / shot.width)), Image.Resampling.LANCZOS).save(
        path, quality=72, optimize=True
    )


def test_photo_page_versions_brush_and_viewing(server: str) -> None:
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # The first account (this module has its own server) adds one photo.
        page.goto(server + "/setup")
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=password_again]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(server + "/")
        csrf = page.get_attribute('meta[name="csrf-token"]', "content") or ""
        photo_path = FIXTURES / "photos" / "einstein.jpg"
        added = page.request.post(
            server + "/api/photos",
            multipart={
                "files": {"name": "einstein.jpg", "mimeType": "image/jpeg", "buffer": photo_path.read_bytes()}
            },
            headers={"X-CSRF-Token": csrf},
        )
        assert added.status == 201, added.text()
        photo_id = added.json()[0]["id"]

        # Titled by the day it was taken, not by its file name.
        page.goto(f"{server}/photos/{photo_id}")
        title = page.locator("h1.photo-title").inner_text()
        assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", title), title
        assert page.title() == f"{title} · Vivant" and "einstein" not in page.title()
        expect(page.locator("[data-clip-video]")).to_be_visible(timeout=CLIP_READY_MS)

        # Played once, it settles on its last frame; "Loop" keeps it going, and is remembered.
        assert page.eval_on_selector("[data-clip-video]", "v => v.loop") is False
        page.wait_for_function("() => document.querySelector('[data-clip-video]').ended", timeout=30_000)
        page.check("[data-loop-toggle]")
        page.wait_for_function("() => !document.querySelector('[data-clip-video]').ended", timeout=10_000)
        page.reload()
        expect(page.locator("[data-loop-toggle]")).to_be_checked()
        assert page.eval_on_selector("[data-clip-video]", "v => v.loop") is True

        # About this clip: plain words, the measures folded away.
        words = page.locator("[data-about-words]")
        expect(words).to_contain_text("2 seconds long")
        expect(words).to_contain_text("made on this server's CPU")
        expect(page.locator("[data-about] details dl")).to_be_hidden()
        page.click("[data-about] details summary")
        expect(page.locator("[data-about] details")).to_contain_text("einstein.jpg")

        # The keep-still brush: paint the left half, make a new clip; the request carries the mask.
        page.click("[data-brush-toggle]")
        canvas = page.locator("[data-brush-canvas]")
        expect(canvas).to_be_visible()
        page.fill("[data-brush-size]", "60")
        page.evaluate("window.scrollTo(0, 0)")  # the box is in viewport coordinates, where the mouse moves
        box = canvas.bounding_box()
        assert box
        page.mouse.move(box["x"] + 20, box["y"] + 20)
        page.mouse.down()
        for step in range(1, 12):
            page.mouse.move(
                box["x"] + 20 + (step % 2) * box["width"] * 0.3, box["y"] + step * box["height"] / 12
            )
        page.mouse.up()
        page.select_option("[data-new-clip] select[name=camera]", "push")
        page.select_option("[data-new-clip] select[name=ambient]", "off")
        with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/clips")) as asked:
            page.click("[data-new-clip] button[type=submit]")
        body = json.loads(asked.value.post_data or "{}")
        assert body["keep_still"].startswith("data:image/png;base64,")
        assert body["ambient"] == "off"
        versions = page.locator("[data-version-list] .version")
        expect(versions).to_have_count(2)
        expect(versions.first).to_contain_text("keep-still area")
        expect(versions.first).to_contain_text("push-in")
        expect(versions.first).to_contain_text("no scene motion")
        ready = page.locator("[data-version-list] .version strong", has_text="Ready")
        expect(ready).to_have_count(2, timeout=CLIP_READY_MS)
        # Newest ready is shown until the family chooses: the painted one.
        expect(versions.first.locator(".tag")).to_have_text("shown")

        # Choose the first clip instead; the gallery tile then plays it.
        first_row = versions.nth(1)
        first_id = first_row.get_attribute("data-version")
        first_row.locator("[data-choose]").click()
        expect(first_row.locator(".tag")).to_have_text("shown")
        expect(page.locator(f'[data-clip-video="{first_id}"]')).to_be_visible()
        download = versions.first.locator("a[download]")
        assert re.search(r"/media/clips/[0-9a-f]{32}/download$", download.get_attribute("href") or "")

        # Share dialog on localhost: says the link works only on this computer, and how to fix it.
        page.click("[data-open-share]")
        note = page.locator("[data-share-dialog] [data-local-only]")
        expect(note).to_be_visible()
        expect(note).to_contain_text("--host 0.0.0.0")
        expect(note).to_contain_text("VIVANT_PUBLIC_URL")
        page.click("[data-share-dialog] button[type=submit]")
        expect(page.locator("[data-share-url]")).to_have_value(re.compile(r"/s/"))
        page.locator("[data-share-result] [data-close-dialog]").click()
        page.evaluate("window.scrollTo(0, 0)")
        _document(_shot(page, "photo-page-versions"), DOCS / "photo-page.jpg", width=1000)

        # Deleting the chosen clip: the confirm names its link; the other clip is shown again.
        confirms: list[str] = []
        page.once("dialog", lambda d: (confirms.append(d.message), d.accept()))
        first_row.locator("[data-delete-clip]").click()
        expect(versions).to_have_count(1)
        assert "1 share link will stop working" in confirms[0]
        expect(versions.first.locator(".tag")).to_have_text("shown")
        expect(page.locator("[data-share-list] .share-item")).to_have_count(0)

        # A phone: the clip before the original.
        phone = browser.new_context(
            viewport={"width": 375, "height": 812},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            storage_state=context.storage_state(),
        )
        mobile = phone.new_page()
        mobile.goto(f"{server}/photos/{photo_id}")
        expect(mobile.locator("[data-clip-video]")).to_be_visible()
        mobile.wait_for_function(LOADED_IMAGE, arg=mobile.locator("[data-original]").element_handle())
        clip_box = mobile.locator("[data-clip-video]").bounding_box()
        original_box = mobile.locator("[data-original]").bounding_box()
        assert clip_box and original_box
        assert original_box["y"] >= clip_box["y"] + clip_box["height"], "on a phone the clip comes first"
        assert_fits_width(mobile, 375)
        _document(_shot(mobile, "photo-page-phone"), DOCS / "phone.jpg", width=375)
        mobile.goto(server + "/family")
        expect(mobile.locator("[data-local-only]")).to_be_visible()

        # A photo with a sky: "About this clip" says, in words, what moves in the scene itself.
        scene_path = FIXTURES / "scenes" / "sunflowers.jpg"
        added = page.request.post(
            server + "/api/photos",
            multipart={
                "files": {
                    "name": "sunflowers.jpg",
                    "mimeType": "image/jpeg",
                    "buffer": scene_path.read_bytes(),
                }
            },
            headers={"X-CSRF-Token": csrf},
        )
        assert added.status == 201, added.text()
        page.goto(f"{server}/photos/{added.json()[0]['id']}")
        expect(page.locator("[data-clip-video]")).to_be_visible(timeout=CLIP_READY_MS)
        expect(page.locator("[data-about-words]")).to_contain_text(
            "The sky drifts slowly and the light breathes."
        )
        browser.close()
    assert errors == []
