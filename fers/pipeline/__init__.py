"""End-to-end detection: band spec -> normalisation -> feature enhancement -> detector maps -> AUCs.

``detect(cube (H, W, B), gt (H, W) | None, bands="auto", **options)`` returns a
:class:`fers.result.DetectResult` with one ``(H, W)`` float64 map per method of :mod:`fers.methods`
(the one table and recipe of eq. 17-23). It runs as named steps: :mod:`fers.pipeline.plan` (options
checked, bands chosen, memory path), then :mod:`fers.pipeline.steps` (prepare, enhance, score, fuse,
finish); :mod:`fers.pipeline.options` holds the one :class:`DetectOptions` value the CLI, the app,
batch and the API build.
"""

from fers.pipeline.options import DetectOptions, options_from_namespace
from fers.pipeline.plan import RX_ALL_BANDS_MAX_PIXELS, Plan, check_file_request, is_large, make_plan, plan_request
from fers.pipeline.run import detect

__all__ = ["RX_ALL_BANDS_MAX_PIXELS", "DetectOptions", "Plan", "check_file_request", "detect", "is_large",
           "make_plan", "options_from_namespace", "plan_request"]
