"""Where the test images live: tests/fixtures, inside the checkout (see tests/fixtures/README.md)."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
