"""``ramp-server data ...`` through ``ramp_server.cli.main`` and the installed script."""

from __future__ import annotations

import functools
import io
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from ramp_server.cli import main
from ramp_server.kit.taxa import CLASS_NAMES, N_CLASSES

SCRIPT = Path(sys.executable).with_name("ramp-server")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A plain static file server (no Range support) holding a kit-shaped set of files."""
    root = tmp_path / "mirror"
    root.mkdir()
    train = [(f"{c}{k}", c) for c in range(N_CLASSES) for k in range(3)]
    test = [(f"t{c}", c) for c in range(N_CLASSES)]
    with zipfile.ZipFile(root / "imgs.zip", "w") as zf:
        for rid, c in train + test:
            buf = io.BytesIO()
            Image.new("RGB", (16, 16), (c * 13, 90, 200)).save(buf, "JPEG")
            zf.writestr(f"imgs/{rid}.jpg", buf.getvalue())
    for name, rows in (("train.csv", train), ("test.csv", test)):
        (root / name).write_text("id,class\n" + "".join(f"{i},{c}\n" for i, c in rows))
    (root / "class_codes.csv").write_text(
        "class,taxa_code,taxa_name\n" + "".join(f"{c},{c},x{c}\n" for c in range(N_CLASSES))
    )
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_data_download_then_info_reports_counts_with_taxon_names(tmp_path, mirror, capsys):
    out = tmp_path / "data"
    assert main(["data", "download", "--out", str(out), "--base-url", mirror]) == 0
    assert "54 training and 18 test images" in capsys.readouterr().out
    assert len(list((out / "imgs").glob("*.jpg"))) == 72

    assert main(["data", "info", "--dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"real SPIPOLL data from {mirror}" in text
    apis = next(line for line in text.splitlines() if CLASS_NAMES[3] in line)
    assert apis.split()[-3:] == ["3", "1", "5.6%"]

    assert main(["data", "download", "--out", str(out), "--base-url", mirror]) == 0
    assert "already there" in capsys.readouterr().out


def test_data_info_flags_missing_images(tmp_path, mirror, capsys):
    out = tmp_path / "data"
    main(["data", "download", "--out", str(out), "--base-url", mirror])
    (out / "imgs" / "t0.jpg").unlink()
    assert main(["data", "info", "--dir", str(out)]) == 1
    assert "missing images: 0 of train.csv, 1 of test.csv" in capsys.readouterr().out


def test_data_info_on_missing_folder_says_how_to_create_it(tmp_path, capsys):
    assert main(["data", "info", "--dir", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "ramp-server data synth" in err


def test_installed_script_reports_offline_without_traceback(tmp_path):
    port = _closed_port()
    proc = subprocess.run(
        [str(SCRIPT), "data", "download", "--out", str(tmp_path / "d")]
        + ["--base-url", f"http://127.0.0.1:{port}/kit", "--retries", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 2
    assert f"cannot reach 127.0.0.1:{port}: check your connection or use --base-url" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n", "50"], "--n 50 is too small: at least 90 images"),
        (["--seed", "-1"], "--seed must be 0 or more"),
        (["--jobs", "0"], "--jobs must be 1 or more"),
    ],
)
def test_data_synth_rejects_bad_arguments(tmp_path, capsys, argv, message):
    assert main(["data", "synth", "--out", str(tmp_path / "d"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_data_synth_will_not_overwrite_downloaded_data(tmp_path, mirror, capsys):
    out = tmp_path / "data"
    main(["data", "download", "--out", str(out), "--base-url", mirror])
    assert main(["data", "synth", "--out", str(out), "--n", "200"]) == 2
    assert "holds the downloaded real data" in capsys.readouterr().err
    assert (out / "imgs" / "t0.jpg").exists()


def test_data_download_rejects_a_non_http_base_url(tmp_path, capsys):
    assert main(["data", "download", "--out", str(tmp_path), "--base-url", "ftp://x"]) == 2
    assert "--base-url must be an http:// or https:// URL" in capsys.readouterr().err


def test_data_synth_writes_a_readable_folder(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["data", "synth", "--out", str(out), "--n", "180", "--jobs", "1"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["data", "info", "--dir", str(out)]) == 0
    assert "total" in capsys.readouterr().out


def test_recorded_manifest_pins_a_later_download(tmp_path, mirror, capsys):
    first, second, third = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(["data", "download", "--out", str(first), "--base-url", mirror]) == 0
    record = first / "download_manifest.json"
    assert main(["data", "download", "--out", str(second), "--manifest", str(record)]) == 0
    assert (second / "train.csv").read_bytes() == (first / "train.csv").read_bytes()

    pinned = json.loads(record.read_text())
    pinned["files"][0]["sha256"] = "f" * 64  # train.csv as it is not on the mirror
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(pinned))
    capsys.readouterr()
    assert main(["data", "download", "--out", str(third), "--manifest", str(tampered)]) == 2
    assert "train.csv: sha256 mismatch" in capsys.readouterr().err
    assert not (third / "train.csv").exists()
