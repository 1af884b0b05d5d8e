"""What a cube file's header says before anything is decoded (:class:`Header`): every reader's
``peek`` returns one (:mod:`fers.io.registry`), :func:`fers.io.peek.peek_cube` hands it to the memory
budget (:mod:`fers.budget`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Header:
    """What a header says: ``shape`` as stored, bytes per value, whether the reader can memory-map
    the data (no decoding: ``.npy``, ENVI, uncompressed contiguous TIFF), the format name, the bytes of
    auxiliary arrays the reader decodes whatever the cube's path (``aux_bytes``), and a ``problem``
    that refuses the file before anything is decoded."""

    shape: tuple
    itemsize: int
    mappable: bool
    fmt: str
    aux_bytes: int = 0  # arrays the reader decodes beside the cube (an EMIT GLT), in bytes
    problem: str | None = None  # a refusal found in the header (a GLT out of proportion to the cube)

    @property
    def values(self) -> int:
        n = 1
        for s in self.shape:
            n *= int(s)
        return n

    @property
    def nbytes(self) -> int:
        """Decoded size in bytes."""
        return self.values * self.itemsize

    def hwb(self) -> tuple[int, int, int]:
        """``(H, W, B)`` for estimates: singleton axes dropped; for a TIFF the smallest axis is taken as
        the band axis (the reader's default rule), other formats store bands last."""
        s = [int(v) for v in self.shape if int(v) != 1]
        s = [1] * (3 - len(s)) + s if len(s) < 3 else s
        if self.fmt == "tiff":
            s.append(s.pop(s.index(min(s))))
        w = 1
        for v in s[1:-1]:
            w *= v
        return s[0], w, s[-1]
