from dataclasses import replace

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from facefold.db import faces, queue
from tests.db.conftest import new_face
from tests.helpers.postgres import both_backends  # noqa: F401  (SQLite and PostgreSQL)


def test_face_signatures_follow_the_ids_given_with_zeros_where_none_was_stored(
        engine: Engine) -> None:
    """Signatures are read only for the faces asked, in the order asked; a face stored without
    them (before they were kept) gets zeros, which are like no other signature."""
    from facefold.vision.pixels import PHOTO_BYTES, PIXEL_BYTES, places

    photo = bytes(range(256)) * (PHOTO_BYTES // 256) + bytes(PHOTO_BYTES % 256)
    crop = bytes([7]) * PIXEL_BYTES
    with Session(engine) as s:
        (a,) = queue.record_processed(s, "/in/a.jpg", "h1", 10, 1.0, 100, 80,
                                      [replace(new_face(1), pixels=crop)], pixels=photo)
        (b,) = queue.record_processed(s, "/in/b.jpg", "h2", 10, 1.0, 100, 80, [new_face(2)])
        s.commit()
        pixels, scenes = faces.face_signatures(s, [b, a])
        assert (pixels[1] == 7).all() and not pixels[0].any()
        assert scenes[1, :PHOTO_BYTES].tobytes() == photo and not scenes[0].any()
        assert np.allclose(places(scenes[1:]), [[16 / 100, 22 / 80, np.sqrt(1200 / 8000)]],
                           atol=1e-4)  # box (1, 2, 30, 40): its centre and size in the photo
        assert faces.face_signatures(s, [])[0].shape == (0, PIXEL_BYTES)
