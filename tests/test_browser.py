"""The pages in a real browser: Debian's chromium driven by Playwright against `vivant serve`.

One journey, step by step, as a family would take it: set up, upload, watch clips arrive, open a photo,
share its clip, watch it logged out, revoke it, look at it all on a phone, and find every link of the
library on the Links page. Screenshots of each step land in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.fixture_paths import FIXTURES

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PHOTOS = [FIXTURES / "photos" / name for name in ("einstein.jpg", "dog.png", "hopper.jpg")]
EMAIL = "grandma@example.org"
PASSWORD = "a long family password"
SHARE_PASSWORD = "for the cousins"
COUSIN_EMAIL, COUSIN_PASSWORD = "cousin@example.org", "cousin's own password"

# A clip renders on the CPU next to the browser: give it time, but never wait without a deadline.
SERVER_START_S = 90
CLIP_READY_MS = 240_000
LOADED_IMAGE = "img => img.complete && img.naturalWidth > 0"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`vivant serve` exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if json.load(response).get("status") == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"`vivant serve` was not healthy within {SERVER_START_S} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("vivant-data")
    log = data_dir / "serve.log"
    port = _free_port()
    vivant = Path(sys.executable).with_name("vivant")
    env = dict(os.environ)
    for name in [k for k in env if k.startswith("VIVANT_")]:
        del env[name]
    # Short clips keep the CPU render quick; the pages do not care how long a clip is.
    env |= {"VIVANT_DEFAULT_SECONDS": "2", "VIVANT_DEFAULT_FPS": "12", "OMP_NUM_THREADS": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(vivant), "serve", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=data_dir,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Console:
    """Console messages of every page, tagged with the step they happened in."""

    step: str = "start"
    messages: list[tuple[str, str, str]] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", lambda msg: self.messages.append((self.step, msg.type, msg.text)))
        page.on("pageerror", lambda exc: self.messages.append((self.step, "error", f"uncaught: {exc}")))

    def errors(self, expected_http_errors: dict[str, str]) -> list[tuple[str, str, str]]:
        """Errors, less the "Failed to load resource" lines of requests a step meant to fail."""
        found = []
        for step, kind, text in self.messages:
            allowed = expected_http_errors.get(step)
            if kind != "error" or (allowed and "Failed to load resource" in text and allowed in text):
                continue
            found.append((step, kind, text))
        return found


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_video_plays(page: Page, selector: str) -> None:
    """readyState >= 2 (a frame to show) and currentTime moving: the clip really plays. A clip that
    played once and settled on its last frame is started again, as a person would."""
    page.wait_for_function(
        "s => { const v = document.querySelector(s); return v && v.readyState >= 2; }",
        arg=selector,
        timeout=30_000,
    )
    page.eval_on_selector(selector, "v => { if (v.ended) { v.currentTime = 0; v.play(); } }")
    start = page.eval_on_selector(selector, "v => v.currentTime")
    page.wait_for_function(
        "([s, t]) => document.querySelector(s).currentTime > t + 0.2", arg=[selector, start], timeout=15_000
    )


def assert_fits_width(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page scrolls sideways on a {width}-px screen ({scroll_width} px)"


def test_family_journey(server: str) -> None:
    console = Console()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        member = browser.new_context(viewport={"width": 1280, "height": 860})
        page = member.new_page()
        console.watch(page)

        # 1. A new server sends the first visitor to the setup page; the new admin lands in an empty gallery.
        console.step = "setup"
        page.goto(server + "/")
        expect(page).to_have_url(server + "/setup")
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=password_again]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(server + "/")
        expect(page.locator("[data-gallery-empty]")).to_be_visible()
        expect(page.locator("[data-gallery-empty] a[href='/upload']")).to_be_visible()
        expect(page.locator(".site-nav .who")).to_have_text(EMAIL)
        shot(page, "01-gallery-empty")

        # The admin adds a cousin on the family page; the new row appears without a reload.
        console.step = "family"
        page.click(".site-nav a[href='/family']")
        expect(page.locator("[data-member-list] .member")).to_have_count(1)
        page.fill("[data-add-member] input[name=email]", COUSIN_EMAIL)
        page.fill("[data-add-member] input[name=password]", "short")
        page.click("[data-add-member] button[type=submit]")
        expect(page.locator("[data-add-member] .form-error")).to_contain_text("at least 8 characters")
        page.fill("[data-add-member] input[name=password]", COUSIN_PASSWORD)
        page.click("[data-add-member] button[type=submit]")
        expect(page.locator(f'[data-member="{COUSIN_EMAIL}"]')).to_be_visible()
        expect(page.locator("[data-added]")).to_contain_text(COUSIN_EMAIL)
        expect(page.locator("[data-add-member] .form-error")).to_be_hidden()
        shot(page, "01b-family")

        # 2. Three photos through the file input, each on its own row.
        console.step = "upload"
        page.click(".site-nav a[href='/upload']")
        page.set_input_files("[data-file-input]", [str(path) for path in PHOTOS])
        rows = page.locator(".upload-row")
        expect(rows).to_have_count(3)
        expect(page.locator(".upload-row.added")).to_have_count(3, timeout=60_000)
        for path in PHOTOS:
            row = rows.filter(has_text=path.name)
            expect(row.locator(".upload-status a")).to_have_text("added")
        expect(page.locator("[data-upload-done]")).to_be_visible()

        # A photo already there and a file that is no photo: each row says so, the refusal in words.
        console.step = "refused-upload"
        page.set_input_files("[data-file-input]", [str(PHOTOS[0]), str(FIXTURES / "bad" / "empty.jpg")])
        expect(page.locator(".upload-row.duplicate .upload-status")).to_have_text("already in your library")
        refused = page.locator(".upload-row.refused .upload-status")
        expect(refused).to_have_count(1)
        expect(refused).not_to_be_empty()
        assert "empty.jpg" in page.locator(".upload-row.refused .upload-name").inner_text()
        assert page.eval_on_selector(
            ".upload-row.refused .upload-status", "e => getComputedStyle(e).color"
        ) == ("rgb(179, 38, 30)")
        shot(page, "02-upload")

        # 3. The gallery shows three tiles, and a clip arrives without a reload.
        console.step = "gallery"
        page.click(".site-nav a[href='/']")
        tiles = page.locator(".tile")
        expect(tiles).to_have_count(3)
        for image in page.locator(".tile img").all():
            page.wait_for_function(LOADED_IMAGE, arg=image.element_handle())
        # The fixtures carry no date taken: all three sit under this month, titled by date, not file name.
        expect(page.locator("section.month .tile")).to_have_count(3)
        expect(page.locator(".month-title")).to_have_count(1)
        assert page.locator(".tile img").first.get_attribute("alt").startswith("Photo added ")
        shot(page, "03-gallery-working")
        ready_badge = page.locator(".tile-item:has(.badge.motion)")
        expect(ready_badge.first).to_be_visible(timeout=CLIP_READY_MS)
        photo_id = ready_badge.first.get_attribute("data-photo-id")
        assert photo_id
        # Pinned by id: `.first` of the badge locator moves as more clips finish.
        ready = page.locator(f'.tile-item[data-photo-id="{photo_id}"]')

        # Hovering a tile with a clip plays it.
        ready.locator("a").hover()
        expect(ready).to_have_class(re.compile(r"\bplaying\b"))
        assert_video_plays(page, f'.tile-item[data-photo-id="{photo_id}"] video')
        page.mouse.move(5, 5)
        expect(ready).not_to_have_class(re.compile(r"\bplaying\b"))
        expect(page.locator(".tile-item:has(.badge.motion)")).to_have_count(3, timeout=CLIP_READY_MS)
        expect(page.locator(".tile progress")).to_have_count(0)
        shot(page, "04-gallery-ready")

        # 4. The photo page: the original and its clip side by side, the same size, the clip playing.
        console.step = "photo"
        ready.locator("a").click()
        expect(page).to_have_url(f"{server}/photos/{photo_id}")
        assert_video_plays(page, "[data-clip-video]")
        photo = json.loads(page.locator("#photo-data").text_content() or "{}")
        video_ratio = page.eval_on_selector("[data-clip-video]", "v => v.videoWidth / v.videoHeight")
        assert video_ratio == pytest.approx(photo["width"] / photo["height"], rel=0.02)
        original_box = page.locator("[data-original]").bounding_box()
        video_box = page.locator("[data-clip-video]").bounding_box()
        assert original_box and video_box
        assert abs(original_box["width"] - video_box["width"]) <= 2
        assert abs(original_box["height"] - video_box["height"]) <= 2
        assert abs(original_box["y"] - video_box["y"]) <= 2, "the clip should sit beside the original"
        expect(page.locator("[data-about-words]")).to_contain_text("seconds long")
        page.click("[data-about] details summary")
        expect(page.locator("[data-about] dt").first).to_be_visible()
        expect(page.locator("[data-about] details")).to_contain_text("PSNR")
        shot(page, "05-photo")

        # 5. Share: the dialog makes a link, shown once, listed as live.
        console.step = "share"
        page.click("[data-open-share]")
        dialog = page.locator("[data-share-dialog]")
        expect(dialog).to_be_visible()
        dialog.locator("input[name=allow_download]").check()
        dialog.locator("button[type=submit]").click()
        url_box = dialog.locator("[data-share-url]")
        expect(url_box).to_have_value(re.compile(rf"^{re.escape(server)}/s/[\w-]{{20,}}$"))
        share_url = url_box.input_value()
        shot(page, "06-share-dialog")
        dialog.locator("[data-share-result] [data-close-dialog]").click()
        expect(dialog).to_be_hidden()
        expect(page.locator("[data-share-list] .share-item")).to_have_count(1)
        expect(page.locator("[data-share-list]")).to_contain_text("download allowed")

        # 6. Someone without an account opens the link: the clip plays, the preview tags are there, and
        # the original is one click away.
        console.step = "shared"
        visitor = browser.new_context(viewport={"width": 1280, "height": 860})
        public = visitor.new_page()
        console.watch(public)
        response = public.goto(share_url)
        assert response and response.status == 200
        assert_video_plays(public, "[data-shared-video]")
        shared_box = public.locator("[data-shared-video]").bounding_box()
        assert shared_box and shared_box["height"] >= 0.6 * 860, "the shared clip should fill the screen"
        og_image = public.get_attribute('meta[property="og:image"]', "content")
        assert og_image == share_url + "/poster"
        assert public.get_attribute('meta[property="og:video"]', "content") == share_url + "/video"
        poster = public.request.get(og_image)
        assert poster.status == 200 and poster.headers["content-type"] == "image/jpeg"
        expect(public.locator('a[href$="/download/video"]')).to_be_visible()
        expect(public.locator(".site-nav")).to_have_count(0)
        shot(public, "07-share-page")
        public.click("[data-toggle-original]")
        original = public.locator("[data-shared-photo]")
        expect(original).to_be_visible()
        expect(public.locator("[data-shared-video]")).to_be_hidden()
        public.wait_for_function(LOADED_IMAGE, arg=original.element_handle())
        shot(public, "08-share-original")

        # 7. A second link with a password: the visitor sees only the password form until it is right.
        console.step = "share-password"
        page.click("[data-open-share]")
        expect(dialog.locator("[data-share-form]")).to_be_visible()
        dialog.locator("input[name=password]").fill(SHARE_PASSWORD)
        dialog.locator("button[type=submit]").click()
        expect(url_box).not_to_have_value(share_url)
        locked_url = url_box.input_value()
        dialog.locator("[data-share-result] [data-close-dialog]").click()
        expect(page.locator("[data-share-list] .share-item")).to_have_count(2)
        expect(page.locator("[data-share-list]")).to_contain_text("password")
        console.step = "locked"
        response = public.goto(locked_url)
        assert response and response.status == 401
        expect(public.locator("video")).to_have_count(0)
        expect(public.locator('meta[property="og:image"]')).to_have_count(0)
        expect(public.locator('meta[property="og:video"]')).to_have_count(0)
        public.fill("input[name=password]", "not the password")
        public.click("button[type=submit]")
        expect(public.locator(".form-error")).to_have_text("Wrong password. Please try again.")
        shot(public, "09-share-locked")
        public.fill("input[name=password]", SHARE_PASSWORD)
        public.click("button[type=submit]")
        assert_video_plays(public, "[data-shared-video]")

        # 8. Revoking in the member's window closes both links for the visitor.
        console.step = "revoke"
        for remaining in (1, 0):
            page.locator("[data-share-list] .share-item button").first.click()
            expect(page.locator("[data-share-list] .share-item")).to_have_count(remaining)
        expect(page.locator("[data-shares]")).to_be_hidden()
        console.step = "revoked"
        for url in (share_url, locked_url):
            response = public.goto(url)
            assert response and response.status == 404
            assert public.request.get(url + "/video").status == 404
        shot(public, "10-share-revoked")

        # 9. A phone: two columns of tiles, the first tap plays a clip and the second opens the photo,
        # and the photo page stacks the clip over the original.
        console.step = "phone"
        phone = browser.new_context(
            viewport={"width": 375, "height": 812},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            storage_state=member.storage_state(),
        )
        mobile = phone.new_page()
        console.watch(mobile)
        mobile.goto(server + "/")
        expect(mobile.locator(".tile")).to_have_count(3)
        for image in mobile.locator(".tile img").all():
            mobile.wait_for_function(LOADED_IMAGE, arg=image.element_handle())
        assert_fits_width(mobile, 375)
        shot(mobile, "11-phone-gallery")
        tile = mobile.locator(f'.tile-item[data-photo-id="{photo_id}"]')
        tile.locator("a").tap()
        expect(tile).to_have_class(re.compile(r"\bplaying\b"))
        expect(mobile).to_have_url(server + "/")
        tile.locator("a").tap()
        expect(mobile).to_have_url(f"{server}/photos/{photo_id}")
        assert_video_plays(mobile, "[data-clip-video]")
        assert_fits_width(mobile, 375)
        original_box = mobile.locator("[data-original]").bounding_box()
        video_box = mobile.locator("[data-clip-video]").bounding_box()
        assert original_box and video_box
        assert original_box["y"] >= video_box["y"] + video_box["height"], "on a phone the clip comes first"
        shot(mobile, "12-phone-photo")
        mobile.goto(server + "/family")
        expect(mobile.locator(f'[data-member="{COUSIN_EMAIL}"] [data-remove-member]')).to_be_visible()
        assert_fits_width(mobile, 375)
        shot(mobile, "12b-phone-family")

        # 10. Signing out, then back in through a link to a photo: the sign-in page leads back to it.
        console.step = "sign-in"
        page.click("[data-sign-out]")
        expect(page).to_have_url(server + "/login")
        # Back, after signing out, asks the server again (nothing was stored) and lands on the sign-in page,
        # not on the photo with the member's e-mail in the corner.
        page.go_back()
        expect(page).to_have_url(f"{server}/login?next=/photos/{photo_id}")
        expect(page.locator(".site-nav")).to_have_count(0)
        expect(page.locator("[data-original]")).to_have_count(0)
        page.goto(f"{server}/photos/{photo_id}")
        expect(page).to_have_url(f"{server}/login?next=/photos/{photo_id}")
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        expect(page.locator(".form-error")).to_have_text("wrong e-mail or password")
        shot(page, "13-login")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{server}/photos/{photo_id}")
        assert_video_plays(page, "[data-clip-video]")

        # 11. Another clip with other settings: the still with a progress bar, then the new clip swaps in
        # without a reload.
        console.step = "another-clip"
        first_clip = page.get_attribute("[data-clip-video]", "data-clip-video")
        page.click("[data-open-share]")
        dialog.locator("input[name=allow_download]").check()
        dialog.locator("select[name=expires]").select_option("7")
        dialog.locator("button[type=submit]").click()
        expect(url_box).to_have_value(re.compile(r"/s/[\w-]{20,}$"))
        first_clip_url = url_box.input_value()
        dialog.locator("[data-share-result] [data-close-dialog]").click()
        page.select_option("[data-new-clip] select[name=strength]", "whisper")
        page.select_option("[data-new-clip] select[name=camera]", "drift")
        page.check("[data-new-clip] input[name=loop]")
        page.click("[data-new-clip] button[type=submit]")
        expect(page.locator("[data-clip-frame] progress")).to_be_visible()
        expect(page.locator("[data-clip-frame] .still")).to_be_visible()
        expect(page.locator("[data-clip-video]")).to_have_count(0)
        shot(page, "14-photo-new-clip")
        new_video = page.locator(f'[data-clip-video]:not([data-clip-video="{first_clip}"])')
        expect(new_video).to_be_visible(timeout=CLIP_READY_MS)
        expect(page.locator("[data-clip-caption]")).to_have_text("The clip shown everywhere")
        expect(page.locator("[data-version-list] .version").first).to_contain_text("whisper drift · loops")
        assert_video_plays(page, "[data-clip-video]")
        # The first clip's link is still listed, and says which clip it shows: it can still be revoked.
        first_link = page.locator(f'[data-share-list] .share-item[data-clip-id="{first_clip}"]')
        expect(first_link).to_have_count(1)
        expect(first_link).to_contain_text("Clip 1 of 2")
        expect(first_link).not_to_contain_text("(shown)")
        page.click("[data-open-share]")
        dialog.locator("input[name=password]").fill(SHARE_PASSWORD)
        dialog.locator("button[type=submit]").click()
        expect(url_box).not_to_have_value(first_clip_url)
        dialog.locator("[data-share-result] [data-close-dialog]").click()
        share_items = page.locator("[data-share-list] .share-item")
        expect(share_items).to_have_count(2)
        expect(share_items.first).to_contain_text("Clip 2 of 2 (shown)")
        shot(page, "14b-photo-links")

        # The Links page lists both, says what each shows and how it is set, and counts the visits.
        console.step = "links"
        assert public.goto(first_clip_url).status == 200
        page.click(".site-nav a[href='/links']")
        expect(page).to_have_url(server + "/links")
        rows = page.locator("[data-link-list] .link-row")
        expect(rows).to_have_count(2)
        first_row = rows.filter(has_text="clip 1 of 2")
        expect(first_row).to_contain_text("Opened 1 time")
        expect(first_row).to_contain_text("Downloads allowed")
        expect(first_row).to_contain_text("Expires")
        expect(first_row).to_contain_text(f"Made by {EMAIL}")
        expect(rows.filter(has_text="clip 2 of 2")).to_contain_text("Password")
        for image in page.locator(".link-thumb img").all():
            page.wait_for_function(LOADED_IMAGE, arg=image.element_handle())
        shot(page, "19-links")
        page.once("dialog", lambda confirm: confirm.accept())
        first_row.locator("[data-revoke]").click()
        expect(rows).to_have_count(1)
        expect(page.locator("[data-link-status]")).to_contain_text("revoked")
        console.step = "links-revoked"
        assert public.goto(first_clip_url).status == 404
        page.go_back()
        expect(page).to_have_url(f"{server}/photos/{photo_id}")
        expect(page.locator("[data-share-list] .share-item")).to_have_count(1)

        # 12. Deleting the photo, after a confirmation, leads back to a gallery without it.
        console.step = "delete"
        page.once("dialog", lambda prompt: prompt.accept())
        page.click("[data-delete-photo]")
        expect(page).to_have_url(server + "/")
        expect(page.locator(".tile")).to_have_count(2)
        expect(page.locator(f'.tile-item[data-photo-id="{photo_id}"]')).to_have_count(0)

        # 13. A clip that fails (the GPU engine on a machine without a GPU) shows a "failed" mark with
        # the reason, next to the motion badge of the clip that worked.
        console.step = "failed-clip"
        other_id = page.locator(".tile-item").first.get_attribute("data-photo-id")
        csrf = page.get_attribute('meta[name="csrf-token"]', "content")
        asked = page.request.post(
            f"{server}/api/photos/{other_id}/clips",
            data={"engine": "diffusers"},
            headers={"X-CSRF-Token": csrf or ""},
        )
        assert asked.status == 202
        page.reload()
        other = page.locator(f'.tile-item[data-photo-id="{other_id}"]')
        expect(other.locator(".badge.failed")).to_be_visible(timeout=CLIP_READY_MS)
        assert "GPU" in (other.locator(".badge.failed").get_attribute("title") or "")
        expect(other.locator(".badge.motion")).to_be_visible()
        shot(page, "15-gallery-failed")

        # 14. The cousin signs in: the family's photos are there, and the admin's photo has no Delete
        # button, only a word on who may delete it.
        console.step = "cousin"
        cousin = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        console.watch(cousin)
        cousin.goto(server + "/login")
        cousin.fill("input[name=email]", COUSIN_EMAIL)
        cousin.fill("input[name=password]", COUSIN_PASSWORD)
        cousin.click("button[type=submit]")
        expect(cousin).to_have_url(server + "/")
        expect(cousin.locator(".tile")).to_have_count(2)
        cousin.click(f'.tile-item[data-photo-id="{other_id}"] a')
        expect(cousin).to_have_url(f"{server}/photos/{other_id}")
        # Its newest clip failed (step 13): the clip that worked still plays, the failure listed above it.
        assert_video_plays(cousin, "[data-clip-video]")
        failed_version = cousin.locator("[data-version-list] .version").first
        expect(failed_version).to_contain_text("Failed")
        expect(failed_version).to_contain_text("GPU")
        expect(cousin.locator("[data-delete-photo]")).to_have_count(0)
        expect(cousin.locator("[data-delete-note]")).to_have_text(
            f"Only {EMAIL} or an admin can delete this photo."
        )
        expect(cousin.locator("[data-open-share]")).to_be_enabled()
        shot(cousin, "16-cousin-photo")

        # The cousin replaces the password the admin chose with one of their own, then signs in with it.
        console.step = "cousin-password"
        cousin.click(".site-nav a[href='/family']")
        expect(cousin.locator("[data-add-member]")).to_have_count(0)
        form = cousin.locator("[data-change-password]")
        form.locator("input[name=current_password]").fill(COUSIN_PASSWORD)
        form.locator("input[name=new_password]").fill("the cousin's new password")
        form.locator("input[name=new_password_again]").fill("the cousin's new passwork")
        form.locator("button[type=submit]").click()
        expect(form.locator(".form-error")).to_have_text("The two new passwords are not the same.")
        form.locator("input[name=new_password_again]").fill("the cousin's new password")
        form.locator("button[type=submit]").click()
        expect(form.locator("[data-changed]")).to_contain_text("Your password is changed")
        expect(form.locator(".form-error")).to_be_hidden()
        shot(cousin, "17-family-member")
        cousin.click("[data-sign-out]")
        expect(cousin).to_have_url(server + "/login")
        cousin.fill("input[name=email]", COUSIN_EMAIL)
        cousin.fill("input[name=password]", "the cousin's new password")
        cousin.click("button[type=submit]")
        expect(cousin).to_have_url(server + "/")

        # 15. The cousin forgot it all the same: the admin sets a new one (the cousin is signed out),
        # and later removes the account; the cousin's next page is the sign-in page.
        console.step = "admin-family"
        page.click(".site-nav a[href='/family']")
        row = page.locator(f'[data-member="{COUSIN_EMAIL}"]')
        page.once("dialog", lambda prompt: prompt.accept("grandma's choice"))
        row.locator("[data-reset-password]").click()
        expect(page.locator("[data-member-status]")).to_contain_text("signed out everywhere")
        cousin.reload()
        expect(cousin).to_have_url(server + "/login?next=/")
        cousin.fill("input[name=email]", COUSIN_EMAIL)
        cousin.fill("input[name=password]", "grandma's choice")
        cousin.click("button[type=submit]")
        expect(cousin).to_have_url(server + "/")
        page.once("dialog", lambda confirm: confirm.accept())
        row.locator("[data-remove-member]").click()
        expect(row).to_have_count(0)
        expect(page.locator("[data-member-status]")).to_have_text(f"{COUSIN_EMAIL} was removed.")
        expect(page.locator(".member [data-remove-member]")).to_have_count(0)  # nobody else but grandma
        shot(page, "18-family-admin")
        cousin.goto(server + "/family")
        expect(cousin).to_have_url(server + "/login?next=/family")

        errors = console.errors(
            {
                "refused-upload": "status of 4",
                "locked": "status of 401",
                "revoked": "status of 404",
                "links-revoked": "status of 404",
                "sign-in": "status of 401",
            }
        )
        assert not errors, f"errors in the browser console: {errors}"
        browser.close()
