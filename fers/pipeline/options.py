"""The options of one detection, in one frozen value carried from the CLI, the app, batch and the API.

:class:`DetectOptions` holds every option that changes a result except the scene's own data (cube,
ground truth, wavelengths, bad bands): the band spec, backend, detector and its options, the methods,
a checkpoint, the band adapter, the no-data value, whether bad bands are kept, and the scene's name.
:meth:`DetectOptions.make` builds one from keyword options as :func:`fers.detect` takes them (a
detector's options, e.g. ``windows``, by name); :meth:`~DetectOptions.checked` validates it;
:meth:`~DetectOptions.as_json` is what a result's meta stores (``batch --resume`` compares it).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from fers.bands import DEFAULT_ADAPTER, parse_band_spec
from fers.detectors import DEFAULT_DETECTOR
from fers.errors import FersInputError


@dataclass(frozen=True)
class DetectOptions:
    """Options of :func:`fers.detect`; see its docstring for each. ``params``: the detector's own
    options as ``(name, value)`` pairs (``(("windows", (5, 15)),)`` for local RX; :attr:`param` reads
    them as a dict); missing ones take the detector's defaults. Every field pickles (batch workers and
    the app's worker processes receive the options)."""

    bands: str = "auto"
    backend: str = "auto"
    detector: str = DEFAULT_DETECTOR
    methods: tuple | None = None
    weights: str | None = None
    adapter: str = DEFAULT_ADAPTER
    nodata: float | None = None
    keep_bad_bands: bool = False
    name: str = ""
    params: tuple = ()

    @property
    def param(self) -> dict:
        return dict(self.params)

    @classmethod
    def make(cls, **options) -> DetectOptions:
        """From keyword options: the fields above, and any registered detector's option by name
        (``windows=...``); an unknown name is refused. A None value leaves the default."""
        from fers.detectors import all_options

        names = {f.name for f in fields(cls)} - {"params"}
        params = dict(options.pop("params", None) or {})
        known = all_options()
        for k in list(options):
            if k not in names:
                if k not in known:
                    raise FersInputError(f"unknown option {k!r}")
                params[k] = options.pop(k)
        kept = {k: v for k, v in options.items() if v is not None}
        if "methods" in kept:
            kept["methods"] = tuple(kept["methods"])
        if "weights" in kept:
            kept["weights"] = str(kept["weights"]) if kept["weights"] else None
        params = tuple(sorted((k, v) for k, v in params.items() if v is not None))
        return cls(**kept, params=params)

    def with_(self, **options) -> DetectOptions:
        """A copy with ``options`` changed (as :meth:`make` takes them)."""
        base = {f.name: getattr(self, f.name) for f in fields(self)}
        base["params"] = {**self.param, **dict(options.pop("params", None) or {})}
        return DetectOptions.make(**{**base, **options})

    def detector_params(self) -> dict:
        """The chosen detector's options, parsed, with its defaults filled in."""
        from fers.detectors import get

        det = get(self.detector)
        own = {o.name: o for o in det.options}
        return {**det.defaults(), **{k: own[k].parse(v) for k, v in self.params if k in own}}

    def checked(self) -> DetectOptions:
        """Refuse what cannot run, each with one line: unknown backend, detector, adapter, methods,
        a band spec outside the grammar, a detector option that does not parse."""
        from fers.bands import ADAPTERS
        from fers.detectors import get
        from fers.enhance import resolve_backend
        from fers.methods import methods_for

        resolve_backend(self.backend)
        det = get(self.detector)
        parse_band_spec(self.bands)
        if self.adapter not in ADAPTERS:
            raise FersInputError(f"unknown band adapter {self.adapter!r}; choose one of {', '.join(ADAPTERS)}")
        self.detector_params()
        allowed = methods_for(det.family)
        bad = [m for m in self.methods or () if m not in allowed]
        if bad:
            raise FersInputError(f"unknown method(s) {', '.join(bad)} for detector {self.detector}; "
                                 f"choose from {', '.join(allowed)}")
        return self

    def wanted(self) -> tuple:
        """The methods to compute: those asked for, else every method of the detector's family."""
        from fers.detectors import get
        from fers.methods import methods_for

        return tuple(self.methods) if self.methods is not None else methods_for(get(self.detector).family)

    def as_json(self) -> dict:
        """Every option that changes a result, as JSON values (stored in an output's meta): band spec,
        backend (resolved), detector, every detector option (each at its value or default), weights,
        adapter, no-data value, keep-bad-bands."""
        from fers.detectors import all_options
        from fers.enhance import resolve_backend

        mine = self.detector_params()
        params = {n: _jsonable(mine.get(n, o.default)) for n, o in all_options().items()}
        return {"bands": parse_band_spec(self.bands).describe(), "backend": resolve_backend(self.backend, self.weights),
                "detector": self.detector, **params, "weights": str(self.weights) if self.weights else "shipped",
                "adapter": self.adapter, "nodata": None if self.nodata is None else float(self.nodata),
                "keep_bad_bands": bool(self.keep_bad_bands)}


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def options_from_namespace(a) -> DetectOptions:
    """:class:`DetectOptions` from the command line's parsed arguments (names as the flags')."""
    from fers.detectors import all_options

    kw = {f.name: getattr(a, f.name, None) for f in fields(DetectOptions) if f.name not in ("params", "name")}
    params = {n: getattr(a, n, None) for n in all_options()}
    return DetectOptions.make(**kw, params=params)
