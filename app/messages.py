"""Turning srcore's errors and notes into what a web user may see.

srcore's messages are written for someone at the terminal of the same machine, so they name
absolute folders (model directories, ``assets/``). On a server those paths are nobody's
business, so they are replaced by what the folder *is*; the instructions around them stay.
Every UI handler is wrapped so an :class:`~srcore.errors.SRError` becomes a ``gr.Error``
toast with that one line, never a traceback.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from srcore.errors import SRError
from srcore.paths import ASSETS_DIR, REPO_ROOT, cache_dir, model_dirs

F = TypeVar("F", bound=Callable[..., Any])


def _path_aliases() -> list[tuple[str, str]]:
    """(absolute path, public name) pairs, longest path first so nested folders win."""
    pairs: dict[str, str] = {}
    for d in model_dirs():
        pairs[str(d)] = "the server's model folder"
    pairs[str(cache_dir())] = "the server's model cache"
    pairs[str(ASSETS_DIR)] = "the app's assets/ folder"
    pairs[str(REPO_ROOT)] = "the app folder"
    pairs[str(Path.home())] = "~"
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def public_text(text: str) -> str:
    """``text`` with server paths replaced by what they are (computed per call: --models-dir can change)."""
    for path, name in _path_aliases():
        if path and path != "/":
            text = text.replace(path, name)
    return text


def user_errors(fn: F) -> F:
    """Wrap a Gradio handler (function or generator) so SRError -> gr.Error(one line)."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except SRError as exc:
                raise gr.Error(public_text(str(exc))) from None

        return gen_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SRError as exc:
            raise gr.Error(public_text(str(exc))) from None

    return wrapper  # type: ignore[return-value]
