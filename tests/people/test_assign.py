from facefold.people.assign import match_clusters


def test_clusters_keep_the_person_they_overlap_most() -> None:
    clusters = {0: {1, 2, 3}, 1: {4, 5}, 2: {6}}
    persons = {10: {1, 2}, 11: {3, 4, 5}, 12: {9}}
    assert match_clusters(clusters, persons) == {0: 10, 1: 11, 2: None}


def test_a_person_goes_to_one_cluster_only() -> None:
    clusters = {0: {1, 2}, 1: {3}}
    persons = {7: {1, 2, 3}}
    assert match_clusters(clusters, persons) == {0: 7, 1: None}


def test_no_persons_yet() -> None:
    assert match_clusters({0: {1}, 1: {2}}, {}) == {0: None, 1: None}
