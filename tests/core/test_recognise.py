"""identify and encode: who is in photos outside the library, and the original pickle."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np

from facefold.core import Library
from facefold.core import people as people_uc
from facefold.core.recognise import encode, identify
from facefold.core.reports import persons
from facefold.core.scan import scan
from tests.helpers.data import photos_of
from tests.helpers.fakes import person_photo


def test_identify_names_known_people_and_says_unknown(lib: Library, rng: np.random.Generator,
                                                       tmp_path: Path) -> None:
    for k in range(3):
        person_photo(lib.settings.inbox / f"ana-{k}.png", 0, rng)
        person_photo(lib.settings.inbox / f"ben-{k}.png", 1, rng)
    scan(lib)
    ana = next(p.id for p in persons(lib) if p.faces == 3)
    people_uc.name(lib, ana, "Ana")
    outside = tmp_path / "outside"
    group = person_photo(outside / "group.png", 0, rng, faces=3)  # Ana, Ben (unnamed), a stranger
    res = identify(lib, [group, outside / "missing.png"])
    assert [m.name for m in res.matches] == ["Ana", "unknown", "unknown"]
    assert res.matches[0].person_id == ana and res.matches[0].distance is not None
    assert [str(p) for p, _ in res.failures] == [str(outside / "missing.png")]


def test_encode_writes_the_original_pickle(lib: Library, rng: np.random.Generator,
                                           tmp_path: Path) -> None:
    imgs = [person_photo(tmp_path / f"{i}.png", i, rng, faces=2) for i in range(3)]
    res = encode(lib, imgs, tmp_path / "out" / "faces.pkl")
    assert (res.images, res.faces, res.failures) == (3, 6, [])
    with res.out.open("rb") as f:
        data = pickle.load(f)  # our own output, written a line above
    assert data["embeddings"].shape == (6, 128) and data["boxes"].shape == (6, 4)
    assert data["paths"] == [str(p) for p in imgs for _ in range(2)]


def test_identify_and_encode_on_real_photos(real_lib: Library, celebrities: Path,
                                            tmp_path: Path) -> None:
    lib = real_lib
    for p in photos_of(celebrities, "jerry_seinfeld")[:5]:
        shutil.copy(p, lib.settings.inbox / p.name)
    scan(lib)
    (jerry,) = [p.id for p in persons(lib)]
    people_uc.name(lib, jerry, "Jerry")
    held_out = photos_of(celebrities, "jerry_seinfeld", "val")[0]
    stranger = photos_of(celebrities, "madonna", "val")[0]
    res = identify(lib, [held_out, stranger])
    seen = {m.photo: m for m in res.matches}
    assert seen[str(held_out)].name == "Jerry" and (seen[str(held_out)].distance or 9) < 1.0
    assert seen[str(stranger)].name == "unknown"
    # the daemon's rule: a new photo of a named person goes straight into that person's folder
    shutil.copy(held_out, lib.settings.inbox / "new-jerry.jpg")
    scan(lib)
    assert (lib.settings.people / "Jerry" / "new-jerry.jpg").is_symlink()

    imgs = photos_of(celebrities, "elton_john")[:3] + photos_of(celebrities, "jerry_seinfeld")[:3]
    out = encode(lib, imgs, tmp_path / "faces.pkl")
    with out.out.open("rb") as f:
        data = pickle.load(f)  # our own output, written a line above
    emb = data["embeddings"]
    who = np.array([Path(p).parent.name for p in data["paths"]])
    d = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    iu = np.triu_indices(len(emb), 1)
    same = (who[:, None] == who[None])[iu]
    assert d[iu][same].max() < d[iu][~same].min()
