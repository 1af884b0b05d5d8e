"""The errors FERS raises on purpose, each a one-line message naming the file when there is one.

:class:`FersError` is the base; its kinds say whose move it is:

* :class:`FersInputError` -- the user's file or arguments (unreadable file, wrong rank, NaN/Inf, too
  few bands, GT mismatch, a bad option or environment variable);
* :class:`FersModelError` -- a model or checkpoint is missing or broken, or its backend is not installed;
* :class:`FersResourceError` -- the machine: the memory budget refuses the request, a disk is full, an
  output cannot be written;
* :class:`FersClusterError` -- the Dask scheduler cannot be reached or the cluster cannot start.

The CLI turns each kind into its exit code (:data:`EXIT_CODES`: input 2, model 3, resource 4,
cluster 5) and prints ``fers: error: <message>``; the app shows the message as a ``gr.Error``.
"""

from __future__ import annotations


class FersError(Exception):
    """Base of the errors FERS raises on purpose.

    Parameters
    ----------
    message : str
        What is wrong; whitespace (newlines included) is collapsed, so the message is one line.
    path : str or os.PathLike, optional
        The file concerned; the message then starts with ``"<path>: "``.
    """

    exit_code = 1

    def __init__(self, message: str, path=None):
        msg = " ".join(str(message).split())  # always one line
        if path is not None:
            msg = f"{path}: {msg}"
        super().__init__(msg)
        self.path = path


class FersInputError(FersError, ValueError):
    """Bad input: unreadable file, wrong rank, NaN/Inf, too few bands, GT mismatch, bad option, ...

    Also a :class:`ValueError`, as it always was.
    """

    exit_code = 2


class FersModelError(FersError):
    """A model is unavailable: missing or broken checkpoint/ONNX file, or its backend not installed."""

    exit_code = 3


class FersResourceError(FersError):
    """The machine cannot serve the request: over the memory budget, disk full, an output not writable."""

    exit_code = 4


class FersClusterError(FersError):
    """The Dask scheduler cannot be reached, or a local cluster cannot start."""

    exit_code = 5


EXIT_CODES = {cls.__name__: cls.exit_code for cls in (FersInputError, FersModelError, FersResourceError,
                                                       FersClusterError)}


def with_path(error: FersError, path) -> FersError:
    """``error`` itself when it names a file, else an error of the same kind naming ``path``.

    Parameters
    ----------
    error : FersError
        The error caught.
    path : str or os.PathLike
        The file the caller was working on.

    Returns
    -------
    FersError
        An error of ``type(error)`` whose message starts with ``path`` (or ``error`` unchanged).
    """
    if error.path is not None:
        return error
    return type(error)(str(error), path)


def kind_of(error: FersError) -> type:
    """The kind of ``error``: the first of the four kinds it is an instance of.

    Parameters
    ----------
    error : FersError
        Any FERS error (a subclass such as :class:`fers.enhance.ModelUnavailable` included).

    Returns
    -------
    type
        :class:`FersInputError`, :class:`FersModelError`, :class:`FersResourceError` or
        :class:`FersClusterError`; :class:`FersError` when it is none of them.
    """
    for cls in (FersInputError, FersModelError, FersResourceError, FersClusterError):
        if isinstance(error, cls):
            return cls
    return FersError
