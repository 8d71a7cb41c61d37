"""Icons are decoration: screen readers skip them, and an icon-only button says what it does."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ICON = re.compile(r'<i class="bi [^"]*"[^>]*>')
ICON_ONLY_BUTTON = re.compile(r'<(a|button)\b([^>]*)>\s*<i class="bi [^"]*"[^>]*></i>\s*</\1>', re.S)


def templates():
    return sorted(TEMPLATES.rglob("*.html"))


def test_every_icon_is_hidden_from_screen_readers():
    missing = [f"{path.relative_to(TEMPLATES)}: {tag}" for path in templates()
               for tag in ICON.findall(path.read_text()) if 'aria-hidden="true"' not in tag]
    assert not missing, "\n".join(missing)


def test_every_icon_only_button_has_a_label():
    unlabeled = [f"{path.relative_to(TEMPLATES)}: {match.group(0)[:120]}" for path in templates()
                 for match in ICON_ONLY_BUTTON.finditer(path.read_text()) if "aria-label=" not in match.group(2)]
    assert not unlabeled, "\n".join(unlabeled)
