"""Pure bookkeeping: which existing person each new cluster is, so ids and names survive reclusters."""

from __future__ import annotations

from collections.abc import Mapping, Set


def match_clusters(clusters: Mapping[int, Set[int]],
                   persons: Mapping[int, Set[int]]) -> dict[int, int | None]:
    """Given cluster label → face ids and person id → face ids, return cluster label → person id
    (None: a new person).

    Pairs are taken greedily by the number of faces they share (ties: older person first); a person
    goes to at most one cluster and only when they share a face.
    """
    face_person = {f: pid for pid, faces in persons.items() for f in faces}
    overlap: dict[tuple[int, int], int] = {}
    for lab, faces in clusters.items():
        for f in faces:
            pid = face_person.get(f)
            if pid is not None:
                overlap[(lab, pid)] = overlap.get((lab, pid), 0) + 1
    result: dict[int, int | None] = {lab: None for lab in clusters}
    used: set[int] = set()
    for (lab, pid), _n in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0])):
        if result[lab] is None and pid not in used:
            result[lab] = pid
            used.add(pid)
    return result
