"""`digitcam read`: one JSON line per image, errors per image, annotated files named after the input."""
from __future__ import annotations

import io
import json

import cv2
import pytest

from tests.pipeline_helpers import page, write
from webapp.cli import main


@pytest.fixture
def images(tmp_path):
    """Two drawn numbers, a file that is not an image and an empty one."""
    a, b = page(200, 400, 255), page(200, 400, 255)
    write(a, "2", 60, 150, scale=4, thickness=14)
    write(b, "7", 60, 150, scale=4, thickness=14)
    paths = {"a": tmp_path / "first.png", "b": tmp_path / "second.jpg", "bad": tmp_path / "notes.png", "empty": tmp_path / "empty.jpg"}
    cv2.imwrite(str(paths["a"]), a)
    cv2.imwrite(str(paths["b"]), b)
    paths["bad"].write_text("shopping list: milk, eggs")
    paths["empty"].write_bytes(b"")
    return paths


def test_json_gives_one_object_per_image_and_errors_do_not_stop_the_others(images, capsys):
    order = ["a", "bad", "b", "empty"]
    code = main(["read", "--json", "--provider", "cpu", *(str(images[k]) for k in order)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [r["image"] for r in rows] == [str(images[k]) for k in order]
    assert rows[0]["lines"] == ["2"] and rows[2]["lines"] == ["7"]
    assert "error" in rows[1] and rows[3]["error"] == "empty file"
    x, y, w, h = rows[0]["digits"][0]["box"]
    assert 40 <= x < 120 and 40 <= y < 150 and w > 30 and h > 60  # where the 2 was drawn, in input pixels


def test_all_readable_images_exit_zero_with_a_summary(images, capsys):
    assert main(["read", "--provider", "cpu", str(images["a"])]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{images['a']}: 2") and "1 digits" in out


def test_annotate_writes_files_named_after_the_inputs(images, tmp_path, capsys):
    out_dir = tmp_path / "out"
    main(["read", "--provider", "cpu", "--annotate", str(out_dir), "--teach", str(images["a"]), str(images["b"]), str(images["bad"])])
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["first.annotated.png", "first.stages.png", "second.annotated.png", "second.stages.png"]
    annotated = cv2.imread(str(out_dir / "first.annotated.png"))
    assert annotated.shape == (200, 400, 3)
    assert cv2.imread(str(out_dir / "first.stages.png")).shape[1] > 400  # the composite: frame and stages
    assert f"wrote {out_dir / 'first.stages.png'}" in capsys.readouterr().err  # the user learns where they went


def test_annotate_into_a_file_or_teach_without_a_folder_is_refused_before_reading(images, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["read", "--annotate", str(images["bad"]), str(images["a"])])
    err, out = capsys.readouterr()[::-1]
    assert stop.value.code == 2 and "a file of that name exists" in err and out == ""
    assert main(["read", "--teach", str(images["a"])]) == 2
    err, out = capsys.readouterr()[::-1]
    assert "give --annotate OUT_DIR too" in err and out == ""


def test_json_timings_include_reading_and_decoding_the_file(images, capsys):
    main(["read", "--json", "--provider", "cpu", str(images["a"])])
    timings = json.loads(capsys.readouterr().out)["timings_ms"]
    assert timings["decode"] > 0 and timings["total"] >= timings["decode"] + timings["classify"]


def test_a_missing_model_is_a_clear_error(images, tmp_path, capsys):
    assert main(["read", "--model", str(tmp_path / "none.onnx"), str(images["a"])]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_a_picture_that_cannot_be_written_is_an_error_not_a_claim_that_it_was(images, tmp_path, capsys):
    out_dir = tmp_path / "out"
    (out_dir / "first.annotated.png").mkdir(parents=True)  # something in the way of the picture
    assert main(["read", "--provider", "cpu", "--annotate", str(out_dir), str(images["a"]), str(images["b"])]) == 1
    err = capsys.readouterr().err
    assert f"error: could not write {out_dir / 'first.annotated.png'}" in err
    assert f"wrote {out_dir / 'first.annotated.png'}" not in err
    assert (out_dir / "second.annotated.png").is_file()  # the next image is still read and drawn


def test_inputs_whose_names_become_the_same_file_name_get_numbered_pictures(images, tmp_path):
    spaced, underscored = tmp_path / "a b.png", tmp_path / "a_b.png"
    spaced.write_bytes(images["a"].read_bytes())
    underscored.write_bytes(images["a"].read_bytes())
    out_dir = tmp_path / "out"
    assert main(["read", "--provider", "cpu", "--annotate", str(out_dir), str(spaced), str(underscored)]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["001-a_b.annotated.png", "002-a_b.annotated.png"]


def test_a_phone_photo_over_the_pixel_limit_is_read_and_boxed_in_its_own_pixels(tmp_path, capsys):
    photo = page(4800, 6400, 235)  # 30.7 MP, over the 25 MP limit: decoded at half size
    write(photo, "305", 1500, 3000, scale=40, thickness=120)
    path = tmp_path / "phone.jpg"
    cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert main(["read", "--json", "--provider", "cpu", str(path)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["lines"] == ["305"]
    _, _, stats, _ = cv2.connectedComponentsWithStats((photo[:, :, 0] < 128).astype("uint8"))
    three = min(stats[1:, :4].tolist())  # the leftmost mark, in the photo's own pixels
    assert max(abs(a - b) for a, b in zip(row["digits"][0]["box"], three)) <= 4


def test_a_dash_reads_one_image_from_standard_input(images, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(images["a"].read_bytes())))
    out_dir = tmp_path / "out"
    assert main(["read", "--json", "--provider", "cpu", "--annotate", str(out_dir), "-", str(images["b"])]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["image"], r["lines"]) for r in rows] == [("-", ["2"]), (str(images["b"]), ["7"])]
    assert sorted(p.name for p in out_dir.iterdir()) == ["second.annotated.png", "stdin.annotated.png"]


def test_a_bare_dash_is_not_taken_for_an_option(capsys):
    with pytest.raises(SystemExit):
        main(["-"])
    err = capsys.readouterr().err
    assert "invalid choice: '-'" in err and "option" not in err.split("error:")[1]


def test_standard_input_read_twice_closed_or_empty_is_a_clear_error(images, monkeypatch, capsys):
    assert main(["read", "-", "-"]) == 2
    assert "can be read only once" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", None)
    assert main(["read", "--json", "--provider", "cpu", "-"]) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "no standard input to read"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert main(["read", "--json", "--provider", "cpu", "-"]) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "standard input is empty"


def test_a_file_named_dash_is_a_file_when_given_with_its_folder(images, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_bytes(images["a"].read_bytes())
    assert main(["read", "--provider", "cpu", "--annotate", "out", "./-"]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["-.annotated.png"]


def test_a_folder_reads_the_images_directly_in_it_in_name_order(images, tmp_path, capsys):
    """`digitcam read scans/`: its PNG, JPEG and WebP files, not its notes nor its sub-folders."""
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "third.png"), cv2.imread(str(images["a"])))
    (tmp_path / "README.txt").write_text("scans of the quiz")
    code = main(["read", "--json", "--provider", "cpu", str(tmp_path)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["image"] for r in rows] == [str(images[k]) for k in ("empty", "a", "bad", "b")]
    assert rows[1]["lines"] == ["2"] and rows[3]["lines"] == ["7"]
    assert code == 1  # the empty and the unreadable file are errors of their own


def test_a_folder_annotated_into_itself_is_read_again_without_its_annotated_pictures(images, tmp_path, capsys):
    """`digitcam read scans/ --annotate scans/`, run twice, reads the scans only, not what it drew."""
    for _ in range(2):
        main(["read", "--json", "--provider", "cpu", "--annotate", str(tmp_path), "--teach", str(tmp_path)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["image"] for r in rows] == 2 * [str(images[k]) for k in ("empty", "a", "bad", "b")]
    assert (tmp_path / "first.annotated.png").is_file() and (tmp_path / "first.stages.png").is_file()


def test_a_folder_without_images_is_an_error_and_the_other_inputs_are_still_read(images, tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    code = main(["read", "--json", "--provider", "cpu", str(tmp_path / "nothing"), str(images["b"])])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert rows[0] == {"image": str(tmp_path / "nothing"), "error": "a folder with no PNG, JPEG or WebP file in it"}
    assert rows[1]["lines"] == ["7"]
