"""Photos with identities: person folders, the split by identity, P×K batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlpipe.data.people import read_people, split_people
from dlpipe.errors import DataError
from dlpipe.tasks.verify.sampling import IdentityBatches


def _person(root: Path, name: str, photos: int, colour: bool = False) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(name) + photos)
    for k in range(photos):
        pixels = rng.integers(0, 256, (20, 24, 3) if colour else (20, 24), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{k}.png")
    return folder


def test_person_folders_are_read_as_identities_at_the_size_asked(tmp_path):
    _person(tmp_path, "ada", 2)
    _person(tmp_path, "bob", 3, colour=True)
    (tmp_path / ".hidden").mkdir()
    people = read_people(tmp_path, size=16, channels=1)
    assert people.names == ["ada", "bob"]
    assert people.images.shape == (5, 16, 16, 1) and people.images.dtype == np.uint8
    assert people.identities.tolist() == [0, 0, 1, 1, 1]


@pytest.mark.parametrize(
    ("photos", "message"),
    [(0, "holds no PNG or JPEG image"), (1, "holds one image \\(0.png\\)")],
    ids=["empty", "one photo"],
)
def test_a_person_folder_with_fewer_than_two_photos_is_named(tmp_path, photos, message):
    _person(tmp_path, "ada", 2)
    folder = _person(tmp_path, "bob", photos)
    with pytest.raises(
        DataError, match=f"^{folder}: a person needs at least 2 photos, the folder {message}$"
    ):
        read_people(tmp_path, size=16, channels=1)


def test_an_unreadable_photo_is_named(tmp_path):
    folder = _person(tmp_path, "ada", 2)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=f"^{folder / 'broken.jpg'}: cannot read image"):
        read_people(tmp_path, size=16, channels=1)


def test_a_missing_or_empty_root_is_named(tmp_path):
    with pytest.raises(DataError, match="nowhere: verify.data.path is not a folder"):
        read_people(tmp_path / "nowhere", size=16, channels=1)
    with pytest.raises(DataError, match="holds no person folder"):
        read_people(tmp_path, size=16, channels=1)


def test_the_split_is_by_identity_seeded_and_six_two_two():
    ratios = {"train": 0.6, "val": 0.2, "test": 0.2}
    parts = split_people(50, ratios, seed=1)
    assert [len(parts[name]) for name in ("train", "val", "test")] == [30, 10, 10]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(50))  # each once
    assert all(np.array_equal(parts[k], split_people(50, ratios, seed=1)[k]) for k in parts)
    assert not np.array_equal(parts["test"], split_people(50, ratios, seed=2)["test"])


def test_too_few_people_for_a_split_is_one_line():
    with pytest.raises(DataError, match="^6 people split 0.6:0.2:0.2 by identity leave test 1, val 1: each"):
        split_people(6, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)


def test_a_batch_holds_p_identities_of_k_photos_each_and_epochs_differ():
    identities = np.repeat(np.arange(10), [5, 5, 5, 5, 5, 5, 5, 5, 5, 2])  # the last has 2 photos
    batches = IdentityBatches(identities, people=4, photos=3, batches=50, seed=0)
    first = list(batches)
    assert len(first) == 50
    for batch in first:
        owners = identities[batch]
        assert len(batch) == 12 and len(set(owners.tolist())) == 4
        assert all((owners == owner).sum() == 3 for owner in set(owners.tolist()))
        for owner in set(owners.tolist()) - {9}:  # no photo twice where the identity has 3 or more
            assert len(set(np.array(batch)[owners == owner].tolist())) == 3
    assert first != list(batches)  # the next epoch draws anew
    assert first == list(IdentityBatches(identities, people=4, photos=3, batches=50, seed=0))
    with pytest.raises(ValueError, match="batches of 11 identities, but the training split has 10"):
        IdentityBatches(identities, people=11, photos=3, batches=1, seed=0)
