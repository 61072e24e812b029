"""The kit's data: validation errors, the decoded-image cache and the public bundle."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from ramp_server.kit import dataset
from ramp_server.kit.dataset import DataError
from ramp_server.kit.taxa import N_CLASSES


def _csv_lines(data_dir, split):
    return (data_dir / f"{split}.csv").read_text().splitlines()


def _write_lines(data_dir, split, lines):
    (data_dir / f"{split}.csv").write_text("\n".join(lines) + "\n")


def test_load_split_returns_uint8_images_and_int_labels(tiny_kit):
    data = tiny_kit / "data"
    X, y = dataset.load_split(data, "train", progress=False)
    labels = dataset.read_labels(data, "train")
    assert X.dtype == np.uint8 and X.shape == (len(labels), 64, 64, 3)
    assert y.dtype == np.int64 and np.array_equal(y, labels["class"].to_numpy())
    assert y.min() >= 0 and y.max() < N_CLASSES
    assert isinstance(X, np.memmap)  # the fast path maps the cache


def test_cache_matches_a_direct_decode_of_each_image(tiny_kit):
    data = tiny_kit / "data"
    X, _ = dataset.load_split(data, "test", progress=False)
    ids = dataset.read_labels(data, "test")["id"]
    for k in (0, len(ids) - 1):
        with Image.open(data / "imgs" / f"{ids[k]}.jpg") as img:
            img = img.convert("RGB").resize((64, 64), Image.Resampling.LANCZOS)
        assert np.abs(X[k].astype(int) - np.asarray(img, dtype=int)).mean() < 3


def test_images_of_any_size_are_resized_to_64(kit_copy):
    data = kit_copy / "data"
    image_id = dataset.read_labels(data, "train")["id"][0]
    Image.new("RGB", (300, 170), (200, 30, 10)).save(data / "imgs" / f"{image_id}.jpg")
    X, _ = dataset.load_split(data, "train", progress=False)
    assert X.shape[1:] == (64, 64, 3)
    assert abs(int(X[0, 32, 32, 0]) - 200) < 10 and int(X[0, 32, 32, 2]) < 30


def test_cache_is_reused_when_sources_are_unchanged(kit_copy):
    data = kit_copy / "data"
    cache = data / "cache" / "train_images.npy"
    before = cache.stat().st_mtime_ns
    dataset.load_split(data, "train", progress=False)
    assert cache.stat().st_mtime_ns == before


def test_cache_is_rebuilt_when_the_csv_changes(kit_copy):
    data = kit_copy / "data"
    X0, _ = dataset.load_split(data, "train", progress=False)
    n0 = len(X0)
    lines = _csv_lines(data, "train")
    _write_lines(data, "train", lines[:-3])  # drop two rows... and one more
    X1, y1 = dataset.load_split(data, "train", progress=False)
    assert len(X1) == len(y1) == n0 - 3
    assert dataset.cache_fingerprint(data, "train")["csv_sha256"] != ""


def test_cache_is_rebuilt_when_an_image_changes(kit_copy):
    data = kit_copy / "data"
    X0, _ = dataset.load_split(data, "train", progress=False)
    row0 = np.array(X0[1])
    fp0 = dataset.cache_fingerprint(data, "train")
    image_id = dataset.read_labels(data, "train")["id"][1]
    path = data / "imgs" / f"{image_id}.jpg"
    Image.new("RGB", (64, 64), (0, 255, 0)).save(path)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later mtime, surely
    X1, _ = dataset.load_split(data, "train", progress=False)
    assert dataset.cache_fingerprint(data, "train") != fp0
    assert not np.array_equal(np.array(X1[1]), row0)
    assert int(X1[1, 10, 10, 1]) > 240 and int(X1[1, 10, 10, 0]) < 15


def test_missing_data_folder_says_how_to_create_it(tmp_path):
    with pytest.raises(DataError, match="ramp-server data synth") as exc:
        dataset.load_split(tmp_path / "nowhere", "train")
    assert "ramp-server data download" in str(exc.value)
    assert str(tmp_path / "nowhere") in str(exc.value)


def test_missing_csv_names_the_file(kit_copy):
    data = kit_copy / "data"
    (data / "test.csv").unlink()
    with pytest.raises(DataError, match=r"test\.csv: file not found"):
        dataset.load_split(data, "test")


def test_corrupt_image_names_the_image_and_the_csv_line(kit_copy):
    data = kit_copy / "data"
    image_id = dataset.read_labels(data, "train")["id"][4]
    (data / "imgs" / f"{image_id}.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    with pytest.raises(DataError) as exc:
        dataset.load_split(data, "train", progress=False, n_jobs=2)
    msg = str(exc.value)
    assert "train.csv:6:" in msg and f"{image_id}.jpg" in msg and "cannot be decoded" in msg


def test_missing_image_names_the_image_and_the_csv_line(kit_copy):
    data = kit_copy / "data"
    image_id = dataset.read_labels(data, "test")["id"][2]
    (data / "imgs" / f"{image_id}.jpg").unlink()
    with pytest.raises(DataError, match=rf"test\.csv:4: image .*{image_id}\.jpg .*not found"):
        dataset.load_split(data, "test", progress=False)


def test_unknown_class_names_line_and_field(kit_copy):
    data = kit_copy / "data"
    lines = _csv_lines(data, "train")
    image_id = lines[3].split(",")[0]
    lines[3] = f"{image_id},18"
    _write_lines(data, "train", lines)
    with pytest.raises(DataError, match=r"train\.csv:4: field class: unknown class '18'"):
        dataset.load_split(data, "train")


def test_non_integer_class_is_rejected(kit_copy):
    data = kit_copy / "data"
    lines = _csv_lines(data, "train")
    lines[1] = lines[1].split(",")[0] + ",bee"
    _write_lines(data, "train", lines)
    with pytest.raises(DataError, match=r"train\.csv:2: field class: unknown class 'bee'"):
        dataset.read_labels(data, "train")


def test_duplicate_id_names_both_lines(kit_copy):
    data = kit_copy / "data"
    lines = _csv_lines(data, "test")
    lines.append(lines[2])
    _write_lines(data, "test", lines)
    with pytest.raises(DataError, match=rf"duplicate id .* \(lines 3, {len(lines)}\)"):
        dataset.load_split(data, "test")


@pytest.mark.parametrize("bad_id", ["../outside", "sub/dir", ".hidden", "a\\\\b"])
def test_an_id_that_is_not_a_plain_file_name_is_refused_with_its_line(kit_copy, bad_id):
    data = kit_copy / "data"
    lines = _csv_lines(data, "train")
    lines[3] = f"{bad_id},{lines[3].split(',')[1]}"
    _write_lines(data, "train", lines)
    with pytest.raises(DataError, match=r"train\.csv:4: field id .* is not a plain file name"):
        dataset.read_labels(data, "train")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("id", "missing column"), ("id,class,extra", "unexpected column"), ("image,class", "id")],
)
def test_wrong_columns_are_named(kit_copy, header, expected):
    data = kit_copy / "data"
    lines = _csv_lines(data, "train")
    n_fields = header.count(",") + 1
    body = [",".join((line.split(",") + ["x"])[:n_fields]) for line in lines[1:]]
    _write_lines(data, "train", [header, *body])
    with pytest.raises(DataError, match=rf"train\.csv:1: .*{expected}"):
        dataset.read_labels(data, "train")


def test_public_bundle_holds_no_test_labels(tiny_kit, tmp_path):
    data = tiny_kit / "data"
    out = dataset.export_public_bundle(data, tmp_path / "public", progress=False)
    assert sorted(p.name for p in out.iterdir()) == [
        "meta.json",
        "test_images.npy",
        "train_images.npy",
        "train_labels.npy",
    ]
    meta = json.loads((out / "meta.json").read_text())
    assert "test_labels" not in meta and len(meta["class_names"]) == N_CLASSES
    bundle = dataset.load_public_bundle(out)
    X_train, y_train = dataset.load_split(data, "train", progress=False)
    X_test, _ = dataset.load_split(data, "test", progress=False)
    assert np.array_equal(bundle.train_images, X_train)
    assert np.array_equal(bundle.train_labels, y_train)
    assert np.array_equal(bundle.test_images, X_test)
    assert meta["test_ids"] == dataset.read_labels(data, "test")["id"].tolist()


def test_incomplete_public_bundle_is_reported(tmp_path):
    with pytest.raises(DataError, match=r"train_images\.npy: file not found"):
        dataset.load_public_bundle(tmp_path)


def test_class_names_come_from_class_codes(kit_copy):
    from ramp_server.kit.taxa import CLASS_NAMES

    data = kit_copy / "data"
    codes = ["class,taxon"] + [f"{i},{name}" for i, name in enumerate(CLASS_NAMES)]
    codes[4] = "3,Abeille domestique"
    (data / "class_codes.csv").write_text("\n".join(codes) + "\n", encoding="utf-8")
    names = dataset.read_class_names(data)
    assert names[3] == "Abeille domestique" and names[0] == CLASS_NAMES[0]


@pytest.mark.parametrize(
    "text",
    [
        "id,class\na1,3\nb2,0\nc3,17\n",  # plain: parsed without pandas
        "\ufeff id , class \n a1 , 03\n\nb2,0\nc3, 17 \n",  # BOM, spaces, blank line, 03
        'id,class\r\n"a1",3\r\nb2,"0"\r\nc3,17.0\r\n',  # quotes, CRLF, 17.0: through pandas
    ],
    ids=["plain", "loose", "quoted"],
)
def test_label_csv_spellings_give_the_same_table(tmp_path, text):
    (tmp_path / "train.csv").write_bytes(text.encode("utf-8"))
    labels = dataset.read_labels(tmp_path, "train")
    assert labels["id"].tolist() == ["a1", "b2", "c3"]
    assert labels["class"].tolist() == [3, 0, 17] and labels["class"].dtype == np.int64
