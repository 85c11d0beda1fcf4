"""Read the NASA C-MAPSS turbofan files (train/test/RUL) in their original layout, numpy only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Column names of train_FD00N.txt / test_FD00N.txt (Saxena et al. 2008, Table 2).
SETTINGS = ("op_setting_1", "op_setting_2", "op_setting_3")
SENSORS = tuple(f"s{i}" for i in range(1, 22))
SUBSETS = ("FD001", "FD002", "FD003", "FD004")


class CmapssError(ValueError):
    """A C-MAPSS folder or file is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Trajectories:
    """Engine trajectories, rows ordered by (unit, cycle).

    Attributes
    ----------
    unit, cycle : (n,) int arrays
    settings : (n, 3) float array of the operating settings
    sensors : (n, 21) float array of the sensor readings s1..s21
    """

    unit: np.ndarray
    cycle: np.ndarray
    settings: np.ndarray
    sensors: np.ndarray

    @property
    def units(self) -> np.ndarray:
        """Distinct engine ids, ascending."""
        return np.unique(self.unit)

    def last_rows(self) -> np.ndarray:
        """Row index of the last cycle of each engine (ascending unit order)."""
        return np.flatnonzero(np.r_[self.unit[1:] != self.unit[:-1], True])

    def rul(self) -> np.ndarray:
        """Run-to-failure target: cycles left until each engine's last recorded cycle."""
        last = self.cycle[self.last_rows()]
        idx = np.searchsorted(self.units, self.unit)
        return (last[idx] - self.cycle).astype(np.float64)


@dataclass(frozen=True)
class Subset:
    """One C-MAPSS subset: train trajectories, test trajectories and the true test RUL."""

    name: str
    train: Trajectories
    test: Trajectories
    test_rul: np.ndarray
    train_sha256: str
    #: How often the test file was scored through this object (the protocol allows once).
    _test_looks: list[int] = field(default_factory=list, repr=False, compare=False)

    def claim_test_look(self) -> int:
        """Record the one scoring of the test file this run may make; refuse a second one.

        The protocol (hyperparameters frozen by grouped CV on the train file, test file scored
        once per run) is enforced here rather than trusted: whatever reads the test file to
        score it goes through this call first.
        """
        if self._test_looks:
            raise CmapssError(
                f"test_{self.name}.txt was already scored in this run (the protocol allows one "
                "look per run; fix: read the subset again for an independent run)"
            )
        self._test_looks.append(1)
        return len(self._test_looks)

    @property
    def test_looks(self) -> int:
        """Times the test file was scored through this object (0 or 1)."""
        return len(self._test_looks)


def read_trajectories(path: Path) -> Trajectories:
    """Read one train_/test_ file (26 space-separated columns, trailing spaces tolerated)."""
    if not path.is_file():
        raise CmapssError(f"{path}: file not found (fix: point --data at a C-MAPSS folder)")
    try:
        raw = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise CmapssError(f"{path}: not a C-MAPSS trajectory file: {err}") from None
    if raw.shape[1] != 26:
        raise CmapssError(f"{path}: expected 26 columns, found {raw.shape[1]}")
    order = np.lexsort((raw[:, 1], raw[:, 0]))
    raw = raw[order]
    return Trajectories(
        unit=raw[:, 0].astype(np.int64),
        cycle=raw[:, 1].astype(np.int64),
        settings=raw[:, 2:5].copy(),
        sensors=raw[:, 5:26].copy(),
    )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (the training-data hash recorded in a manifest)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_subset(data_dir: Path, subset: str) -> Subset:
    """Read train_/test_/RUL_<subset>.txt from ``data_dir`` (the layout NASA published)."""
    if subset not in SUBSETS:
        raise CmapssError(f"subset {subset!r} is unknown (fix: one of {', '.join(SUBSETS)})")
    data_dir = Path(data_dir)
    train_path = data_dir / f"train_{subset}.txt"
    train = read_trajectories(train_path)
    test = read_trajectories(data_dir / f"test_{subset}.txt")
    rul_path = data_dir / f"RUL_{subset}.txt"
    if not rul_path.is_file():
        raise CmapssError(f"{rul_path}: file not found (fix: copy RUL_{subset}.txt beside it)")
    test_rul = np.loadtxt(rul_path, dtype=np.float64, ndmin=2)[:, 0]
    if test_rul.shape[0] != test.units.shape[0]:
        raise CmapssError(
            f"{rul_path}: {test_rul.shape[0]} values for {test.units.shape[0]} test engines"
        )
    return Subset(subset, train, test, test_rul, sha256_file(train_path))
