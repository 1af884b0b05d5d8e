"""Errors raised for bad user input.

Every problem with a user's file or arguments is a :class:`FersInputError` whose message is a
single line naming the file (when there is one) and the problem. The CLI turns it into exit code 2,
the app into a ``gr.Error``.
"""


class FersInputError(ValueError):
    """Bad input: unreadable file, wrong rank, NaN/Inf, too few bands, GT mismatch, ..."""

    def __init__(self, message: str, path=None):
        msg = " ".join(str(message).split())  # always one line
        if path is not None:
            msg = f"{path}: {msg}"
        super().__init__(msg)
        self.path = path
