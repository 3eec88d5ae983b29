"""Where the shared test images live: ../shared/fixtures/images beside the checkout (never copied in)."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "images"
