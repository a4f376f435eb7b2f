"""train.letter_crops: written letters the reader would crop, ready to be taught as "not a digit"."""
from __future__ import annotations

import numpy as np
import pytest

from train.letter_crops import LETTERS, NOT_A_DIGIT, build, main


def test_letters_a_reader_could_take_for_digits_are_never_written():
    assert not set(LETTERS) & set("oOlIijJsSzZgqbBDGT")


def test_written_words_give_several_crops_each_labelled_not_a_digit():
    arrays = build(20, seed=5)
    n = len(arrays["labels"])
    assert n > 20  # words of one to five letters, one or two words a sample
    assert arrays["images"].shape == (n, 28, 28) and arrays["images"].dtype == np.uint8
    assert (arrays["labels"] == NOT_A_DIGIT).all()
    assert (arrays["images"].reshape(n, -1).max(axis=1) > 128).all()  # every crop holds ink


def test_the_saved_crops_load_beside_the_pipelines_own(tmp_path):
    from train.train import load_crops

    out = tmp_path / "letters.npz"
    main(["--count", "4", "--seed", "1", "--out", str(out)])
    images, labels = load_crops([out, out])
    assert len(images) == len(labels) > 0 and set(labels.tolist()) == {NOT_A_DIGIT}


def test_words_can_also_be_written_in_font_files(tmp_path, dejavu_font, monkeypatch):
    """--fonts: about half the samples are written in a TrueType font, half in Hershey fonts."""
    from train import letter_crops

    drawn = []
    real = letter_crops._font_ink
    monkeypatch.setattr(letter_crops, "_font_ink", lambda rng, path: drawn.append(path) or real(rng, path))
    arrays = build(40, seed=5, fonts=[dejavu_font])
    assert 10 <= len(drawn) <= 30 and set(drawn) == {dejavu_font}
    assert len(arrays["labels"]) > 40 and (arrays["labels"] == NOT_A_DIGIT).all()
    with pytest.raises(SystemExit, match="font file not found"):
        main(["--count", "2", "--fonts", str(tmp_path / "none.ttf"), "--out", str(tmp_path / "x.npz")])
