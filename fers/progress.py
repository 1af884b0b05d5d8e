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


class _Quiet:
    """What :func:`bar` returns when no bar is shown: the parts of tqdm's interface that fers uses
    (iterate, ``with``, ``update``, ``set_postfix_str``, ``set_description``, ``close``), doing
    nothing, so a run without bars (every library call, a CLI run in a pipe) never imports tqdm."""

    disable = True

    def __init__(self, iterable=None, total=None):
        self.iterable, self.total, self.n = iterable, total, 0

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def __len__(self):
        return len(self.iterable) if self.iterable is not None else int(self.total or 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.n += n

    def _nothing(self, *args, **kwargs):
        return None

    set_postfix_str = set_postfix = set_description = set_description_str = refresh = close = clear = _nothing


def bar(iterable=None, total=None, desc: str = "", unit: str = "it", on: bool | None = None):
    """A tqdm bar on stderr (removed when done); disabled unless ``on`` is True or, when ``on`` is
    None, :func:`shown` is active (then a do-nothing stand-in, :class:`_Quiet`)."""
    show = _SHOWN.get() if on is None else bool(on)
    if not show:
        return _Quiet(iterable, total)
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not show, file=sys.stderr, leave=False,
                dynamic_ncols=True, mininterval=0.5)
