"""The reader registry (fers.io.registry): a new format is one module and one test. A toy reader
registered here is picked up by load_cube, the header/memory check, the accepted-file lists and the
CLI help, and is gone again after it is unregistered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fers.errors import FersInputError, FersResourceError
from fers.io import load_cube, registry
from fers.io.header import Header
from fers.io.peek import peek_cube
from fers.io.registry import Reader, ReadOptions

TOY_MAGIC = b"TOYCUBE"


def _write_toy(path: Path, cube: np.ndarray, shape=None) -> Path:
    """``.toycube``: one text line ``TOYCUBE H W B`` then the float32 values, bands last."""
    h, w, b = shape or cube.shape
    path.write_bytes(TOY_MAGIC + f" {h} {w} {b}\n".encode() + cube.astype("<f4").tobytes())
    return path


def _toy_shape(path) -> tuple[int, int, int]:
    with open(path, "rb") as fh:
        magic, *dims = fh.readline().split()
    if magic != TOY_MAGIC or len(dims) != 3:
        raise FersInputError("not a toy cube (no TOYCUBE line)", path)
    return tuple(int(d) for d in dims)


def _toy_peek(path, key=None) -> Header | None:
    try:
        return Header(_toy_shape(path), 4, False, "toy")
    except (OSError, ValueError, FersInputError):
        return None


def _toy_read(path, opts: ReadOptions):
    shape = _toy_shape(path)
    with open(path, "rb") as fh:
        fh.readline()
        return np.frombuffer(fh.read(), dtype="<f4").reshape(shape), {"toy": "yes"}


TOY = Reader(name="toy", title="Toy cube .toycube", extensions=(".toycube",), peek=_toy_peek, read=_toy_read)


@pytest.fixture
def toy():
    registry.register(TOY)
    try:
        yield TOY
    finally:
        registry.unregister(TOY.name)


def test_a_registered_reader_is_used_everywhere(toy, tmp_path, rng, capsys):
    from fers.cli import build_parser
    from fers.io.formats import CUBE_FILE_EXTS, formats_text
    from fers.scenes import mmap_for

    cube = rng.random((6, 5, 4)).astype(np.float32)
    path = _write_toy(tmp_path / "scene.toycube", cube)
    scene = load_cube(path)
    np.testing.assert_array_equal(scene.cube, cube)
    assert scene.info["format"] == "toycube" and scene.info["toy"] == "yes" and scene.name == "scene"
    head = peek_cube(path)
    assert head.shape == (6, 5, 4) and head.itemsize == 4 and not head.mappable
    assert mmap_for(path) is False
    assert "Toy cube .toycube" in formats_text() and ".toycube" in CUBE_FILE_EXTS
    assert ".toycube" in registry.upload_exts()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["detect", "--help"])
    assert "Toy cube .toycube" in " ".join(capsys.readouterr().out.split())


def test_the_memory_check_reads_a_registered_readers_header(toy, tmp_path, rng):
    from fers.pipeline import check_file_request

    big = _write_toy(tmp_path / "huge.toycube", rng.random((2, 2, 2)), shape=(200_000, 200_000, 100))
    with pytest.raises(FersResourceError, match="decodes to"):
        check_file_request(big)  # refused from the header, before the reader decodes anything


def test_unregistered_reader_is_gone(tmp_path, rng):
    from fers.io.formats import formats_text

    path = _write_toy(tmp_path / "scene.toycube", rng.random((3, 3, 2)))
    registry.register(TOY)
    registry.unregister(TOY.name)
    assert "Toy" not in formats_text() and peek_cube(path) is None
    with pytest.raises(FersInputError, match="unknown cube file type '.toycube'"):
        load_cube(path)


def test_option_of_another_reader_is_refused(toy, tmp_path, rng):
    path = _write_toy(tmp_path / "scene.toycube", rng.random((3, 3, 2)))
    with pytest.raises(FersInputError, match=r"key='x' only applies to \.mat files"):
        load_cube(path, key="x")
    with pytest.raises(FersInputError, match="layout='bands_first' only applies to TIFF files"):
        load_cube(path, layout="bands_first")


def test_a_reader_must_declare_a_header_peek():
    # the memory check must never skip a format silently: a reader without a peek cannot be declared
    with pytest.raises(ValueError, match="peek and read are required"):
        Reader(name="nopeek", title="No peek", extensions=(".np",), peek=None, read=_toy_read)
    with pytest.raises(ValueError, match="mmap must be one of"):
        Reader(name="bad", title="Bad", extensions=(".bad",), peek=_toy_peek, read=_toy_read, mmap="yes")
    with pytest.raises(ValueError, match="lower-case"):
        Reader(name="bad", title="Bad", extensions=(".BAD",), peek=_toy_peek, read=_toy_read)


def test_every_built_in_reader_peeks_and_dispatch_follows_sniffing(tmp_path):
    names = [r.name for r in registry.readers()]
    assert names == ["mat", "npy", "envi", "tiff", "enmap", "emit", "prisma"]  # the help's order
    assert all(callable(r.peek) and callable(r.read) for r in registry.readers())
    (tmp_path / "raw").write_bytes(b"")
    (tmp_path / "raw.hdr").write_text("ENVI\n")
    assert registry.reader_name(tmp_path / "raw") == "envi"  # no extension: its .hdr beside it
    assert registry.reader_name(tmp_path / "lone") is None
    assert registry.reader_name(tmp_path / "x.IMG") == "envi"
    (tmp_path / "a.tif").write_bytes(b"")
    assert registry.reader_name(tmp_path / "a.tif") == "tiff"
    (tmp_path / "X-METADATA.XML").write_text("<x/>")
    assert registry.reader_name(tmp_path / "a.tif") == "enmap"  # the XML beside it claims the GeoTIFF
    assert registry.pair_key(tmp_path / "X-METADATA.XML") == ("enmap", "X-")
    assert registry.pair_key(tmp_path / "raw.hdr") == ("envi", "raw")


# Product extensions live only in fers/io (readers, fers.io.formats); everything else asks fers.io.
# Checked: string constants that are an extension (".mat") or a glob of one ("*.mat"), the stuff of
# hand-typed extension lists. Not checked: file names, whole or built in an f-string (the app's
# example "abu-airport-4.mat", f"{name}.mat")
# and output extensions written outside fers/io (.npz results, .json, .geojson, .txt lists, .pt
# checkpoints, .onnx exports), which are not product formats.
PRODUCT_EXTS = {".mat", ".he5", ".nc", ".tif", ".tiff", ".hdr", ".npy", ".h5", ".hdf5", ".img", ".dat", ".raw",
                ".bin", ".bsq", ".bil", ".bip", ".zip", ".xml"}
ALLOWED: dict = {}  # {"fers/module.py": {".ext", ...}}: none today


def _extension_literals(path: Path) -> set:
    import ast
    import re

    tree = ast.parse(path.read_text())
    names = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}  # f"{x}.mat"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in names:
            m = re.fullmatch(r"\*?(\.[A-Za-z0-9]+)", node.value)
            if m and m.group(1).lower() in PRODUCT_EXTS:
                found.add(m.group(1).lower())
    return found


def test_product_extensions_appear_only_in_fers_io():
    repo = Path(__file__).resolve().parents[2]
    files = [p for p in (repo / "fers").rglob("*.py") if "io" not in p.relative_to(repo / "fers").parts[:1]]
    files += [repo / "app.py"] if (repo / "app.py").is_file() else []
    bad = {}
    for p in files:
        rel = p.relative_to(repo).as_posix()
        if extra := _extension_literals(p) - ALLOWED.get(rel, set()):
            bad[rel] = sorted(extra)
    assert not bad, f"file extensions outside fers/io (ask fers.io.registry / fers.io.formats instead): {bad}"
    assert _extension_literals(repo / "fers" / "io" / "formats.py")  # the scan finds them where they belong


def test_docs_list_every_registered_reader():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text()
    block = doc.split("<!-- readers:begin -->\n", 1)[1].split("\n<!-- readers:end -->", 1)[0]
    assert block == registry.formats_table(), (
        "docs/formats.md's reader table is stale; paste the output of "
        "python -c 'from fers.io.registry import formats_table; print(formats_table())'")
