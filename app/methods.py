"""What the method pickers offer: available methods per scale, and why the others are not.

Availability is asked of srcore every time (it is cheap and cached there), so methods that
land while the server runs - a download, newly shipped weights - show up on the next scale
change or page load without a restart.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from app.messages import public_text
from srcore.methods.base import Option
from srcore.registry import all_methods

SCALES = (2, 3, 4)


@dataclass(frozen=True)
class MethodChoice:
    id: str
    label: str
    ok: bool
    reason: str

    @property
    def checkbox_label(self) -> str:
        return f"{self.label} ({self.id})"


def method_choices(scale: int) -> list[MethodChoice]:
    """Every registered method with its availability at ``scale`` (reasons cleaned of server paths)."""
    out = []
    for m in all_methods():
        avail = m.availability(scale)
        out.append(MethodChoice(m.id, m.label, bool(avail), "" if avail else public_text(avail.reason)))
    return out


def checkbox_choices(scale: int) -> list[tuple[str, str]]:
    """(label, id) pairs of the methods that can run at ``scale``: the only ones offered."""
    return [(c.checkbox_label, c.id) for c in method_choices(scale) if c.ok]


def default_methods(scale: int) -> list[str]:
    """Bicubic as the baseline plus every available learned method: the comparison people came for."""
    from srcore.registry import get_method

    ids = []
    for c in method_choices(scale):
        if c.ok and (c.id == "bicubic" or get_method(c.id).family != "interpolation"):
            ids.append(c.id)
    return ids


def unavailable_html(scale: int) -> str:
    """Greyed list of the methods that cannot run at ``scale``, each with its reason."""
    missing = [c for c in method_choices(scale) if not c.ok]
    if not missing:
        return f"<div class='srlab-unavailable'>All methods can run at ×{scale}.</div>"
    items = "".join(
        f"<li><span class='srlab-off'>☐ {html.escape(c.label)} <code>{html.escape(c.id)}</code></span>"
        f"<br><small>{html.escape(c.reason)}</small></li>"
        for c in missing
    )
    return f"<details class='srlab-unavailable'><summary>Not available at ×{scale} ({len(missing)})</summary><ul>{items}</ul></details>"


def keep_valid(selected: list[str] | None, scale: int) -> list[str]:
    """The user's selection minus methods that cannot run at the new scale."""
    ok = {c.id for c in method_choices(scale) if c.ok}
    return [m for m in (selected or []) if m in ok]


def method_options() -> list[tuple[str, Option]]:
    """(method id, option) for every user-facing knob, e.g. ``("srgan", strength)``; one slider each."""
    return [(m.id, o) for m in all_methods() for o in m.options]
