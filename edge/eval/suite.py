"""An accuracy suite: labelled sequences, each with the lines an installer would draw, scored together.

    tolerance_s = 1.0          # a counted event matches a labelled one at most this far apart
    committed_f1 = 0.95        # the pooled figure docs/accuracy.md records (CI fails 0.01 below it)

    [[sequences]]
    name = "pets09-s2l1"
    path = "footage/pets09-s2l1"          # under the data folder ($EDGE_DATA_DIR, default ../shared/data)
    video = "video.avi"
    gt = "gt_480x360.txt"                 # MOTChallenge ground truth
    fps = 10                              # the video's frame rate (a gt frame is a video frame)
    lines = [{ name = "v240", a = [240, 60], b = [240, 330], why = "across the walkway at mid-image" }]
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from edge.config import LineConfig, Settings, validation_message
from edge.counting.line import Line
from edge.errors import UserError


class SuiteLine(LineConfig):
    why: str = ""  # the installer's reason for drawing it there


class Sequence(Settings):
    name: str
    path: Path
    video: str = "video.mp4"
    gt: str = "gt.txt"
    gt_scale: float = Field(1.0, gt=0)
    fps: float = Field(gt=0, le=240)
    lines: list[SuiteLine] = Field(min_length=1)

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, lines: list[SuiteLine]) -> list[SuiteLine]:
        names = [ln.name for ln in lines]
        if dup := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"line name {dup[0]!r} is used twice: give each line of a sequence a unique name")
        return lines

    def counting_lines(self) -> list[Line]:
        return [ln.to_line() for ln in self.lines]

    def files(self, data_dir: Path) -> tuple[Path, Path]:
        """(video, gt) under `data_dir`; a one-line UserError naming a missing one and the fix."""
        folder = data_dir / self.path
        for what, path in (("video", folder / self.video), ("ground truth", folder / self.gt)):
            if not path.is_file():
                raise UserError(f"suite sequence {self.name}: {what} {path} does not exist: set EDGE_DATA_DIR to the "
                                "folder holding footage/ (default ../shared/data) or fix the suite's path")
        return folder / self.video, folder / self.gt


class Suite(Settings):
    tolerance_s: float = Field(1.0, gt=0)
    committed_f1: float | None = Field(None, ge=0, le=1)
    sequences: list[Sequence] = Field(min_length=1)

    def check_files(self, data_dir: Path) -> None:
        """Every video and gt file is there (before minutes of counting start)."""
        for seq in self.sequences:
            seq.files(data_dir)


def load_suite(path: Path) -> Suite:
    """Read and validate a suite file; a one-line UserError naming the key that is wrong."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise UserError(f"cannot read suite {path}: {e.strerror}: give the path to a suite TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"suite {path} is not valid TOML: {e}") from None
    try:
        return Suite.model_validate(raw)
    except ValidationError as e:
        raise UserError(f"suite {path}: {validation_message(e)}") from None
