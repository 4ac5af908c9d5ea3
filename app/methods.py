"""What the method pickers offer: available methods per scale, and why the others are not.

Availability is asked of srcore every time (it is cheap and cached there), so methods that
land while the server runs - a download, newly shipped weights - show up on the next scale
change or page load without a restart.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.messages import public_text
from srcore.errors import SRError
from srcore.methods.base import Option
from srcore.methods.ncnn_zoo import NcnnZooMethod, load_reference_card
from srcore.registry import all_methods, get_method

SCALES = (2, 3, 4)
#: What a first run compares: the baseline, our best PSNR network, our GAN, our real-photo GAN and the reference
#: it is measured against (Real-ESRGAN x4plus, the model real-photo users pick; real-edsr is real-gan at α 0).
#: Few on purpose: each method adds seconds, and 3-5 columns are what a person can compare at a glance.
DEFAULT_METHODS = ("bicubic", "edsr", "srgan", "real-gan", "realesrgan-x4plus")
#: The heading of the reference models' group in the pickers (published weights, not ours).
REFERENCE_GROUP = "Reference models: Real-ESRGAN, Real-CUGAN"
#: Ids of the reference models (published weights): grouped last in the pickers.
REFERENCE_IDS = ("realesrgan-x4plus", "realesrgan-x4plus-anime", "realesr-animevideov3", "realcugan")
#: Methods made for compressed, noisy photos (trained on the realistic degradation, issue 11).
REAL_PHOTO_METHODS = ("real-edsr", "real-gan")
#: Strengths offered per method with a strength option (several can run in one comparison as ``id@α``).
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class MethodChoice:
    id: str
    label: str
    ok: bool
    reason: str
    #: measured CPU seconds per input megapixel (reference models' cards), for the expected time shown before a run
    seconds_per_mpx: float | None = None

    @property
    def reference(self) -> bool:
        return self.seconds_per_mpx is not None or self.id in REFERENCE_IDS

    @property
    def checkbox_label(self) -> str:
        """The label alone for ours (ids are under each crop and in the table); reference models say their group and,
        being slow on a CPU (x4plus: 16.7 M parameters), their expected time for a 0.1 Mpx input (~320 x 320 px)."""
        if not self.reference:
            return self.label
        eta = f", ~{self.seconds_per_mpx * 0.1:.0f} s per 0.1 Mpx" if self.seconds_per_mpx else ""
        return f"{self.label} (reference{eta})"


def expected_seconds(method_id: str, input_pixels: int) -> float | None:
    """Expected run time of a reference model on an input of ``input_pixels`` (from its card's measured s/Mpx)."""
    m = _maybe_method(method_id)
    if not isinstance(m, NcnnZooMethod):
        return None
    rate = (load_reference_card(m.card) or {}).get("seconds_per_lr_mpx")
    return rate * input_pixels / 1e6 if rate else None


def method_label(spec: str, label: str) -> str:
    """What a result is called on the page: the method's label, with α for ``id@α`` specs (``SRGAN (ours) α=0.5``)."""
    if "@" in spec and not spec.startswith("file:"):
        return f"{label} α={spec.partition('@')[2]}"
    return label


def tta_label(method_id: str, label: str, tta: bool) -> str:
    """``label +TTA`` for a network method run with the x8 self-ensemble (interpolation ignores TTA, so keeps its name)."""
    if not tta:
        return label
    if not method_id.startswith("file:"):
        try:
            if get_method(method_id.partition("@")[0]).family == "interpolation":
                return label
        except SRError:
            return label
    return f"{label} +TTA"


def method_choices(scale: int) -> list[MethodChoice]:
    """Every registered method with its availability at ``scale`` (reasons cleaned of server paths)."""
    out = []
    for m in all_methods():
        avail = m.availability(scale)
        rate = (load_reference_card(m.card) or {}).get("seconds_per_lr_mpx") if isinstance(m, NcnnZooMethod) else None
        out.append(MethodChoice(m.id, m.label, bool(avail), "" if avail else public_text(avail.reason), rate))
    # ours and the classics first, then the reference models' group (the order the picker shows)
    return sorted(out, key=lambda c: c.reference)


def checkbox_choices(scale: int) -> list[tuple[str, str]]:
    """(label, id) pairs of the methods that can run at ``scale``: the only ones offered."""
    return [(c.checkbox_label, c.id) for c in method_choices(scale) if c.ok]


def default_methods(scale: int) -> list[str]:
    """The preselection: :data:`DEFAULT_METHODS` that run at ``scale`` (bicubic alone where none of ours does)."""
    ok = {c.id for c in method_choices(scale) if c.ok}
    return [m for m in DEFAULT_METHODS if m in ok]


def on_scale(scale: int, selected: list[str] | None) -> tuple[Any, str]:
    """Scale changed (Compare and Benchmark tabs): offer only what runs at it, keep what still can, list the rest with reasons."""
    s = int(scale)
    return gr.update(choices=checkbox_choices(s), value=keep_valid(selected, s)), unavailable_html(s)


def strength_methods() -> list[str]:
    """Ids of the methods with a strength option (``srgan``, ``real-gan``): the ones ``id@α`` applies to."""
    return [m.id for m in all_methods() if _strength(m) is not None]


DEFAULT_STRENGTH = "default"


def strength_choices() -> list[tuple[str, str]]:
    """The strength picker's (label, value) pairs: each method's own default α, then fixed α values."""
    return [("its default", DEFAULT_STRENGTH), *((f"{a:g}", f"{a:g}") for a in STRENGTHS)]


def expand_strengths(ids: list[str], strengths: list[str | float] | None) -> list[str]:
    """Each chosen method with a strength becomes one ``id@α`` per chosen α ("default" = the method's own, e.g. 0.75 for srgan)."""
    out: list[str] = []
    for mid in ids:
        m = None if mid.startswith("file:") or "@" in mid else _maybe_method(mid)
        opt = _strength(m) if m is not None else None
        if opt is not None:
            picked = [opt.default if str(a) == DEFAULT_STRENGTH else float(a) for a in (strengths or [])]
            alphas = sorted(set(picked)) or [opt.default]
            out += [f"{mid}@{a:g}" for a in alphas]
        else:
            out.append(mid)
    return out


def _strength(m: Any) -> Option | None:
    """The method's strength option (srgan, real-gan), or None: Real-CUGAN's denoise level is not a strength."""
    return next((o for o in m.options if o.name == "strength"), None)


def _maybe_method(mid: str) -> Any:
    try:
        return get_method(mid)
    except Exception:  # unknown ids keep their spelling; srcore's row error explains
        return None


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
    """(method id, option) for every user-facing knob, e.g. ``("srgan", strength)``."""
    return [(m.id, o) for m in all_methods() for o in m.options]
