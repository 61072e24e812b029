"""Reading uploaded files from a multipart request (the submit page and the JSON API).

The checks a file name and size get before the services see the bytes: a plain file name, at
most the event's limit (read no further than one byte past it).
"""

from __future__ import annotations

from starlette.datastructures import UploadFile

#: how many bytes of one upload are read at most above the event's limit (then refused)
READ_SLACK = 1


class UploadRejected(Exception):
    """An upload refused before the service sees it (its message is shown as is)."""


async def read_upload(upload: UploadFile, *, field: str, limit: int) -> bytes | None:
    """The bytes of one uploaded file (``None`` when none was chosen), bounded by ``limit``."""
    if not upload.filename:
        return None
    raw = upload.filename
    if "/" in raw or "\\" in raw or raw.startswith(".") or ".." in raw or "\0" in raw:
        raise UploadRejected(
            f"file name {raw!r} is not allowed: upload a plain file such as {field} "
            "(no folders, no '..', no hidden files)"
        )
    data = await upload.read(limit + READ_SLACK)
    if len(data) > limit:
        raise UploadRejected(
            f"{field}: the uploaded file {raw!r} is larger than this event's limit of "
            f"{limit:,} bytes"
        )
    return data
