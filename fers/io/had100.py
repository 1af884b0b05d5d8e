"""Reader for the HAD100 folder layout (the paper's main benchmark, AVIRIS-NG).

::

    HAD100Dataset/
      train/aviris_ng/*.npy     target-free training cubes, (H, W, B) float
      train/aviris/*.npy        target-free training cubes (AVIRIS)
      test/aviris_ng/*.npy      test scenes, (H, W, B) float
      ground_truth/aviris_ng/*.png   anomaly masks (mask in channel 1), same stem as the test cube

``HAD100(root)`` accepts the ``HAD100Dataset`` folder itself or a folder that contains it.
"""

from __future__ import annotations

from pathlib import Path

from fers.errors import FersInputError
from fers.io.cube import Scene, load_cube
from fers.io.formats import GT_EXTS

TRAIN_SENSORS = ("aviris_ng", "aviris")
TEST_SENSORS = ("aviris_ng",)


class HAD100:
    """Index of a HAD100 folder. Cube paths are sorted by name, so iteration order is stable."""

    def __init__(self, root):
        root = Path(root)
        if (root / "HAD100Dataset").is_dir():
            root = root / "HAD100Dataset"
        if not root.is_dir() or not any((root / sub).is_dir() for sub in ("train", "test")):
            raise FersInputError("not a HAD100 folder (expected HAD100Dataset/{train,test,ground_truth}/...)", root)
        self.root = root

    def _npys(self, *parts) -> list[Path]:
        folder = self.root.joinpath(*parts)
        return sorted(folder.glob("*.npy")) if folder.is_dir() else []

    def train_files(self, sensor: str = "aviris_ng") -> list[Path]:
        """Training cubes of ``sensor`` (``aviris_ng`` or ``aviris``)."""
        if sensor not in TRAIN_SENSORS:
            raise FersInputError(f"unknown HAD100 sensor {sensor!r}; choose {', '.join(TRAIN_SENSORS)}", self.root)
        return self._npys("train", sensor)

    def iter_train(self, sensor: str = "aviris_ng", mmap: bool = False):
        """Yield training :class:`~fers.io.cube.Scene` objects (``cube (H, W, B)``, no GT)."""
        for p in self.train_files(sensor):
            yield load_cube(p, mmap=mmap)

    def gt_path(self, cube_path, sensor: str = "aviris_ng") -> Path | None:
        """Ground-truth file for a test cube (same stem under ``ground_truth/<sensor>``), or None."""
        folder = self.root / "ground_truth" / sensor
        stem = Path(cube_path).stem
        for ext in GT_EXTS:
            cand = folder / (stem + ext)
            if cand.is_file():
                return cand
        return None

    def test_pairs(self, sensor: str = "aviris_ng") -> list[tuple[Path, Path]]:
        """``[(cube .npy, ground-truth file), ...]``; a test cube without GT is an error."""
        if sensor not in TEST_SENSORS:
            raise FersInputError(f"unknown HAD100 test sensor {sensor!r}; choose {', '.join(TEST_SENSORS)}",
                                 self.root)
        cubes = self._npys("test", sensor)
        if not cubes:
            raise FersInputError(f"no test cubes in test/{sensor}", self.root)
        pairs = []
        for c in cubes:
            g = self.gt_path(c, sensor)
            if g is None:
                raise FersInputError(f"no ground truth for {c.name} in ground_truth/{sensor}", self.root)
            pairs.append((c, g))
        return pairs

    def iter_test(self, sensor: str = "aviris_ng", mmap: bool = False):
        """Yield test :class:`~fers.io.cube.Scene` objects with ``gt (H, W)`` bool."""
        for c, g in self.test_pairs(sensor):
            scene: Scene = load_cube(c, gt_path=g, mmap=mmap)
            yield scene
