"""The one table of detection methods and the one recipe that computes them (paper eq. 17-23).

Cubes are ``(H, W, B)`` (or any array type supporting ``+``); score maps ``(H, W)``.
``h`` is the normalised cube, ``F_spe``/``F_spa`` the enhanced features of the two FENs.

* ``rx``          D(H)                                                    (eq. 17)
* ``spectral``    D(H + F_spe)                                            (eq. 19)
* ``spatial``     D(H + F_spa)                                            (eq. 18)
* ``fusion_add``  D(H + F_spe + F_spa)                       (fusion B,   eq. 23)
* ``fusion_mult`` minmax(spatial) * minmax(spectral)         (fusion A,   eq. 20-22)
* ``fusion_rx``   minmax(rx) * minmax(spatial) * minmax(spectral)   (ours: fusion A with the
  plain map kept as a factor, the label-free no-harm rule; see docs/method.md)
* ``fusion_rel``  m_spa * m_spe, m_b = w_b minmax(RX(H + F_b)) + (1 - w_b) minmax(rx), w_b the
  Spearman rank correlation of rx and RX(H + F_b) clipped at 0 (ours: fusion A with a label-free
  reliability weight per scene and branch, :mod:`fers.reliability`; the default, docs/method.md)

D is the detector (global RX by default). With the AE detector the methods are ``ae`` (AE(H)) and
``ae_enhanced`` (AE(H + F_spe + F_spa)). Every path (in memory, large scenes, training validation,
bench, ONNX metadata, plots, the app) reads this table and calls :func:`scored_cubes` /
:func:`feature_cube` / :func:`combine` (or :func:`method_maps`, which chains them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Method:
    """One output map. ``terms``: features added to H before the detector (None for a product);
    ``product``: methods whose min-max normalised maps are multiplied; ``detector``: the detector
    family the method belongs to (``rx`` covers the global and local RX detectors)."""

    name: str
    title: str
    short: str
    recipe: str
    terms: tuple | None = ()
    product: tuple = ()
    detector: str = "rx"
    fuse: str = "product"  # how ``product`` maps combine: "product" (eq. 22) or "reliability"

    @property
    def needs_model(self) -> bool:
        if self.terms is None:
            return any(BY_NAME[m].needs_model for m in self.product)
        return bool(self.terms)


TABLE = (
    Method("rx", "RX (original H)", "RX", "RX(H)  (eq. 17: global RX, mean and covariance over all pixels)", ()),
    Method("spectral", "FERD / spectral: RX(H + F_spe)", "spectral", "RX(H + F_spe)  (eq. 19)", ("spe",)),
    Method("spatial", "Spatial: RX(H + F_spa)", "spatial", "RX(H + F_spa)  (eq. 18)", ("spa",)),
    Method("fusion_add", "Fused B: RX(H + F_spe + F_spa)", "B (additive)",
           "RX(H + F_spe + F_spa)  (fusion B, eq. 23)", ("spe", "spa")),
    Method("fusion_mult", "Fused A: RX(H+F_spa) x RX(H+F_spe)", "A (multiplicative)",
           "minmax(RX(H + F_spa)) * minmax(RX(H + F_spe))  (fusion A, eq. 20-22)", None, ("spatial", "spectral")),
    Method("fusion_rx", "Fused A+RX: RX(H) x RX(H+F_spa) x RX(H+F_spe)", "A+RX (no-harm)",
           "minmax(RX(H)) * minmax(RX(H + F_spa)) * minmax(RX(H + F_spe))  (fusion A keeping the plain map)",
           None, ("rx", "spatial", "spectral")),
    Method("fusion_rel", "Fused A, reliability-weighted: each branch pulled toward RX(H) by its rank agreement",
           "A (reliability)",
           "m_spa * m_spe, m_b = w_b minmax(RX(H + F_b)) + (1 - w_b) minmax(RX(H)), w_b = max(0, Spearman(RX(H), "
           "RX(H + F_b)))  (fusion A with a label-free reliability weight)", None, ("rx", "spatial", "spectral"),
           fuse="reliability"),
    Method("ae", "AE (original H)", "AE", "AE(H)  (reconstruction-error autoencoder)", (), detector="ae"),
    Method("ae_enhanced", "AE(H + F_spe + F_spa)", "AE enhanced", "AE(H + F_spe + F_spa)", ("spe", "spa"),
           detector="ae"),
)
BY_NAME = {m.name: m for m in TABLE}
METHODS = tuple(m.name for m in TABLE if m.detector == "rx")  # RX-family methods, in display order
AE_METHODS = tuple(m.name for m in TABLE if m.detector == "ae")
FUSIONS = tuple(m for m in METHODS if m.startswith("fusion"))
# methods whose map is a fixed product or sum of maps (one ONNX graph can compute them; the reliability
# fusion ranks pixels per scene and is computed in Python)
GRAPH_METHODS = tuple(m for m in METHODS if BY_NAME[m].fuse == "product")
PAPER_DEFAULT = "paper default"


def methods_for(family: str) -> tuple:
    """Method names of a detector family (a detector's ``family``, :mod:`fers.detectors.registry`):
    the global and local RX detectors share ``rx``, the AE has its own."""
    return tuple(m.name for m in TABLE if m.detector == family)


# The map shown by default: chosen on leave-one-sensor-out validation (small scenes with panel implants)
# and held-out scenes, never on benchmark scenes; see docs/method.md ("Defaults") for the rule and numbers.
DEFAULT_FUSION = "fusion_rel"


def default_method(maps) -> str:
    """The method shown by default among ``maps``: :data:`DEFAULT_FUSION`, else the best available
    stand-in (spectral, then plain RX)."""
    for name in (DEFAULT_FUSION, "spectral", "rx", "ae_enhanced", "ae"):
        if name in maps:
            return name
    return next(iter(maps), "rx")


def paper_default_fusion(n_bands: int) -> str:
    """The paper's recommendation (Table III): A (multiplicative) for 50 bands, B otherwise."""
    return "fusion_mult" if n_bands <= 50 else "fusion_add"


def minmax(score: np.ndarray) -> np.ndarray:
    """Min-max a score map to [0, 1] (eq. 20-21); a constant map becomes zeros."""
    s = np.asarray(score, dtype=np.float64)
    lo, hi = float(s.min()), float(s.max())
    return (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)


def product_of(*maps) -> np.ndarray:
    """Score-level fusion: element-wise product of min-max normalised maps (eq. 22)."""
    out = minmax(maps[0])
    for m in maps[1:]:
        out = out * minmax(m)
    return out


def reliability_product(rx_map, *branch_maps) -> np.ndarray:
    """The reliability-weighted fusion A of :mod:`fers.reliability` (rank weight), ``(H, W)`` maps."""
    from fers.reliability import reliability_fusion

    return reliability_fusion(rx_map, *branch_maps, weight="rank")


_FUSE = {"product": product_of, "reliability": reliability_product}


def scored_cubes(wanted, available=("spe", "spa")) -> dict:
    """``{method: feature terms}`` of every map the detector must score for ``wanted`` methods
    (products pull in their factors), keeping those whose features are all ``available``."""
    out: dict = {}
    for name in wanted:
        m = BY_NAME[name]
        for part in (m.product if m.terms is None else (name,)):
            terms = BY_NAME[part].terms
            if terms is not None and set(terms) <= set(available):
                out[part] = terms
    return {m: out[m] for m in BY_NAME if m in out}


def available_terms(f_spe=None, f_spa=None) -> tuple:
    return tuple(t for t, f in (("spe", f_spe), ("spa", f_spa)) if f is not None)


def feature_cube(h, features: dict, terms: tuple):
    """``H + sum of features[t]`` for ``t`` in ``terms`` (``features``: ``{"spe": F_spe, "spa": F_spa}``)."""
    out = h
    for t in terms:
        out = out + features[t]
    return out


def combine(maps: dict, wanted, timer=None, valid=None) -> dict:
    """Add the product methods of ``wanted`` to scored ``maps``; return the wanted maps in table order.
    ``timer(name, fn)`` (optional) runs and times each product, as in :func:`score_cubes`. ``valid
    (H, W)`` bool: pixels with data; the others are left out of the reliability weights (their scores
    are floored for the products, whose min-max is then that of the valid pixels)."""
    run = timer or (lambda name, fn: fn())
    out = dict(maps)

    def parts(m):
        got = [out[p] for p in m.product]
        if valid is not None and m.fuse == "reliability":  # ranks and top sets of the valid pixels only
            got = [np.where(valid, g, np.nan) for g in got]
        return got

    for name in wanted:
        m = BY_NAME[name]
        if m.terms is None and all(p in out for p in m.product):
            out[name] = run(name, lambda m=m: _FUSE[m.fuse](*parts(m)))
    return {n: out[n] for n in BY_NAME if n in wanted and n in out}


def score_cubes(h, features: dict, cubes: dict, score=None, timer=None) -> dict:
    """Detector maps ``(H, W)`` float64 of ``{name: feature terms}`` cubes built from ``h`` and
    ``features``. ``score``: the detector ``cube -> (H, W)`` (default global RX); ``timer(name, fn)``
    (optional) runs and times each call."""
    if score is None:
        from fers.detectors.rx import rx as score
    run = timer or (lambda name, fn: fn())
    return {name: np.asarray(run(name, lambda t=terms: score(feature_cube(h, features, t))), dtype=np.float64)
            for name, terms in cubes.items()}


def method_maps(h, f_spe=None, f_spa=None, wanted=METHODS, score=None, timer=None) -> dict:
    """Maps of the ``wanted`` methods available from normalised cube ``h`` and features (all ``(H, W, B)``);
    methods whose features are None are skipped. See :func:`score_cubes` for ``score`` and ``timer``."""
    cubes = scored_cubes(wanted, available_terms(f_spe, f_spa))
    return combine(score_cubes(h, {"spe": f_spe, "spa": f_spa}, cubes, score, timer), wanted, timer)
