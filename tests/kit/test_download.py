"""The real-data downloader against a real local HTTP server serving a kit-shaped archive."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import socket
import stat
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from ramp_server.kit import dataset
from ramp_server.kit import download as dl
from ramp_server.kit.taxa import CLASS_NAMES, N_CLASSES

# --- a kit-shaped archive: CSVs as the 2017 kit served them, JPEGs in a nested folder --------


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 14), ((seed * 37) % 256, (seed * 91) % 256, 120)).save(buf, "JPEG")
    return buf.getvalue()


def _csv(header: list[str], rows: list[tuple]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def make_kit_files(*, ids_with_suffix: bool = False) -> dict[str, bytes]:
    """train.csv (2 per class), test.csv (1 per class), class_codes.csv and imgs.zip."""
    train = [(1000 + 2 * c + k, c) for c in range(N_CLASSES) for k in range(2)]
    test = [(5000 + c, c) for c in range(N_CLASSES)]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("public_imgs/", b"")
        for rid, _ in train + test:  # images named by bare id, as the ids of the CSVs
            zf.writestr(f"public_imgs/{rid}", _jpeg(rid))
    suffix = ".jpg" if ids_with_suffix else ""
    return {
        "train.csv": _csv(["id", "class"], [(f"{i}{suffix}", c) for i, c in train]),
        "test.csv": _csv(["id", "class"], [(f"{i}{suffix}", c) for i, c in test]),
        "class_codes.csv": _csv(
            ["class", "taxa_code", "taxa_name"], [(c, 500 + c, f"taxon {c}") for c in range(18)]
        ),
        "imgs.zip": archive.getvalue(),
    }


def manifest_for(server: KitServer, files: dict[str, bytes], **wrong: str) -> dl.Manifest:
    return dl.Manifest(
        server.base_url,
        tuple(
            dl.RemoteFile(name, wrong.get(name, hashlib.sha256(data).hexdigest()), len(data))
            for name, data in files.items()
        ),
    )


# --- the server ----------------------------------------------------------------------------


class KitServer:
    """Serves ``files`` under /mirror/, optionally honouring Range and dropping connections."""

    def __init__(self, files: dict[str, bytes], *, ranges: bool = True):
        self.files = files
        self.ranges = ranges
        self.drop_after: dict[str, list[int]] = {}  # name -> bytes to send on successive GETs
        self.etags: dict[str, str] = {}  # name -> current version, sent as ETag
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                name = self.path.removeprefix("/mirror/")
                outer.requests.append((name, rng))
                if name not in outer.files:
                    self.send_error(404)
                    return
                data = outer.files[name]
                start = 0
                etag = outer.etags.get(name)
                if_range = self.headers.get("If-Range")
                if if_range is not None and if_range != etag:
                    rng = None  # RFC 9110: the file changed, send it whole
                if outer.ranges and rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[6:-1])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                body = data[start:]
                drops = outer.drop_after.get(name)
                if drops:
                    body = body[: drops.pop(0)]  # then the connection closes mid-file
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}/mirror"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def ranges_for(self, name: str) -> list[str | None]:
        return [rng for n, rng in self.requests if n == name]


@pytest.fixture
def kit_files() -> dict[str, bytes]:
    return make_kit_files()


@pytest.fixture
def server(kit_files):
    srv = KitServer(kit_files)
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# --- full download ---------------------------------------------------------------------------


def test_download_installs_verified_kit_layout(tmp_path, server, kit_files):
    out = tmp_path / "data"
    report = dl.download(out, manifest=manifest_for(server, kit_files), progress=False)

    assert (report.n_train, report.n_test) == (36, 18)
    train, test = _rows(out / "train.csv"), _rows(out / "test.csv")
    assert list(train[0]) == ["id", "class"] and len(train) == 36 and len(test) == 18
    for row in train + test:
        with Image.open(out / "imgs" / f"{row['id']}.jpg") as img:
            assert img.format == "JPEG" and img.size == (20, 14)
    codes = _rows(out / "class_codes.csv")
    assert [(int(r["class"]), r["taxon"]) for r in codes] == list(enumerate(CLASS_NAMES))
    # the archive is gone, the served files stay for reference, nothing half-written remains
    assert not (out / ".download" / "raw" / "imgs.zip").exists()
    assert (out / ".download" / "raw" / "class_codes.csv").read_bytes() == kit_files[
        "class_codes.csv"
    ]
    assert not list(out.rglob("*.part")) and not list(out.rglob("*.tmp"))
    # the record pins the received bytes and is itself a usable manifest
    pinned = dl.load_manifest(out / dl.RECORD_NAME)
    assert {f.name: f.sha256 for f in pinned.files} == {
        n: hashlib.sha256(d).hexdigest() for n, d in kit_files.items()
    }


def test_downloaded_layout_is_readable_by_the_dataset_loader(tmp_path, server, kit_files):
    out = tmp_path / "data"
    dl.download(out, manifest=manifest_for(server, kit_files), progress=False)
    X, y = dataset.load_split(out, "train", progress=False)
    assert X.shape == (36, 64, 64, 3) and X.dtype.name == "uint8"
    assert sorted(y.tolist()) == sorted(c for c in range(N_CLASSES) for _ in range(2))
    assert dataset.load_split(out, "test", progress=False)[0].shape[0] == 18


def test_ids_with_jpg_suffix_are_normalized(tmp_path):
    files = make_kit_files(ids_with_suffix=True)
    srv = KitServer(files)
    srv.thread.start()
    try:
        dl.download(tmp_path, base_url=srv.base_url, progress=False)
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
    ids = [r["id"] for r in _rows(tmp_path / "train.csv")]
    assert ids[:2] == ["1000", "1001"]
    assert (tmp_path / "imgs" / "1000.jpg").is_file()


def test_second_download_is_a_no_op(tmp_path, server):
    dl.download(tmp_path, base_url=server.base_url, progress=False)
    n_requests = len(server.requests)
    report = dl.download(tmp_path, base_url=server.base_url, progress=False)
    assert report.already_present and len(server.requests) == n_requests


def test_download_refuses_to_replace_a_foreign_dataset(tmp_path, server):
    (tmp_path / "train.csv").write_text("id,class\nsynthetic_0,3\n")
    with pytest.raises(dl.DownloadError, match="--force"):
        dl.download(tmp_path, base_url=server.base_url, progress=False)
    assert (tmp_path / "train.csv").read_text() == "id,class\nsynthetic_0,3\n"
    dl.download(tmp_path, base_url=server.base_url, force=True, progress=False)
    assert len(_rows(tmp_path / "train.csv")) == 36


# --- resume, restart, checksum ------------------------------------------------------------


def test_interrupted_download_resumes_with_range_on_next_run(tmp_path, server, kit_files):
    half = len(kit_files["imgs.zip"]) // 2
    server.drop_after["imgs.zip"] = [half]
    manifest = manifest_for(server, kit_files)
    with pytest.raises(dl.DownloadError, match="run the command again to resume"):
        dl.download(tmp_path, manifest=manifest, retries=0, progress=False)
    part = tmp_path / ".download" / "raw" / "imgs.zip.part"
    assert part.stat().st_size == half
    assert not (tmp_path / "train.csv").exists()

    report = dl.download(tmp_path, manifest=manifest, retries=0, progress=False)
    assert server.ranges_for("imgs.zip") == [None, f"bytes={half}-"]
    assert [f.resumed_from for f in report.fetched if f.path.name == "imgs.zip"] == [half]
    assert len(_rows(tmp_path / "test.csv")) == 18
    # the CSVs finished in the first run were not fetched again
    assert server.ranges_for("train.csv") == [None]


def test_dropped_connection_is_resumed_within_one_run(tmp_path, server, kit_files):
    size = len(kit_files["imgs.zip"])
    server.drop_after["imgs.zip"] = [size // 3, size // 3]
    dest = tmp_path / "imgs.zip"
    result = dl.fetch(f"{server.base_url}/imgs.zip", dest, retries=2, backoff=0, progress=False)
    assert dest.read_bytes() == kit_files["imgs.zip"]
    assert server.ranges_for("imgs.zip") == [
        None,
        f"bytes={size // 3}-",
        f"bytes={2 * (size // 3)}-",
    ]
    assert result.resumed_from == 2 * (size // 3)


def test_server_ignoring_range_restarts_from_scratch(tmp_path, kit_files):
    srv = KitServer(kit_files, ranges=False)
    srv.thread.start()
    dest = tmp_path / "imgs.zip"
    dest.with_name("imgs.zip.part").write_bytes(b"stale bytes from another file")
    try:
        result = dl.fetch(f"{srv.base_url}/imgs.zip", dest, progress=False)
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
    assert srv.ranges_for("imgs.zip") == ["bytes=29-"]  # asked to resume, got the whole file
    assert result.restarted and result.resumed_from == 0
    assert dest.read_bytes() == kit_files["imgs.zip"]


def test_file_changed_on_server_since_part_began_is_fetched_whole(tmp_path, server, kit_files):
    server.etags["imgs.zip"] = '"v1"'
    server.drop_after["imgs.zip"] = [100]
    dest, url = tmp_path / "imgs.zip", f"{server.base_url}/imgs.zip"
    with pytest.raises(dl.DownloadError, match="to resume"):
        dl.fetch(url, dest, retries=0, progress=False)
    server.files["imgs.zip"] = b"a newer archive" * 50
    server.etags["imgs.zip"] = '"v2"'
    result = dl.fetch(url, dest, retries=0, progress=False)
    assert server.requests[-1] == ("imgs.zip", "bytes=100-")
    assert result.restarted and dest.read_bytes() == b"a newer archive" * 50
    assert not list(tmp_path.glob("*.part*"))


def test_checksum_mismatch_fails_and_leaves_no_corrupt_file(tmp_path, server, kit_files):
    manifest = manifest_for(server, kit_files, **{"train.csv": "0" * 64})
    with pytest.raises(dl.DownloadError, match=r"train\.csv: sha256 mismatch .*deleted"):
        dl.download(tmp_path, manifest=manifest, progress=False)
    raw = tmp_path / ".download" / "raw"
    assert not (raw / "train.csv").exists() and not (raw / "train.csv.part").exists()
    assert not (tmp_path / "train.csv").exists()


def test_size_disagreeing_with_manifest_is_reported(tmp_path, server, kit_files):
    manifest = dl.Manifest(server.base_url, (dl.RemoteFile("train.csv", size=3),))
    with pytest.raises(dl.DownloadError, match="announces .* bytes but the manifest expects 3"):
        dl.download(tmp_path, manifest=manifest, progress=False)


def test_unreachable_mirror_gives_the_offline_message(tmp_path):
    port = _closed_port()
    with pytest.raises(dl.DownloadError) as err:
        dl.download(tmp_path, base_url=f"http://127.0.0.1:{port}/x", progress=False)
    assert str(err.value).startswith(
        f"cannot reach 127.0.0.1:{port}: check your connection or use --base-url for a mirror"
    )


def test_missing_file_on_mirror_names_url_and_status(tmp_path, server):
    with pytest.raises(dl.DownloadError, match=r"/nothing/train\.csv: HTTP 404"):
        dl.download(tmp_path, base_url=server.base_url.replace("mirror", "nothing"), progress=False)


def test_unknown_class_in_served_csv_names_file_and_line(tmp_path, kit_files):
    files = dict(kit_files, **{"train.csv": b"id,class\n1000,0\n1001,18\n"})
    srv = KitServer(files)
    srv.thread.start()
    try:
        with pytest.raises(dl.DownloadError, match=r"train\.csv, line 3: class '18'"):
            dl.download(tmp_path, base_url=srv.base_url, progress=False)
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
    assert not (tmp_path / "train.csv").exists()


# --- manifests ----------------------------------------------------------------------------


def test_manifest_file_errors_name_the_field(tmp_path):
    path = tmp_path / "m.json"
    files = [{"name": n} for n in dl.REQUIRED_FILES]
    files[0]["sha256"] = "xyz"
    path.write_text(json.dumps({"files": files}))
    with pytest.raises(dl.DownloadError, match=r"files\[0\]: 'sha256' must be 64 hex"):
        dl.load_manifest(path)
    path.write_text(json.dumps({"files": [{"name": "train.csv"}]}))
    with pytest.raises(dl.DownloadError, match="no entry for class_codes.csv, imgs.zip, test.csv"):
        dl.load_manifest(path)


# --- safe unzip ---------------------------------------------------------------------------


def _zip_with(tmp_path: Path, info: zipfile.ZipInfo | str, data: bytes) -> Path:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok/1.jpg", _jpeg(1))
        zf.writestr(info, data)
    return path


def _symlink_member() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("ok/link.jpg")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("../escaped.jpg", "leaves the folder"),
        ("ok/../../escaped.jpg", "leaves the folder"),
        ("/tmp/escaped.jpg", "absolute path"),
        ("C:/escaped.jpg", "absolute path"),
        (_symlink_member(), "symbolic link"),
    ],
)
def test_unsafe_zip_member_is_refused_before_writing(tmp_path, member, message):
    archive = _zip_with(tmp_path, member, b"/etc/passwd")
    dest = tmp_path / "out"
    with pytest.raises(dl.DownloadError, match=message):
        dl.safe_extract(archive, dest, progress=False)
    assert not (tmp_path / "escaped.jpg").exists()
    assert not list(dest.rglob("*.jpg"))  # checked before the first byte is written


def test_zip_bomb_is_refused_by_compression_ratio(tmp_path):
    archive = _zip_with(tmp_path, "ok/bomb.jpg", bytes(8 << 20))  # 8 MiB of zeros, ~8 KiB zipped
    with pytest.raises(dl.DownloadError, match="compression ratio above 100"):
        dl.safe_extract(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "ok").exists()


def test_zip_bomb_is_refused_by_total_size(tmp_path, kit_files):
    archive = tmp_path / "imgs.zip"
    archive.write_bytes(kit_files["imgs.zip"])
    with pytest.raises(dl.DownloadError, match="more than the 1000 allowed"):
        dl.safe_extract(archive, tmp_path / "out", max_total_bytes=1000, progress=False)


def test_download_refuses_a_malicious_archive_and_installs_nothing(tmp_path, kit_files):
    evil = _zip_with(tmp_path, "../../escaped.jpg", b"x").read_bytes()
    srv = KitServer(dict(kit_files, **{"imgs.zip": evil}))
    srv.thread.start()
    out = tmp_path / "data"
    try:
        with pytest.raises(dl.DownloadError, match="imgs.zip: refusing the path"):
            dl.download(out, base_url=srv.base_url, progress=False)
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
    assert not (out / "train.csv").exists() and not (out / "imgs").exists()
    assert not list(tmp_path.rglob("escaped.jpg"))
