"""hexo-abbrlink's short links: `:abbrlink` for a post that has none in its front matter.

hexo-abbrlink 2.x computes a CRC of the post's title (CRC16, the ARC variant, or
CRC32 as zlib computes it) over its UTF-8 bytes, and writes it as lowercase hex
without padding or as a decimal number. It also writes the value back into the
post; feedpub never writes into posts, it computes the same value on every build.
"""

from __future__ import annotations

import functools
import zlib


@functools.cache
def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


def crc16(data: bytes) -> int:
    """CRC-16/ARC (reflected polynomial 0xA001, initial value 0)."""
    table = _crc16_table()
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def abbrlink(title: str, alg: str = "crc16", rep: str = "dec") -> str:
    """The abbrlink hexo-abbrlink gives a post with this title (`alg`: crc16 or crc32;
    `rep`: dec or hex, its configuration's keys)."""
    data = title.encode("utf-8")
    value = zlib.crc32(data) if alg == "crc32" else crc16(data)
    return format(value, "x") if rep == "hex" else str(value)
