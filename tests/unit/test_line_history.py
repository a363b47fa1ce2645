"""Which line versions a change makes (pure)."""

from edge.counting.line import Line
from edge.records import LineVersion
from edge.run.line_history import new_versions


def version(camera: str, line: Line, ts: int, active: bool = True) -> LineVersion:
    return LineVersion(ts_us=ts, device_id="box1", camera=camera, line=line.name, x1=line.x1, y1=line.y1,
                       x2=line.x2, y2=line.y2, active=active)


DOOR, YARD = Line("door", 0, 10, 100, 10), Line("yard", 5, 5, 50, 50)
MOVED = Line("door", 0, 20, 100, 20)


def test_new_moved_removed_and_readded_lines_make_versions_unchanged_ones_do_not():
    assert new_versions({}, "box1", 1, {"a": [DOOR]}) == [version("a", DOOR, 1)]
    last = {("a", "door"): version("a", DOOR, 1), ("a", "yard"): version("a", YARD, 1), ("b", "door"):
            version("b", DOOR, 1)}
    assert new_versions(last, "box1", 2, {"a": [DOOR, YARD]}) == []  # camera b untouched
    assert new_versions(last, "box1", 2, {"a": [MOVED, YARD]}) == [version("a", MOVED, 2)]
    assert new_versions(last, "box1", 2, {"a": [DOOR]}) == [version("a", YARD, 2, active=False)]
    # at start, lines of a camera no longer counted are removed too
    assert new_versions(last, "box1", 2, {"a": [DOOR, YARD]}, everywhere=True) == [version("b", DOOR, 2, False)]
    removed = {("a", "door"): version("a", DOOR, 1, active=False)}
    assert new_versions(removed, "box1", 3, {"a": [DOOR]}) == [version("a", DOOR, 3)]  # back again
    assert new_versions(removed, "box1", 3, {"a": []}) == []  # already removed
