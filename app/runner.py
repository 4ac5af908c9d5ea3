"""Running a comparison for the page and the API alike: method specs (``id`` / ``id@α``) on a prepared input.

One place for what the Compare tab and the ``/compare`` endpoint both do after the input checks
(``app.inputs``): run each spec through srcore's ``run_one``, name the results for people, and
turn the comparison into the JSON report with server paths hidden. No Gradio here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.messages import public_text
from app.methods import method_label
from srcore.compare import Comparison, MethodResult, Prepared, run_one
from srcore.compare import lpips_for as lpips_for  # the tabs and the API take it from here; srcore has the one copy
from srcore.heap import trim_heap
from srcore.paths import model_dirs


def report_json(comp: Comparison, name: str, input_size: str) -> dict[str, Any]:
    """``Comparison.to_json()`` for people outside the server: paths hidden, and both sizes said plainly.

    srcore's ``input_size`` is what the methods got (the LR, in reference mode); a user thinks of
    the picture they uploaded, so ``input_size`` here is the upload's size and ``lr_size`` the LR's.
    """
    report = comp.to_json()
    report["notes"] = [public_text(n) for n in report["notes"]]
    report["lr_size"] = report.get("input_size")
    report["input_size"] = input_size or report["lr_size"]
    report["input_name"] = name
    for row in report["results"]:
        if row.get("error"):
            row["error"] = public_text(row["error"])
    return report


def run_specs(
    prep: Prepared, specs: list[str], lpips_fn: Any, allow_files: bool, backend: str | None = None,
) -> Iterator[MethodResult]:
    """Run each ``id`` or ``id@α`` on a prepared input (srcore's ``run_one``), named for the page.

    ``id@α`` runs the method with its strength at α and keeps the spec as the result's id, so one
    comparison can hold several strengths; the label says α (a spec that did not parse keeps its text).
    """
    try:
        for text in specs:
            res = run_one(text, prep, lpips_fn, None, None, allow_files, model_dirs(), backend)
            if res.label != res.method_id:
                res.label = method_label(res.method_id, res.label)
            if res.error:
                res.error = public_text(res.error)
            yield res
    finally:
        trim_heap()  # a long-running server: what this request freed goes back to the OS (srcore.heap)


