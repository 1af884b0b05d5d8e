"""Turning the app's uploads into a loaded scene (all reading goes through :mod:`fers.io.cube`).

* :func:`settle_upload` decides what the cube box keeps after an upload (an upload replaces an example or
  an earlier file; ENVI header and data file stay together).
* :func:`pick_cube_file` checks an upload and picks its cube file; :func:`staged_cube` also links an
  ENVI header and its data file side by side into a per-request temp dir so the reader finds the pair.
* :func:`check_upload` refuses a file from its header (value limit, pickled ``.npy``) before decoding.
* :func:`mat_key_choices` lists a ``.mat`` file's arrays for the key dropdowns.
* :func:`load_scene` loads cube (+ GT) and refuses cubes above :mod:`fers.ui.limits`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from fers.errors import FersInputError
from fers.io.formats import CUBE_FILE_EXTS, ENVI_DATA_EXTS, GT_EXTS
from fers.ui.limits import check_cube_size
from fers.ui.tempdirs import link_or_copy, request_dir

AUTO = "(auto)"
NONE = "(none)"


def as_paths(files) -> list[Path]:
    if files is None:
        return []
    if isinstance(files, (str, Path)):
        files = [files]
    out = []
    for f in files:
        p = getattr(f, "name", f) if not isinstance(f, (str, Path, dict)) else f
        if isinstance(p, dict):
            p = p.get("path") or p.get("name")
        if p:
            out.append(Path(p))
    return out


def pick_cube_file(files) -> Path:
    """Check an upload and return its cube file (the ``.hdr`` of an ENVI pair) where it was uploaded."""
    paths = as_paths(files)
    if not paths:
        raise FersInputError("no cube file: upload a cube (.mat, .npy, ENVI .hdr + data, .tif) or click an example")
    headers = [p for p in paths if p.suffix.lower() == ".hdr"]
    if headers:
        if len(headers) > 1:
            raise FersInputError("several ENVI headers uploaded; upload one .hdr together with its data file")
        if len(paths) < 2:
            raise FersInputError("ENVI header uploaded alone; upload the .hdr together with its data file",
                                 path=headers[0].name)
        return headers[0]
    cubes = [p for p in paths if p.suffix.lower() in CUBE_FILE_EXTS]
    if len(paths) > 1:
        raise FersInputError(
            f"{len(paths)} files uploaded; upload one cube file (or an ENVI .hdr together with its data file)")
    if not cubes:
        raise FersInputError(
            f"unsupported cube format {paths[0].suffix or '(no extension)'}; use .mat, .npy, ENVI .hdr + data, "
            ".tif/.tiff", path=paths[0].name)
    return cubes[0]


@contextmanager
def staged_cube(files):
    """The path of the cube to load from one or more uploaded files (checked by :func:`pick_cube_file`),
    for the duration of the block.

    One ``.mat``/``.npy``/``.tif`` file is used as is. For ENVI the user uploads the ``.hdr`` and its
    data file together (Gradio keeps each upload in a folder of its own); both are linked (copied where
    links are not possible) side by side into a per-request directory, removed when the block ends.
    """
    cube = pick_cube_file(files)
    if cube.suffix.lower() != ".hdr":
        yield cube
        return
    with request_dir("envi") as stage:
        for p in as_paths(files):
            link_or_copy(p, stage / p.name)
        yield stage / cube.name


def _envi_group(p: Path) -> str | None:
    """The stem that ties an ENVI header to its data file (None for other cube files)."""
    return p.stem if p.suffix.lower() == ".hdr" or p.suffix.lower() in ENVI_DATA_EXTS else None


def _complete(paths: list[Path]) -> bool:
    """One cube file, or one ENVI header with its data file."""
    if len(paths) == 1:
        return paths[0].suffix.lower() in CUBE_FILE_EXTS and paths[0].suffix.lower() != ".hdr"
    groups = {_envi_group(p) for p in paths}
    return len(paths) == 2 and len(groups) == 1 and None not in groups and sum(
        p.suffix.lower() == ".hdr" for p in paths) == 1


def half_envi_pair(paths) -> bool:
    """True for an ENVI header or data file alone (its partner can come with the next upload)."""
    paths = as_paths(paths)
    return len(paths) == 1 and _envi_group(paths[0]) is not None


def settle_upload(files, previous=(), examples=()) -> tuple[list[Path], list[Path]]:
    """``(kept, replaced)``: what the multi-file cube box should hold after an upload.

    The box takes several files only for an ENVI header and its data file, so an upload replaces what was
    there before: a bundled example (``examples``: its file names) goes as soon as any other file is
    present, and of the user's own files those not in ``previous`` (the box before this upload) are kept,
    plus earlier files that complete an ENVI pair with them (header and data file uploaded one after
    the other)."""
    every = as_paths(files)
    paths = [p for p in every if p.name not in set(examples)] or every
    before = {str(p) for p in as_paths(previous)}
    new = [p for p in paths if str(p) not in before] or paths
    stems = {_envi_group(p) for p in new} - {None}
    if len(new) < len(paths) and not _complete(new) and stems:
        new += [p for p in paths if p not in new and _envi_group(p) in stems]
    return new, [p for p in every if p not in new]


def check_upload(cube_path, key=None) -> None:
    """Refuse a cube file from its header alone, before anything is decoded: over the app's value limit
    (:mod:`fers.ui.limits`), or a pickled ``.npy`` (:mod:`fers.io.peek`)."""
    from fers.io.peek import peek_cube

    cube_path = Path(cube_path)
    if cube_path.suffix.lower() == ".mat":
        _mat_precheck(cube_path, _key_or_none(key))
        return
    head = peek_cube(cube_path)
    if head is not None:
        check_cube_size(head.hwb(), cube_path.name)


def mat_key_choices(path) -> tuple[list[str], list[str], str]:
    """``(cube key choices, GT key choices, description)`` for a ``.mat`` file; non-.mat -> empty lists."""
    from fers.io.cube import list_mat_keys

    path = Path(path)
    if path.suffix.lower() != ".mat":
        return [], [], ""
    keys = list_mat_keys(path)
    cubes = [k for k, s, _ in keys if len(s) == 3]
    planes = [k for k, s, _ in keys if len(s) == 2]
    desc = ", ".join(f"`{k}` {'x'.join(str(i) for i in s)} {d}" for k, s, d in keys)
    return cubes, planes, desc


def _mat_precheck(path: Path, key) -> None:
    """Refuse an oversized ``.mat`` cube from its header alone, before loading it."""
    from fers.io.cube import list_mat_keys

    keys = list_mat_keys(path)
    shapes = {k: s for k, s, _ in keys if len(s) == 3}
    if key in shapes:
        check_cube_size(shapes[key], path.name)
    elif len(shapes) >= 1:
        check_cube_size(max(shapes.values(), key=lambda s: int(np.prod(s))), path.name)


def _key_or_none(value):
    return None if value in (None, "", AUTO, NONE) else str(value)


def load_scene(cube_path, key=None, gt_file=None, gt_key=None):
    """Load ``(H, W, B)`` cube and optional GT via :func:`fers.io.cube.load_cube`; returns its ``Scene``.

    ``gt_key`` names a GT array inside the cube's own ``.mat`` (used when no separate GT file is given);
    ``(none)`` ignores a GT stored in the cube file.
    """
    from fers.io.cube import load_cube

    cube_path = Path(cube_path)
    key = _key_or_none(key)
    check_upload(cube_path, key)
    gt_paths = as_paths(gt_file)
    if gt_paths:
        g = gt_paths[0]
        if g.suffix.lower() not in GT_EXTS:
            raise FersInputError(
                f"unsupported ground-truth format {g.suffix or '(no extension)'}; use .png, .mat, .npy, .tif",
                path=g.name)
        # a separate GT .mat: its 2-D array of the cube's (H, W) is found automatically
        scene = load_cube(cube_path, key=key, gt_path=g, mmap=True)
    elif cube_path.suffix.lower() == ".mat":
        scene = load_cube(cube_path, key=key, gt_key=_key_or_none(gt_key), mmap=True)
        if gt_key == NONE:
            scene.gt = None
    else:
        scene = load_cube(cube_path, key=key, mmap=True)
    check_cube_size(scene.cube.shape, cube_path.name)
    scene.cube = np.ascontiguousarray(scene.cube, dtype=np.float32)
    return scene
