"""The ticket previews every edit at once in these tests (``PREVIEW_DELAY`` 0), so what a
test or a snapshot sees does not depend on how fast the pilot typed; the pause between
previews has its own test (``test_ticket_preview.py``)."""

from __future__ import annotations

import pytest

import tui.app


@pytest.fixture(autouse=True)
def instant_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tui.app, "PREVIEW_DELAY", 0.0)
