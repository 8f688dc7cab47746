import numpy as np

from facefold.people.index import UNASSIGNED, FaceIndex


def test_add_remove_and_grow() -> None:
    idx = FaceIndex(dim=4, capacity=2)
    v = np.eye(4, dtype=np.float32)
    idx.add(np.array([10, 11, 12]), v[:3], np.array([1, UNASSIGNED, 2]), np.array([5, 5, 6]),
            quality=np.array([1.0, 0.5, 1.0]))
    assert len(idx) == 3 and idx.persons[:3].tolist() == [1, UNASSIGNED, 2]
    idx.remove([10, 99])
    ids, vecs, persons, photos = idx.view()
    assert sorted(ids.tolist()) == [11, 12]
    row = {int(f): i for i, f in enumerate(ids)}
    np.testing.assert_array_equal(vecs[row[12]], v[2])
    assert idx.quality[row[11]] == 0.5 and idx.quality[row[12]] == 1.0  # rows move together
    idx.set_persons({11: 3})
    assert persons[row[11]] == 3
    idx.add(np.array([12]), v[3:4], np.array([4]), np.array([7]))  # replaces
    ids, vecs, persons, photos = idx.view()
    assert len(idx) == 2 and dict(zip(ids.tolist(), persons.tolist(), strict=True)) == {11: 3, 12: 4}
    np.testing.assert_array_equal(vecs[ids.tolist().index(12)], v[3])
