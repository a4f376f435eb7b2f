"""Taking the shipped ensemble apart, and a member that only canvases use."""
from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="taking a model apart needs the 'train' extra (onnx)")
ort = pytest.importorskip("onnxruntime")

from export import ensemble, unmerge  # noqa: E402
from webapp.recognizer import CASCADE_KEY, FLOAT_MODEL, LETTER_LIKE, MEMBER_INPUT, ModelError, Recognizer  # noqa: E402


@pytest.fixture(scope="module")
def digits(mnist_dir):
    from train.data import load_split

    x = load_split(mnist_dir, "test")[0][:300].astype(np.float32)[:, None] / 255.0
    x[::3] = np.clip(x[::3] + np.roll(x[::3], 9, axis=3), 0, 1)  # overlaid digits, so some are doubted
    return x


def _outputs(model: onnx.ModelProto, x: np.ndarray, **feed) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"pixels": x, **feed})


def test_the_shipped_file_taken_apart_and_merged_again_reads_every_digit_as_it_did(digits):
    shipped = onnx.load(str(FLOAT_MODEL))
    members, letters = unmerge.members(shipped), unmerge.letter_detector(shipped)
    assert len(members) == 5 and letters is not None
    for k, member in enumerate(members):
        meta = {p.key: p.value for p in member.metadata_props}
        assert meta["input_size"] == "28" and len(json.loads(meta["model_config"])["widths"]) == 3
        alone = _outputs(shipped, digits, **{MEMBER_INPUT: np.array(k, np.int64)})[0]
        assert np.array_equal(_outputs(member, digits)[0], alone)
    again = ensemble.merge(members, letters)
    for got, want in zip(_outputs(again, digits), _outputs(shipped, digits)):
        assert np.array_equal(got, want)


def test_an_int8_file_or_a_single_network_cannot_be_taken_apart(tmp_path):
    from webapp.recognizer import INT8_MODEL

    with pytest.raises(ValueError, match="int8"):
        unmerge.members(onnx.load(str(INT8_MODEL)))
    member = unmerge.members(onnx.load(str(FLOAT_MODEL)))[0]
    with pytest.raises(ValueError, match="not a digitcam ensemble"):
        unmerge.members(member)
    assert unmerge.letter_detector(member) is None


def test_the_parts_are_written_under_the_names_they_were_merged_under_with_their_cards(tmp_path):
    written = unmerge.take_apart(FLOAT_MODEL, tmp_path / "parts")
    names = ["member0.onnx", "s1-d.onnx", "canvas-c1.onnx", "canvas-c2.onnx", "canvas-c3.onnx", "letter-s.onnx"]
    assert [p.name for p in written] == names
    for name in names[:-1]:
        card = json.loads((tmp_path / "parts" / name).with_suffix(".json").read_text())
        assert "mnist_test_accuracy" in card


def test_parts_merged_under_one_name_are_numbered_and_each_keeps_its_own_card(tmp_path):
    shipped = onnx.load(str(FLOAT_MODEL))
    meta = {p.key: p.value for p in shipped.metadata_props}
    cards = json.loads(meta["ensemble"])
    for card in cards:
        card["file"] = "same.onnx"
    for p in shipped.metadata_props:
        if p.key == "ensemble":
            p.value = json.dumps(cards)
    path = tmp_path / "digits.onnx"
    onnx.save(shipped, str(path))
    ensemble_card = json.loads(FLOAT_MODEL.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps(ensemble_card))
    written = unmerge.take_apart(path, tmp_path / "parts")
    assert [p.name for p in written] == [f"member{i}.onnx" for i in range(5)] + ["letters.onnx"]
    for i, member in enumerate(ensemble_card["members"]):
        assert json.loads((tmp_path / "parts" / f"member{i}.json").read_text()) == member["card"]


def _three(tmp_path, means, letters: bool = True, **spec) -> str:
    """The shipped file's first two members with member 0 again as a third, read as a cascade from member 1
    (with the shipped letter detector, or without one); `spec`: more keys of its cascade metadata."""
    shipped = onnx.load(str(FLOAT_MODEL))
    members = unmerge.members(shipped)[:2]
    merged = ensemble.merge([members[0], members[1], members[0]], unmerge.letter_detector(shipped) if letters else None)
    for p in shipped.metadata_props:
        if p.key != CASCADE_KEY:
            merged.metadata_props.add(key=p.key, value=p.value)
    cascade = {"first": 1, "sure": 0.99, "members": 3, "means": means, **spec}
    merged.metadata_props.add(key=CASCADE_KEY, value=json.dumps(cascade))
    path = tmp_path / "three.onnx"
    onnx.save(merged, str(path))
    return path


def test_a_member_for_canvases_joins_the_mean_of_doubted_canvas_crops_only(tmp_path, digits):
    path = _three(tmp_path, {"photo": [0, 1], "canvas": [0, 1, 2]})
    photo = Recognizer(path, provider="cpu")
    canvas = photo.on_canvas()
    alone = [photo._run(digits, k)[0] for k in range(2)]
    doubted = alone[1].max(axis=1) < 0.99
    assert 0 < doubted.sum() < len(digits)
    wordy = photo.letters_of(photo.first_reading(digits)) >= LETTER_LIKE  # see the next test
    got_photo, got_canvas = photo.predict(digits), canvas.predict(digits)
    assert np.allclose(got_photo[~doubted], alone[1][~doubted]) and np.allclose(got_canvas[~doubted], alone[1][~doubted])
    assert np.allclose(got_photo[doubted], (alone[0] + alone[1])[doubted] / 2, atol=1e-6)
    assert np.allclose(got_canvas[doubted & ~wordy], (2 * alone[0] + alone[1])[doubted & ~wordy] / 3, atol=1e-6)
    assert photo.on_canvas(False) is photo and canvas.on_canvas() is canvas


def test_on_a_canvas_a_doubted_crop_the_letter_detector_finds_letter_like_is_read_with_the_photo_mean(tmp_path,
                                                                                                       digits):
    """Networks trained on drawn strokes read the strokes of letters as digits, so the canvas mean is
    kept for crops that do not look like letters."""
    canvas = Recognizer(_three(tmp_path, {"photo": [0, 1], "canvas": [0, 1, 2]}), provider="cpu").on_canvas()
    alone = [canvas._run(digits, k)[0] for k in range(2)]
    doubted = alone[1].max(axis=1) < 0.99
    wordy = doubted & (canvas.letters_of(canvas.first_reading(digits)) >= LETTER_LIKE)
    assert 0 < wordy.sum() < doubted.sum()
    got = canvas.predict(digits)
    assert np.allclose(got[wordy], (alone[0] + alone[1])[wordy] / 2, atol=1e-6)
    assert not np.allclose(got[wordy], (2 * alone[0] + alone[1])[wordy] / 3, atol=1e-6)


def test_a_file_sets_how_letter_like_a_doubted_canvas_crop_must_be_to_get_the_photo_mean(tmp_path, digits):
    """The bar belongs to the file's letter detector, so it travels in the file ("letter_like")."""
    canvas = Recognizer(_three(tmp_path, {"photo": [0, 1], "canvas": [0, 1, 2]}, letter_like=0.9),
                        provider="cpu").on_canvas()
    assert canvas.letter_like == 0.9
    alone = [canvas._run(digits, k)[0] for k in range(2)]
    doubted, scores = alone[1].max(axis=1) < 0.99, canvas.letters_of(canvas.first_reading(digits))
    between, above = doubted & (scores >= LETTER_LIKE) & (scores < 0.9), doubted & (scores >= 0.9)
    assert between.any() and above.any()  # the reader's own bar would give both the photo mean
    got = canvas.predict(digits)
    assert np.allclose(got[between], (2 * alone[0] + alone[1])[between] / 3, atol=1e-6)
    assert np.allclose(got[above], (alone[0] + alone[1])[above] / 2, atol=1e-6)


@pytest.mark.parametrize("bad", [0, 1.5, "high", True, None, float("nan")])
def test_a_letter_like_bar_out_of_range_is_a_model_error(tmp_path, bad):
    with pytest.raises(ModelError, match="letter_like"):
        Recognizer(_three(tmp_path, {"photo": [0, 1], "canvas": [0, 1, 2]}, letter_like=bad), provider="cpu")


def test_without_a_letter_detector_every_doubted_canvas_crop_gets_the_canvas_mean(tmp_path, digits):
    path = _three(tmp_path, {"photo": [0, 1], "canvas": [0, 1, 2]}, letters=False)
    canvas = Recognizer(path, provider="cpu").on_canvas()
    assert not canvas.has_letters
    alone = [canvas._run(digits, k)[0] for k in range(2)]
    doubted = alone[1].max(axis=1) < 0.99
    assert 0 < doubted.sum() < len(digits)
    got = canvas.predict(digits)
    assert np.allclose(got[doubted], (2 * alone[0] + alone[1])[doubted] / 3, atol=1e-6)


def test_a_file_without_means_reads_canvases_and_photos_with_all_its_members(tmp_path, digits):
    path = _three(tmp_path, {})
    photo = Recognizer(path, provider="cpu")
    assert photo.mean == (0, 1, 2) and photo.on_canvas() is photo


def test_the_shipped_files_read_canvases_with_their_canvas_members_in_the_place_of_member_0():
    from webapp.recognizer import INT8_MODEL

    for path in (FLOAT_MODEL, INT8_MODEL):
        photo = Recognizer(path, provider="cpu")
        assert photo.cascade == (1, 0.99, 5) and photo.mean == (0, 1) and photo.on_canvas().mean == (1, 2, 3, 4)
        assert json.loads(photo.metadata[CASCADE_KEY])["letter_like"] == photo.letter_like == LETTER_LIKE


def test_a_mean_that_leaves_out_the_first_member_is_refused(tmp_path):
    with pytest.raises(ModelError, match="means 'canvas'"):
        Recognizer(_three(tmp_path, {"photo": [0, 1], "canvas": [0, 2]}), provider="cpu")
    with pytest.raises(ModelError, match="means 'photo'"):
        Recognizer(_three(tmp_path, {"photo": [1, 5]}), provider="cpu")
