"""The one-shot data's identities and their photos (data/glyphs.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlpipe.data.glyphs import fonts_for, identities, make_glyphs


def test_look_alikes_across_alphabets_are_one_identity():
    names, owners = identities(["latin", "cyrillic", "greek"])
    assert "AАΑ" in names and "A" not in names and "А" not in names  # Latin, Cyrillic, Greek A
    assert len("".join(names)) == len(set("".join(names)))  # no character in two identities
    assert owners[names.index("AАΑ")] == "latin" and owners[names.index("Ж")] == "cyrillic"
    # alone, an alphabet keeps only its own characters of a group
    assert "А" in identities(["cyrillic"])[0]


def test_unseen_alphabets_share_no_character_with_the_training_ones():
    trained = set("".join(identities(["latin", "cyrillic", "greek"])[0]))
    unseen = set("".join(identities(["armenian", "georgian"])[0]))
    assert not trained & unseen
    assert len(identities(["armenian"])[0]) == 76 and len(identities(["georgian"])[0]) == 33


def test_an_unknown_alphabet_is_named():
    with pytest.raises(ValueError, match="unknown alphabet 'klingon' \\(known: latin, cyrillic"):
        identities(["latin", "klingon"])


def test_a_font_is_used_only_where_it_has_the_character():
    armenian = [path.name for path in fonts_for("Ա")]
    assert armenian and all(name.startswith("DejaVu") for name in armenian)  # STIX has no Armenian
    assert any(path.name.startswith("STIX") for path in fonts_for("Ж"))


def test_photos_are_seeded_centred_and_each_different():
    glyphs = make_glyphs(["georgian"], per_identity=4, size=32, seed=3)
    assert glyphs.images.shape == (33 * 4, 32, 32) and glyphs.images.dtype == np.uint8
    assert glyphs.identities.tolist() == np.repeat(np.arange(33), 4).tolist()
    assert np.array_equal(glyphs.images, make_glyphs(["georgian"], 4, 32, seed=3).images)
    assert not np.array_equal(glyphs.images, make_glyphs(["georgian"], 4, 32, seed=4).images)
    first = glyphs.images[:4].reshape(4, -1)
    assert len({row.tobytes() for row in first}) == 4  # four photos of one identity differ
    for image in glyphs.images:
        rows, cols = np.nonzero(image > 127)
        assert len(rows) > 10  # ink
        # centred: the ink's middle lies within the jitter's shift (8%) and a margin of the centre
        assert abs((rows.min() + rows.max()) / 2 - 15.5) < 6 and abs((cols.min() + cols.max()) / 2 - 15.5) < 6
