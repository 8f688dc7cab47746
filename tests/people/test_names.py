import pytest

from facefold.people.names import (
    MAX_NAME_BYTES,
    NameRefused,
    assign_folders,
    clean_name,
    folder_name,
)


def test_unicode_is_kept_and_whitespace_tidied() -> None:
    assert clean_name("  Ana\tMaría  ") == "Ana María"
    assert folder_name("Zoë 李") == "Zoë 李"
    assert clean_name("Jose\u0301") == "José"  # NFC


@pytest.mark.parametrize("raw", ["../../etc", "/etc/passwd", "a/b\\c", "..", ".", ".hidden",
                                 "-rf", "x\n/y", "bad\x00name", " . "])
def test_folder_names_are_one_safe_component(raw: str) -> None:
    f = folder_name(raw)  # each has a visible character, so each gives a name
    assert f and "/" not in f and "\\" not in f and "\0" not in f and "\n" not in f
    assert f not in (".", "..") and not f.startswith((".", "-"))


def test_empty_and_too_long_names_are_refused() -> None:
    for bad in ("", "   ", "\n\t"):
        with pytest.raises(NameRefused):
            clean_name(bad)
    with pytest.raises(NameRefused):
        clean_name("é" * MAX_NAME_BYTES)


def test_collisions_resolved_lower_id_first() -> None:
    got = assign_folders([(3, "Ana"), (1, "ana"), (2, None), (4, "Ana/"), (5, "person_0002")])
    assert got[1] == "ana" and got[3] == "Ana (2)" and got[4] == "Ana-"
    assert len(set(f.casefold() for f in got.values())) == 5
    assert got[2] == "person_0002" and got[5] == "person_0002 (2)"


def test_an_unnamed_persons_folder_never_moves_for_someone_named_like_it() -> None:
    # person 3 is named "person_0005" by hand: person 5, unnamed, keeps its folder all the same
    got = assign_folders([(3, "person_0005"), (5, None)])
    assert got == {5: "person_0005", 3: "person_0005 (2)"}


def test_a_refused_name_says_why() -> None:
    with pytest.raises(NameRefused, match="^a name needs at least one visible character$"):
        clean_name(" \t ")
    with pytest.raises(NameRefused, match=f"^a name can be at most {MAX_NAME_BYTES} bytes of UTF-8$"):
        clean_name("a" * (MAX_NAME_BYTES + 1))
    assert clean_name("a" * MAX_NAME_BYTES) == "a" * MAX_NAME_BYTES  # the longest is fine


@pytest.mark.parametrize(("name", "folder"), [
    ("Xavier", "Xavier"), ("MAX", "MAX"), ("Ana.", "Ana"), ("Ana. .", "Ana"), (".Ana", "Ana"),
    ("- Ana", "Ana"), ("Ana-", "Ana-"), ("...", "person"), ("- .", "person"), ("J.R.R.", "J.R.R")])
def test_a_folder_is_the_name_with_only_its_risky_ends_taken_off(name: str, folder: str) -> None:
    assert folder_name(name) == folder
