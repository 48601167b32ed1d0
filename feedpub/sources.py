"""Reading what is on disk: a post file's bytes, as text, and the site's own files (images
under `static`) that feeds point to."""

from __future__ import annotations

import codecs
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .config import Config
from .errors import PostError
from .scanning import SourceFile


def read_bytes(config: Config, rel: str, size: int = 0) -> bytes:
    """The bytes of the post file at `rel` (about `size` bytes, if known); PostError if
    it cannot be read.

    Read with os.read rather than open(): a file object costs five more system calls
    (fstat twice, an isatty ioctl, two lseeks), which is much of reading a small post.
    """
    try:
        fd = os.open(_post_path(config, rel), os.O_RDONLY | os.O_CLOEXEC)
        try:
            wanted = size + 1 if size else _READ_CHUNK
            chunks = [os.read(fd, wanted)]
            # To the end, also if the file grew since it was found. A read of a regular
            # file that gives fewer bytes than asked for has reached the end: no second
            # call just to be told so (one system call a post fewer).
            while len(chunks[-1]) == wanted:
                wanted = _READ_CHUNK
                chunks.append(os.read(fd, wanted))
        finally:
            os.close(fd)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except FileNotFoundError:
        raise PostError("the file disappeared while it was being read") from None
    except IsADirectoryError:
        raise PostError("is a folder, not a post") from None
    except OSError as e:
        raise PostError(f"cannot read: {e.strerror}") from None


def prefetch(config: Config, files: Sequence[SourceFile]) -> None:
    """Have the kernel start reading these post files from disk now, all at once, before
    they are read one by one: a site too big for the page cache (a million posts) is
    otherwise read a file at a time, each read waiting for the disk (93 µs a file where it
    came in 23 µs so, at a queue depth of hundreds). Files already in the page cache are
    left alone, as three of them (the first, the middle and the last) say: opening each
    once more to no end cost a fourteenth of reading them (35 ms of 520, 10,000 posts). One
    too big to be read (`max_post_bytes`) is left alone. Opened without blocking: one
    turned into a FIFO since the scan is read (and refused) by `read_bytes`, not here."""
    if not hasattr(os, "posix_fadvise"):  # (not on macOS or Windows)
        return
    files = [file for file in files if file.size <= config.max_post_bytes]
    if files and all(_cached(config, files[n]) for n in {0, len(files) // 2, len(files) - 1}):
        return
    for file in files:
        try:
            fd = os.open(_post_path(config, file.rel), _PREFETCH_FLAGS)
        except OSError:  # read_bytes says why
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:  # (a file system that takes no advice)
            pass
        finally:
            os.close(fd)


_PREFETCH_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK


def _cached(config: Config, file: SourceFile) -> bool:
    """Whether the start of this post file is in the page cache: read without waiting for
    the disk (RWF_NOWAIT), or refused. Where that cannot be asked (an older kernel, a file
    system that does not say), no."""
    try:
        fd = os.open(_post_path(config, file.rel), _PREFETCH_FLAGS)
    except OSError:
        return False
    try:
        return os.preadv(fd, [bytearray(1)], 0, os.RWF_NOWAIT) >= 0
    except (OSError, AttributeError):  # EAGAIN: on disk; (no RWF_NOWAIT: not Linux)
        return False
    finally:
        os.close(fd)


def _post_path(config: Config, rel: str) -> str:
    # (`rel` is relative, so this is os.path.join's path, without its per-call checks.)
    return f"{os.fspath(config.posts)}/{rel}"


_READ_CHUNK = 1 << 16
_BINARY_PROBE = 8192


def decode(data: bytes, encoding: str) -> str:
    """Bytes → text with LF newlines; a BOM wins over the configured encoding."""
    if data.startswith(_BOMS):  # (one call for all three: nearly every post has none)
        if data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8"
            data = data[len(codecs.BOM_UTF8) :]
        else:
            encoding = "utf-16"
    elif _is_binary(data):
        raise PostError("binary file (it contains NUL bytes), not a text post")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise PostError(
            f"not valid {encoding}: byte 0x{data[e.start]:02x} at offset {e.start}{_encoding_hint(data, encoding)}",
            line,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _is_binary(data: bytes) -> bool:
    """A known binary format, or NULs in more than one byte in eight of the first
    _BINARY_PROBE (UTF-16 without a byte-order mark, say): what cannot be text. A stray
    NUL in a scraped body is text. (Nearly every post has no NUL at all: one search of
    the bytes says so, faster than counting in a copy of their head.)"""
    if data.startswith(_BINARY_SIGNATURES):
        return True
    if b"\x00" not in data:
        return False
    return data.count(b"\x00", 0, _BINARY_PROBE) * 8 > min(len(data), _BINARY_PROBE)


_BINARY_SIGNATURES = (
    b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF-", b"PK\x03\x04", b"\x7fELF", b"\x1f\x8b",
    b"RIFF", b"OggS", b"fLaC", b"BZh", b"7z\xbc\xaf", b"\xfd7zXZ\x00", b"Rar!", b"\x00asm",
    b"SQLite format 3\x00", b"wOFF", b"wOF2", b"\x00\x00\x01\x00", b"\xca\xfe\xba\xbe",
)  # fmt: skip


def _encoding_hint(data: bytes, encoding: str) -> str:
    if codecs.lookup(encoding).name == "gb18030":
        return ""
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return ""
    return '; it reads as GB18030 (GBK): set encoding = "gb18030" in feedpub.toml'


def local_file(url: str | None, config: Config) -> Path | None:
    """The file behind an image URL of the site itself (under `static`), if there is one."""
    if not url or not url.startswith(config.base_url):
        return None
    site_path = unquote(urlsplit(url).path)[len(urlsplit(config.base_url).path) :]
    static = config.static.resolve()
    try:
        candidate = (static / site_path).resolve()
        return candidate if candidate.is_relative_to(static) and candidate.is_file() else None
    # A name the file system refuses (a NUL byte, too long) names no file of the site.
    except (OSError, ValueError):
        return None


def local_image_stamp(url: str | None, config: Config) -> str:
    """Size and mtime of a thumbnail that is a file of the site ('' otherwise): a feed
    must be rebuilt when the image behind its enclosure length changes."""
    local = local_file(url, config)
    try:
        stat = local.stat() if local else None
    except OSError:  # gone since local_file found it
        return ""
    return f"{stat.st_size}:{stat.st_mtime_ns}" if stat else ""
