"""Fast reading of single-array ``.npz`` files (rampwf's saved ``y_pred_{train,test}.npz``).

``np.load`` inflates a compressed member through :mod:`zipfile` in 256 KiB pieces and takes the
GIL back after each one; while another thread computes, each retake can wait a whole switch
interval (5 ms), so reader threads crawl exactly when they should overlap with the blend. Here the
member is read in one piece and inflated by one call (libdeflate when the ``deflate`` package is
there, else ``zlib``; the GIL released throughout), and the array is taken from the inflated bytes
directly. The CRC is not recomputed (a damaged deflate
stream is still refused, as is a wrong length); anything unusual — several members, pickled
objects, encrypted or otherwise compressed members, ``.npy`` format 3 — goes through ``np.load``.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import zipfile
import zlib

import numpy as np

try:  # libdeflate inflates these nearly incompressible floats in ~3/4 of zlib's time
    from deflate import DeflateError as _DeflateError
    from deflate import deflate_decompress as _libdeflate
except ImportError:  # pragma: no cover - the package is a dependency; zlib does the same job
    _libdeflate = None
    _DeflateError = zlib.error

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra length


def _fallback(path: str | os.PathLike, key: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as npz:
        return npz[key]


def read_npz_view(path: str | os.PathLike, key: str = "y_pred") -> np.ndarray:
    """``np.load(path)[key]``, possibly a read-only view of the inflated bytes (no copy)."""
    with open(path, "rb") as fh:
        try:
            zf = zipfile.ZipFile(fh)
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{path}: not an .npz file ({exc})") from None
        infos = zf.infolist()
        if (
            len(infos) != 1
            or infos[0].filename != f"{key}.npy"
            or infos[0].flag_bits & 0x1  # encrypted
            or infos[0].compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        ):
            return _fallback(path, key)
        info = infos[0]
        fh.seek(info.header_offset)
        sig, name_len, extra_len = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
        if sig != b"PK\x03\x04":
            raise ValueError(f"{path}: corrupt .npz file (bad local header)")
        fh.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        data = _scratch(info.compress_size)  # reused: no fresh pages for every file
        if fh.readinto(data) != info.compress_size:
            raise ValueError(f"{path}: truncated .npz file")
    if info.compress_type == zipfile.ZIP_DEFLATED:
        try:
            if _libdeflate is not None:
                data = _libdeflate(data, info.file_size)  # refuses any other output size
            else:
                data = zlib.decompress(data, -15, max(info.file_size, 1))
        except (zlib.error, _DeflateError) as exc:
            raise ValueError(f"{path}: corrupt .npz file ({exc})") from None
    else:
        data = bytes(data)  # the scratch buffer is reused by the next read
    if len(data) != info.file_size:
        raise ValueError(f"{path}: corrupt .npz file (size {len(data)} != {info.file_size})")
    # the .npy header: magic + version (8 bytes), its length (2 bytes in format 1.0, else 4)
    size_bytes = 2 if len(data) > 7 and data[6] == 1 else 4
    head_len = 8 + size_bytes + int.from_bytes(bytes(data[8 : 8 + size_bytes]), "little")
    head = io.BytesIO(bytes(data[:head_len]))
    try:
        version = np.lib.format.read_magic(head)
    except ValueError as exc:
        raise ValueError(f"{path}: not an .npy member ({exc})") from None
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
    else:
        return _fallback(path, key)
    if dtype.hasobject:
        return _fallback(path, key)
    count = int(np.prod(shape, dtype=np.int64))
    if head.tell() + count * dtype.itemsize != len(data):
        raise ValueError(f"{path}: corrupt .npy member (size does not match its header)")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=head.tell())
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


_local = threading.local()


def _scratch(size: int) -> memoryview:
    """A per-thread reusable buffer of ``size`` bytes."""
    buf = getattr(_local, "buf", None)
    if buf is None or len(buf) < size:
        buf = _local.buf = bytearray(max(size, 1 << 20))
    return memoryview(buf)[:size]
