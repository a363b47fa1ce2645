"""Saving a camera's lines from the web page: validated as the config loader validates box.toml, then written
to it atomically with every other setting and comment kept (tomlkit edits the document in place)."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, Table

from edge.config import load_config
from edge.counting.line import Line, check_lines
from edge.errors import UserError
from edge.files import write_atomic

MAX_LINES = 32
_save_lock = threading.Lock()  # one read-modify-write of box.toml at a time


def parse_body(body: bytes) -> list[Any]:
    """The `lines` list of a JSON request body; UserError (one line) when it is not that."""
    def finite_only(constant: str) -> float:
        raise ValueError(f"{constant} is not a coordinate")

    try:
        data = json.loads(body, parse_constant=finite_only)
    except (ValueError, RecursionError) as e:
        raise UserError(f"request body is not valid JSON ({e}): send {{\"lines\": [...]}}") from None
    if not isinstance(data, dict) or set(data) != {"lines"} or not isinstance(data["lines"], list):
        raise UserError('request body must be {"lines": [{"name": ..., "a": [x, y], "b": [x, y]}, ...]}')
    if len(data["lines"]) > MAX_LINES:
        raise UserError(f"{len(data['lines'])} lines: a camera takes at most {MAX_LINES}")
    return data["lines"]


def _toml_value(value: Any, where: str) -> Any:
    """A JSON value as TOML can hold it (the loader then judges it); null has no TOML form."""
    if value is None:
        raise UserError(f"{where}: null is not a value a box.toml can hold: give a name and two points")
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{where}: {value} is not a coordinate")
    if isinstance(value, list):
        return [_toml_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        table.update({str(k): _toml_value(v, f"{where}.{k}") for k, v in value.items()})
        return table
    return value


def _camera_table(doc: tomlkit.TOMLDocument, camera: str, path: Path) -> Table:
    cameras = doc.get("cameras")
    if isinstance(cameras, (AoT, Array)):
        for table in cameras:
            if isinstance(table, dict) and table.get("name") == camera:
                return table  # type: ignore[return-value]
    raise UserError(f"camera {camera!r} is not in {path}: it was renamed or removed there; restart edge run")


def save_lines(path: Path, camera: str, raw_lines: list[Any], frame_size: tuple[int, int] | None) -> list[Line]:
    """Write `raw_lines` as camera `camera`'s lines into the box config at `path`; the lines as the loader makes
    them. Refused with the loader's one-line error (naming the key), or, with `frame_size` (width, height),
    when a line lies entirely outside the picture; nothing is written then."""
    with _save_lock:
        try:
            text = path.read_text()
            doc = tomlkit.parse(text)
        except OSError as e:
            raise UserError(f"cannot read {path}: {e.strerror}: check the file is there and readable") from None
        except TOMLKitError as e:
            raise UserError(f"{path} is not valid TOML: {e}: fix it by hand, then restart edge run") from None
        lines = tomlkit.array()
        lines.extend(_toml_value(ln, f"lines[{i}]") for i, ln in enumerate(raw_lines))
        lines.multiline(len(raw_lines) > 1)
        _camera_table(doc, camera, path)["lines"] = lines
        new_text = tomlkit.dumps(doc)
        config = load_config(path, text=new_text)  # the loader's own checks and one-line errors
        cam = next(c for c in config.cameras if c.name == camera)
        result = [ln.to_line() for ln in cam.lines]
        if frame_size is not None:
            check_lines(result, *frame_size, where=f"camera {camera}: ")
        write_atomic(path, new_text.encode(), path.stat().st_mode & 0o777,
                     fix="edge run must be able to write its config to save lines")
        return result
