"""Progress bars for work that can take more than a few seconds (tqdm, on stderr).

Off by default, so the library stays quiet; the command line turns them on for a run with
``with progress.shown(stderr_is_terminal()):`` (only on a terminal: in a log file or a pipe every
redraw would be a line of carriage returns and escape codes, so there are no bars at all) and the
app turns them on inside its handlers, where
``gr.Progress(track_tqdm=True)`` turns every tqdm bar into the page's progress bar. The switch is a
context variable, so it follows the handler's thread and never leaks into other requests.
"""

from __future__ import annotations

import contextvars
import sys
from contextlib import contextmanager

_SHOWN = contextvars.ContextVar("fers_progress_shown", default=False)


@contextmanager
def shown(on: bool = True):
    """Show progress bars inside this block."""
    token = _SHOWN.set(bool(on))
    try:
        yield
    finally:
        _SHOWN.reset(token)


def is_shown() -> bool:
    return _SHOWN.get()


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal, where a bar can redraw itself in place."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False


def bar(iterable=None, total=None, desc: str = "", unit: str = "it", on: bool | None = None):
    """A tqdm bar on stderr (removed when done); disabled unless ``on`` is True or, when ``on`` is
    None, :func:`shown` is active."""
    from tqdm import tqdm

    show = _SHOWN.get() if on is None else bool(on)
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not show, file=sys.stderr, leave=False,
                dynamic_ncols=True, mininterval=0.5)
