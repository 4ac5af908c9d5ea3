"""Method specs as users type them: ``id`` or ``id@α`` (α = the method's strength), one list of them.

Why one parser: the CLI's ``-m``, the app's method boxes and the API, and the benchmark scripts all
take comma-separated ids, some with ``@α``; one place validates α against the method's declared
option range, so a typo is one clear line everywhere instead of a silently clamped value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from srcore.errors import SRError
from srcore.registry import get_method


@dataclass(frozen=True)
class MethodSpec:
    """One column of a comparison: a method id plus option values, spelled ``srgan@0.5``.

    ``@α`` sets the method's first option (its strength); :attr:`spec` (normalised: ``srgan@0.50``
    becomes ``srgan@0.5``) stays the result's id, so one comparison can hold several strengths.
    """

    spec: str
    method_id: str
    options: dict[str, float] = field(default_factory=dict)

    @property
    def alpha(self) -> float | None:
        return next(iter(self.options.values()), None)


def split_ids(text: str | list[str] | None) -> list[str]:
    """``"a, b,,a"`` (or a list of such) -> ``["a", "b"]``: stripped, empties and repeats dropped, order kept."""
    parts = text.split(",") if isinstance(text, str) else [p for t in (text or []) for p in str(t).split(",")]
    return list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def parse_spec(spec: str) -> MethodSpec:
    """``"srgan@0.5"`` -> ``MethodSpec("srgan@0.5", "srgan", {"strength": 0.5})``; plain ids have no options.

    ``file:`` ids are never split (a path may contain ``@``). An unknown id before ``@`` is passed on
    as it is, so the run reports srcore's own "unknown method" line for it.
    """
    spec = spec.strip()
    if spec.startswith("file:") or "@" not in spec:
        return MethodSpec(spec, spec)
    mid, _, value = spec.partition("@")
    try:
        method = get_method(mid)
    except SRError:
        return MethodSpec(spec, mid)
    if not method.options:
        raise SRError(f"{spec}: {mid} has no strength setting; use plain {mid!r}")
    opt = method.options[0]
    try:
        alpha = float(value)
    except ValueError:
        raise SRError(f"{spec}: the value after @ must be a number such as {mid}@0.5") from None
    if not opt.minimum <= alpha <= opt.maximum:
        raise SRError(f"{spec}: {opt.name} must be between {opt.minimum:g} and {opt.maximum:g}")
    return MethodSpec(f"{mid}@{alpha:g}", mid, {opt.name: alpha})


def parse_specs(text: str | list[str] | None) -> list[MethodSpec]:
    """Every spec of a comma-separated list (or list), validated; raises on the first bad one."""
    return [parse_spec(s) for s in split_ids(text)]
