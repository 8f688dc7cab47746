from dataclasses import replace

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from facefold.db import faces, queue
from tests.db.conftest import new_face
from tests.helpers.postgres import both_backends  # noqa: F401  (SQLite and PostgreSQL)


def test_face_matrix_gives_each_face_its_size_share_of_its_photo(engine: Engine) -> None:
    """A face's size (square root of its box's area) over its photo's largest face's, also
    when only some faces of the photo are loaded (new faces placed one photo at a time)."""
    with Session(engine) as s:
        big, small = new_face(1), replace(new_face(2), box=(60.0, 5.0, 15.0, 20.0))
        queue.record_processed(s, "/in/a.jpg", "h1", 10, 1.0, 100, 100, [big, small])
        queue.record_processed(s, "/in/b.jpg", "h2", 10, 1.0, 100, 100, [new_face(3)])
        s.commit()
        m = faces.face_matrix(s)
        assert np.allclose(m.shares, [1.0, 0.5, 1.0])  # boxes 30 x 40 and 15 x 20
        only = faces.face_matrix(s, [int(m.face_ids[1])])
        assert np.allclose(only.shares, [0.5])
        assert faces.face_matrix(s, []).shares.shape == (0,)
