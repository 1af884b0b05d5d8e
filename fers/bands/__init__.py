"""Band choice, in one home: cubes are ``(H, W, B)``, bands last.

* :mod:`fers.bands.spec`   the band-spec grammar (``--bands``, the app's band box, ``fers.detect(bands=...)``);
* :mod:`fers.bands.select` a spec resolved against a scene's wavelengths and bad bands (water-vapour
  windows, bands marked bad in the file, bands of no-data);
* :mod:`fers.bands.adapt`  the band adapter that fits the chosen bands to a model's band count;
* :mod:`fers.bands.choose` the two calls the pipeline makes: resolve for the plan, take for the work.
"""

from fers.bands.adapt import (
                              ADAPTER_RULE,
                              ADAPTER_RULES,
                              ADAPTERS,
                              DEFAULT_ADAPTER,
                              SHIPPED_BAND_COUNTS,
                              adapt_bands,
                              auto_model_bands,
                              nearest_model_bands,
                              planned_bands,
                              prepare_bands,
                              resample_bands,
)
from fers.bands.choose import choose_bands, take_chosen
from fers.bands.select import WATER_WINDOWS_NM, BandView, band_masks, resolve_bands, take_bands, water_bands
from fers.bands.spec import BAND_SPEC_RULE, BandSpec, parse_band_spec, select_bands

__all__ = ["ADAPTER_RULE", "ADAPTER_RULES", "ADAPTERS", "BAND_SPEC_RULE", "DEFAULT_ADAPTER", "SHIPPED_BAND_COUNTS",
           "WATER_WINDOWS_NM", "BandSpec", "BandView", "adapt_bands", "auto_model_bands", "band_masks", "choose_bands",
           "nearest_model_bands", "parse_band_spec", "planned_bands", "prepare_bands", "resample_bands",
           "resolve_bands", "select_bands", "take_bands", "take_chosen", "water_bands"]
