"""Selection and albums in a real browser: tick photos on the timeline, put them in a new album, open it;
mark a favourite; a member's delete of someone else's photos is refused photo by photo.

Screenshots of the timeline in selection mode and of the album land in docs/screenshots/ (desktop) and
test-artifacts/ (a 375-px phone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests import test_browser as browser_test
from tests.fixture_paths import FIXTURES
from tests.test_browser import CHROMIUM, LOADED_IMAGE, Console, assert_fits_width, shot

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PHOTOS = [
    FIXTURES / "photos" / name
    for name in (
        "einstein.jpg",
        "dog.png",
        "hopper.jpg",
        "child_reading_painting.jpg",
        "seated_lady_painting.jpg",
    )
]
ADMIN = ("nana@example.org", "a long family password")
COUSIN = ("cousin@example.org", "cousin's own password")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

server = browser_test.server  # a `vivant serve` of this module's own


def _signed_in(browser: Browser, base: str, email: str, password: str, width: int = 1280) -> tuple[Page, str]:
    context = browser.new_context(viewport={"width": width, "height": 860}, base_url=base)
    page = context.new_page()
    response = page.request.post("/api/auth/login", data={"email": email, "password": password})
    assert response.ok, response.text()
    return page, response.json()["csrf_token"]


def _tiles_loaded(page: Page, count: int) -> None:
    expect(page.locator(".tile-item")).to_have_count(count)
    for image in page.locator(".tile img").all():
        image.scroll_into_view_if_needed()
        page.wait_for_function(LOADED_IMAGE, arg=image.element_handle())
    page.evaluate("window.scrollTo(0, 0)")


def test_select_on_the_timeline_then_add_to_a_new_album(server: str) -> None:
    console = Console()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        setup = browser.new_context(base_url=server).request
        made = setup.post("/api/setup", data={"email": ADMIN[0], "password": ADMIN[1]})
        assert made.ok, made.text()
        csrf = made.json()["csrf_token"]
        for path in PHOTOS:
            one = {"name": path.name, "mimeType": "application/octet-stream", "buffer": path.read_bytes()}
            response = setup.post("/api/photos", headers={"X-CSRF-Token": csrf}, multipart={"files": one})
            assert response.status == 201, response.text()
        cousin = setup.post(
            "/api/users", headers={"X-CSRF-Token": csrf}, data={"email": COUSIN[0], "password": COUSIN[1]}
        )
        assert cousin.status == 201, cousin.text()

        # 1. Select mode: a click ticks a tile, a shift-click ticks the range up to it.
        page, _ = _signed_in(browser, server, *ADMIN)
        console.watch(page)
        console.step = "timeline"
        page.goto("/")
        _tiles_loaded(page, len(PHOTOS))
        page.click("[data-select-toggle]")
        expect(page.locator("[data-select-bar]")).to_be_visible()
        tiles = page.locator(".tile-item")
        tiles.nth(0).locator(".tile").click()
        tiles.nth(2).locator(".tile").click(modifiers=["Shift"])
        expect(page.locator(".tile-item.selected")).to_have_count(3)
        expect(page.locator("[data-select-count]")).to_have_text("3 selected")
        tiles.nth(1).locator(".tile-check").click()  # unticks the middle one
        expect(page.locator(".tile-item.selected")).to_have_count(2)
        expect(page).to_have_url(server + "/")  # a click while selecting never opens the photo
        tiles.nth(3).locator(".tile").click()
        expect(page.locator(".tile-item.selected")).to_have_count(3)

        # 2. Into a new album, from the bar.
        console.step = "add to album"
        page.select_option("[data-album-choice]", "new")
        page.fill("[data-new-album-title]", "Summer at the lake")
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / "timeline.jpg"), quality=80)
        page.click("[data-select-album] button[type=submit]")
        expect(page.locator("[data-select-message]")).to_contain_text("Added 3 photos")
        chosen = [tiles.nth(i).get_attribute("data-photo-id") for i in (0, 2, 3)]
        page.click("[data-select-message] a")

        # 3. The album: its three photos by date taken, as tiles; Animate queues only those without a clip.
        console.step = "album"
        expect(page.locator("[data-album-title]")).to_have_text("Summer at the lake")
        _tiles_loaded(page, 3)
        assert sorted(
            page.locator(".tile-item").evaluate_all("els => els.map(e => e.dataset.photoId)")
        ) == sorted(chosen)
        expect(page.locator("[data-album-count]")).to_contain_text("3 photos")
        page.click("[data-animate-album]")
        expect(page.locator("[data-album-status]")).to_contain_text(
            "already has a clip"
        )  # each upload made one
        page.screenshot(path=str(DOCS / "album.jpg"), quality=80)

        # The albums list shows it with its cover and count.
        page.click(".site-nav a[href='/albums']")
        card = page.locator(".album-card")
        expect(card).to_have_count(1)
        expect(card.locator(".album-count")).to_have_text("3 photos")
        page.wait_for_function(LOADED_IMAGE, arg=card.locator("img").element_handle())
        shot(page, "albums-list")

        # 4. A heart on a tile puts the photo in the member's Favourites view.
        console.step = "favourite"
        page.goto("/")
        _tiles_loaded(page, len(PHOTOS))
        heart = page.locator(".tile-item").nth(1).locator(".tile-heart")
        heart.hover()
        heart.click()
        expect(heart).to_have_attribute("aria-pressed", "true")
        favourite_id = page.locator(".tile-item").nth(1).get_attribute("data-photo-id")
        page.goto("/?favourites=1")
        _tiles_loaded(page, 1)

        # The photo page shows the heart pressed, and adds the photo to an album with its small control.
        console.step = "photo page"
        page.goto(f"/photos/{favourite_id}")
        expect(page.locator("[data-favourite]")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("[data-photo-album-list]")).to_contain_text("In no album yet")
        page.select_option("[data-photo-album-add] select", label="Summer at the lake")
        page.click("[data-photo-album-add] button")
        expect(page.locator("[data-photo-album-list] a")).to_have_text("Summer at the lake")
        shot(page, "photo-albums")

        # 5. On a phone: the bar wraps, nothing scrolls sideways.
        console.step = "phone"
        phone, _ = _signed_in(browser, server, *ADMIN, width=375)
        console.watch(phone)
        phone.goto("/")
        _tiles_loaded(phone, len(PHOTOS))
        phone.click("[data-select-toggle]")
        phone.locator(".tile-item").nth(0).locator(".tile-check").click()
        expect(phone.locator("[data-select-count]")).to_have_text("1 selected")
        assert_fits_width(phone, 375)
        shot(phone, "timeline-select-phone")
        phone.goto("/albums")
        phone.click(".album-card a")
        _tiles_loaded(phone, 4)
        assert_fits_width(phone, 375)
        shot(phone, "album-phone")

        # 6. A member who did not add the photos: their delete is refused per photo, with the reason.
        console.step = "refused delete"
        member, _ = _signed_in(browser, server, *COUSIN)
        console.watch(member)
        member.on("dialog", lambda dialog: dialog.accept())
        member.goto("/")
        _tiles_loaded(member, len(PHOTOS))
        member.click("[data-select-toggle]")
        member.locator(".tile-item").nth(0).locator(".tile").click()
        member.locator(".tile-item").nth(1).locator(".tile").click(modifiers=["Shift"])
        member.click("[data-select-action=delete]")
        message = member.locator("[data-select-message]")
        expect(message).to_contain_text("only the person who added this photo, or an admin")
        assert message.inner_text().count("only the person who added") == 2
        expect(member.locator(".tile-item")).to_have_count(len(PHOTOS))
        browser.close()
    assert console.errors({"refused delete": "403"}) == []
