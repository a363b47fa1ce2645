"""PostgreSQL binary COPY encoding of buffer rows, specialised once per column-type list.

Box values arrive as SQLite gives them: text, int, float, None; UUIDs as 32 hex digits (SQLite drops the
dashes); times as int microseconds since the Unix epoch. Fixed-width columns are packed with one `struct` call per
row and text columns come from a
cache keyed by their values (camera, line, direction and model repeat on every row), which keeps encoding
ahead of the server's COPY. The COPY column order is the encoder's (`order`): fixed-width first, then text.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator, Sequence

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # signature, flags, header extension length
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds

# catalog type name -> (struct code, byte length, expression turning box value {v} into the packed value)
_FIXED: dict[str, tuple[str, int, str]] = {
    "int2": ("h", 2, "{v}"),
    "int4": ("i", 4, "{v}"),
    "int8": ("q", 8, "{v}"),
    "float4": ("f", 4, "{v}"),
    "float8": ("d", 8, "{v}"),
    "bool": ("?", 1, "{v}"),
    "timestamptz": ("q", 8, f"{{v}} - {PG_EPOCH_US}"),
    "timestamp": ("q", 8, f"{{v}} - {PG_EPOCH_US}"),
    "uuid": ("16s", 16, "fromhex({v})"),
}
# what SQLite does to a box expression {e} before Python sees it (cheaper there than in Python)
_IN_SQLITE = {"uuid": "replace({e}, '-', '')"}  # UUIDs arrive as 32 hex digits
_SCOPE = {"fromhex": bytes.fromhex}
_TEXT = {"text", "varchar", "bpchar", "name"}
SEP = "\x1f"  # joins packed text values


class EncodeError(ValueError):
    """A box value that cannot be encoded for its column: a data error of that row."""


def supported(type_name: str) -> bool:
    return type_name in _FIXED or type_name in _TEXT


def _compile(source: str, name: str, extra: dict[str, object] | None = None) -> Callable[..., object]:
    """A function from source built here out of the fixed tables above (never from data)."""
    scope: dict[str, object] = dict(
        _SCOPE, struct_error=(struct.error, TypeError, AttributeError, ValueError), **(extra or {})
    )
    exec(source, scope)  # noqa: S102
    return scope[name]  # type: ignore[return-value]


_CONVERT = {t: _compile(f"def f(v):\n    return {expr.format(v='v')}\n", "f") for t, (_, _, expr) in _FIXED.items()}


def _dashed(hex32: str) -> str:
    """A UUID's usual spelling from its 32 hex digits (anything else unchanged)."""
    h = hex32
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" if len(h) == 32 else h


def _field(type_name: str, v: object) -> bytes:
    """One field, length-prefixed: the slow general path (rows holding NULLs)."""
    if v is None:
        return NULL
    if type_name in _TEXT:
        data = str(v).encode()
    else:
        data = struct.pack(">" + _FIXED[type_name][0], _CONVERT[type_name](v))
    return len(data).to_bytes(4, "big") + data


class RowEncoder:
    """Encode rows into binary COPY tuples, columns in `order` (fixed-width types first, then text).

    Rows hold their values in `order`. With `packed_text`, the text values instead come as ONE string, joined
    by SEP, after the fixed-width ones: one value for SQLite to build rather than several for Python to fetch
    (only for text columns that are never NULL and never contain SEP).
    """

    def __init__(self, types: Sequence[str], packed_text: bool = False) -> None:
        if bad := [t for t in types if not supported(t)]:
            raise ValueError(f"column type {bad[0]} is not supported by the binary encoder")
        fixed = [i for i, t in enumerate(types) if t in _FIXED]
        text = [i for i, t in enumerate(types) if t in _TEXT]
        self.order = tuple(fixed + text)
        self.types = tuple(types[i] for i in self.order)
        self.packed_text = packed_text
        n_fixed = len(fixed)
        fmt = ">h" + "".join("i" + _FIXED[t][0] for t in self.types[:n_fixed])
        args = ", ".join(
            f"{_FIXED[t][1]}, {_FIXED[t][2].format(v=f'r[{i}]')}" for i, t in enumerate(self.types[:n_fixed])
        )
        key = f"r[{n_fixed}]" if packed_text else "(" + "".join(f"r[{i}], " for i in range(n_fixed, len(types))) + ")"
        # Generated once per type list: a per-row loop without per-column Python calls.
        source = (
            "def fast(rows, out, cache, slow):\n"
            "    for r in rows:\n"
            "        try:\n"
            f"            head = pack({len(types)}, {args})\n"
            "        except struct_error:\n"
            "            out(slow(r))\n"
            "            continue\n"
            f"        k = {key}\n"
            "        tail = cache.get(k)\n"
            "        if tail is None:\n"
            "            tail = cache[k] = text(k)\n"
            "        out(head + tail)\n"
        )
        self._fast = _compile(source, "fast", {"pack": struct.Struct(fmt).pack, "text": self._text})
        self._cache: dict[object, bytes] = {}
        self.n_fixed = self._n_fixed = n_fixed

    def select(self, expressions: Sequence[str]) -> str:
        """The SQLite select list producing this encoder's rows from one box expression per column type."""
        exprs = [_IN_SQLITE.get(t, "{e}").format(e=expressions[i]) for t, i in zip(self.types, self.order)]
        if self.packed_text:
            exprs[self._n_fixed :] = [" || char(31) || ".join(f"({e})" for e in exprs[self._n_fixed :])]
        return ", ".join(exprs)

    def readable(self, row: Sequence[object]) -> list[object]:
        """A row's values in `order` as the box has them (text unpacked, UUIDs with dashes): for dead letters."""
        return [_dashed(str(v)) if t == "uuid" and v is not None else v for t, v in zip(self.types, self._values(row))]

    def _values(self, row: Sequence[object]) -> Sequence[object]:
        """A row's values in `order` (text unpacked)."""
        if not self.packed_text:
            return row
        texts = str(row[self._n_fixed]).split(SEP)
        if len(texts) != len(self.types) - self._n_fixed:
            raise ValueError(f"a text value contains the separator {SEP!r}: {row[self._n_fixed]!r}")
        return [*row[: self._n_fixed], *texts]

    def _text(self, key: object) -> bytes:
        """The encoded text columns for a cache key (a tuple of values, or the packed string)."""
        values = self._values([*[None] * self._n_fixed, key])[self._n_fixed :] if self.packed_text else key
        return b"".join(_field("text", v) for v in values)  # type: ignore[attr-defined]  # a tuple of values

    def _slow(self, row: Sequence[object]) -> bytes:
        try:
            values = self._values(row)
            return len(self.types).to_bytes(2, "big") + b"".join(_field(t, v) for t, v in zip(self.types, values))
        except (struct.error, TypeError, AttributeError, ValueError) as e:
            raise EncodeError(f"cannot encode {row!r}: {e}") from None

    def encode(self, rows: Iterable[Sequence[object]]) -> bytes:
        """The tuples of `rows`, without header or trailer."""
        parts: list[bytes] = []
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._fast(rows, parts.append, self._cache, self._slow)
        return b"".join(parts)

    def payload(self, chunks: Iterable[Sequence[Sequence[object]]]) -> Iterator[bytes]:
        """The whole COPY payload (header, tuples, trailer) chunk by chunk, so the server works while we read."""
        yield HEADER
        for rows in chunks:
            yield self.encode(rows)
        yield TRAILER
