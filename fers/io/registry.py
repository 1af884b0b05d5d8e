"""The cube readers FERS knows, one :class:`Reader` entry each: the one list that :func:`fers.io.load_cube`,
the memory check (:func:`fers.io.peek.peek_cube`), :func:`fers.scenes.mmap_for`, the CLI help and the
app's upload box read.

A reader module declares ``READER = Reader(...)``; :mod:`fers.io.readers` registers the built-in ones
in the order the help lists them (``fers/io/__init__.py`` imports it, so they are there as soon as
anything from :mod:`fers.io` is). A reader from elsewhere calls :func:`register` (and
:func:`unregister` to take it back). How to add one: docs/formats.md, "Adding a reader".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MMAP_MODES = ("none", "map", "spill")
OPTIONS = ("key", "layout")  # load_cube options that only some readers take


@dataclass(frozen=True)
class ReadOptions:
    """What :func:`fers.io.load_cube` passes every reader: ``mmap`` (memory-map where the reader can),
    ``max_bytes`` (refuse arrays larger than this; None = no limit), ``key`` / ``layout`` (only for
    readers that declare them in :attr:`Reader.options`), ``gt_key`` and ``want_gt`` (a ground truth
    stored in the cube file is wanted: no separate ground-truth file was given)."""

    mmap: bool = False
    max_bytes: int | None = None
    key: str | None = None
    layout: str | None = None
    gt_key: str | None = None
    want_gt: bool = True


@dataclass(frozen=True)
class Reader:
    """One cube format.

    * ``name``: short identifier (``"envi"``); ``title``: the words of the help and of refusals
      (``"ENVI .hdr + data file"``); ``noun``: how a refusal names its files (``"TIFF"``; default: title).
    * ``extensions``: lower-case suffixes of the file that names a cube (listed in the help, taken alone
      by the app); ``data_extensions``: other files ``load_cube`` also takes as the cube (ENVI data
      files); ``companions``: files the app's upload box takes beside the cube (an EnMAP XML).
    * ``sniff(path) -> bool``: claims a file before any extension does (an ENVI data file without an
      extension, a GeoTIFF with an EnMAP ``METADATA.XML`` beside it); None = by extension only.
    * ``peek(path, key) -> Header | None``: shape, bytes per value, whether the data can be
      memory-mapped, and ``aux_bytes`` of every array decoded beside the cube, from headers only (None:
      the header cannot be read; the reader then says what is wrong). Required: without it the memory
      check could not refuse a file before it is decoded.
    * ``read(path, ReadOptions) -> (cube (H, W, B) as stored, meta)``: ``meta`` as described in
      :mod:`fers.io.products` (``wavelengths``, ``nodata``, ``georef``, ...; ``gt`` and ``gt_key`` for
      a ground truth inside the file); every other key goes to ``Scene.info``.
    * ``mmap``: ``"map"`` (``mmap=True`` maps the file as stored), ``"spill"`` (a big cube is decoded
      into a temporary map, :func:`fers.memmap.spill`: the header decides), ``"none"`` (decoded whole).
    * ``options``: which of :data:`OPTIONS` apply; ``format``: ``Scene.info["format"]`` (default: the
      extension); ``sidecar``: look for ``<stem>.wavelengths.npy`` beside the file;
      ``pair(path) -> key | None``: what ties the files of a multi-file cube together (app uploads);
      ``data_file(path) -> Path``: the file that holds the values (its size decides memory-mapping).
    """

    name: str
    title: str
    extensions: tuple[str, ...]
    peek: Callable
    read: Callable
    mmap: str = "none"
    sniff: Callable | None = None
    data_extensions: tuple[str, ...] = ()
    companions: tuple[str, ...] = ()
    options: frozenset = field(default_factory=frozenset)
    noun: str | None = None
    format: str | None = None
    sidecar: bool = True
    pair: Callable | None = None
    data_file: Callable | None = None

    def __post_init__(self):
        if self.peek is None or self.read is None:
            raise ValueError(f"reader {self.name!r}: peek and read are required (peek: the memory check "
                             "reads the header before anything is decoded)")
        if self.mmap not in MMAP_MODES:
            raise ValueError(f"reader {self.name!r}: mmap must be one of {MMAP_MODES}, not {self.mmap!r}")
        if not set(self.options) <= set(OPTIONS):
            raise ValueError(f"reader {self.name!r}: unknown options {sorted(set(self.options) - set(OPTIONS))}")
        if any(e != e.lower() or (e and not e.startswith(".")) for e in self.extensions):
            raise ValueError(f"reader {self.name!r}: extensions are lower-case and start with a dot")


_READERS: list[Reader] = []


def register(reader: Reader) -> Reader:
    """Add ``reader`` (after the others; a reader of the same name is replaced in its place)."""
    for i, r in enumerate(_READERS):
        if r.name == reader.name:
            _READERS[i] = reader
            return reader
    _READERS.append(reader)
    return reader


def unregister(name: str) -> None:
    """Take the reader called ``name`` back out (no-op when there is none)."""
    _READERS[:] = [r for r in _READERS if r.name != name]


def readers() -> tuple[Reader, ...]:
    """Every registered reader, in the order the help lists them (the built-in ones are registered
    when :mod:`fers.io` is imported, which any import of this module does first)."""
    return tuple(_READERS)


def reader_for(path) -> Reader | None:
    """The reader of a cube file: the first whose ``sniff`` claims it, else the first whose
    extensions or data extensions hold its suffix; None for a file type FERS does not read."""
    path = Path(path)
    every = readers()
    for r in every:
        if r.sniff is not None and r.sniff(path):
            return r
    ext = path.suffix.lower()
    return next((r for r in every if ext and (ext in r.extensions or ext in r.data_extensions)), None)


def reader_name(path) -> str | None:
    """The name of :func:`reader_for`'s reader, or None."""
    r = reader_for(path)
    return None if r is None else r.name


def taking(option: str) -> tuple[Reader, ...]:
    """The readers that take ``option`` (one of :data:`OPTIONS`)."""
    return tuple(r for r in readers() if option in r.options)


def _unique(seq) -> tuple:
    return tuple(dict.fromkeys(seq))


def cube_file_exts() -> tuple[str, ...]:
    """Suffixes of the files that name a cube (an ENVI ``.hdr``, not its data file)."""
    return _unique(e for r in readers() for e in r.extensions)


def cube_exts() -> tuple[str, ...]:
    """Every suffix ``load_cube`` takes as a cube: :func:`cube_file_exts` and the data extensions."""
    return _unique([*cube_file_exts(), *(e for r in readers() for e in r.data_extensions if e)])


def upload_exts() -> tuple[str, ...]:
    """Suffixes the app's upload box takes: cubes, data files and companions (an EnMAP XML)."""
    return _unique([*cube_exts(), *(e for r in readers() for e in r.companions)])


def formats_text() -> str:
    """Every cube format FERS reads, comma-separated (the CLI's help, the readers' refusals)."""
    return ", ".join(_unique(r.title for r in readers()))


def pair_key(path) -> tuple | None:
    """What ties the files of a multi-file cube together (ENVI header + data file, EnMAP image + XML):
    ``(reader name, shared part of the names)``, or None for a file that is not half of a pair."""
    path = Path(path)
    for r in readers():
        if r.pair is not None and (k := r.pair(path)) is not None:
            return (r.name, k)
    return None


def data_file(path) -> Path:
    """The file that holds the values (an ENVI image named by its ``.hdr``: its data file)."""
    r = reader_for(path)
    return r.data_file(Path(path)) if r is not None and r.data_file is not None else Path(path)


MMAP_WORDS = {"none": "no (decoded whole)", "map": "yes", "spill": "spilled to a temporary map when big"}


def formats_table() -> str:
    """The registered readers as a Markdown table (docs/formats.md holds it; a test keeps the two equal):
    format, the files it claims, memory-mapping, options, module."""
    rows = ["| format | files | memory map (`mmap=True`) | options | module |", "|---|---|---|---|---|"]
    for r in readers():
        files = [", ".join(f"`{e}`" for e in (*r.extensions, *r.data_extensions))]
        if r.sniff is not None:  # the first sentence of its docstring says what it claims
            files.append(_first_sentence(r.sniff))
        files = "; ".join(f for f in files if f) or "-"
        if r.companions:
            files += "; uploaded with " + ", ".join(f"`{e}`" for e in r.companions)
        opts = ", ".join(f"`{o}`" for o in sorted(r.options)) or "-"
        rows.append(f"| {r.title} | {files} | {MMAP_WORDS[r.mmap]} | {opts} | `{r.read.__module__}` |")
    return "\n".join(rows)


def _first_sentence(fn) -> str:
    """The first sentence of ``fn``'s docstring in Markdown (``x`` -> `x`, Sphinx cross-references dropped)."""
    text = " ".join((fn.__doc__ or fn.__name__).split()).split(". ")[0].rstrip(".")
    text = re.sub(r"\s*\(:\w+:`[^`]*`\)", "", text).replace("``", "`")
    return text[:1].lower() + text[1:]
