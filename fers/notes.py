"""Structured notes: what a detection did differently from a plain run, and why.

A :class:`Note` is ``(code, message, data)``: ``code`` says what kind of note it is (one of
:data:`CODES`), ``message`` is one sentence for a person, ``data`` the numbers behind it. The
command line prints the message (with the flag that changes it, :data:`HINTS`); the app groups
and words notes by code; JSON output gives ``{"code", "message", **data}``. Nothing parses a message
back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CODES = {
    "bands.empty": "bands that hold only no-data were dropped",
    "bands.dropped": "bands marked bad in the file, or in the water-vapour windows, were dropped",
    "bands.selected": "bands were selected by wavelength",
    "nodata.masked": "pixels with no data were left out and are NaN in the maps",
    "model.no_bands": "bands 'all': no model for this band count, model-based maps skipped",
    "model.unavailable": "no model could be loaded, model-based maps skipped",
    "model.too_small": "the scene is smaller than the networks' minimum, model-based maps skipped",
    "model.no_spa": "the checkpoint has no Spa-FEN, spatial and fused maps skipped",
    "large.streamed": "the scene was streamed to stay within the memory budget",
    "large.tiles": "the networks ran on tiles of a large scene",
}

# the option that keeps what a note says was dropped: {code: (command-line flag, app control)}
HINTS = {
    "bands.dropped": ("--keep-bad-bands", "the 'keep bad bands' box"),
}


@dataclass(frozen=True)
class Note:
    """One note of a :class:`fers.result.DetectResult`; ``str(note)`` is its message."""

    code: str
    message: str
    data: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.code not in CODES:
            raise ValueError(f"unknown note code {self.code!r}")

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.data}

    @property
    def group(self) -> str:
        """The part before the dot: ``bands``, ``nodata``, ``model`` or ``large``."""
        return self.code.split(".", 1)[0]


def _code_message(note) -> tuple:
    """``(code, message)`` of a :class:`Note` or of its JSON form (a batch row's notes)."""
    if isinstance(note, dict):
        return note.get("code"), str(note.get("message", ""))
    return getattr(note, "code", None), str(note)


def cli_text(note) -> str:
    """The message as the command line prints it: with the flag that keeps what was dropped."""
    code, message = _code_message(note)
    hint = HINTS.get(code)
    return f"{message}; {hint[0]} keeps them" if hint else message


def page_text(note) -> str:
    """The message as the app shows it: with the control that keeps what was dropped."""
    code, message = _code_message(note)
    hint = HINTS.get(code)
    return f"{message}; {hint[1]} keeps them" if hint else message
