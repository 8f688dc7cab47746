from pathlib import Path

import pytest

from facefold.config import ConfigError, load_settings, settings_from_mapping

REPO = Path(__file__).resolve().parent.parent


def test_shipped_config_matches_defaults() -> None:
    shipped = load_settings(REPO / "config.yaml")
    defaults = settings_from_mapping({}, REPO, None)
    assert shipped.model_dump(exclude={"source"}) == defaults.model_dump(exclude={"source"})


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    cfg = tmp_path / "sub" / "config.yaml"
    cfg.parent.mkdir()
    cfg.write_text("inbox: photos\npeople: ../out\ndatabase: sqlite:///db/f.db\nmodels_dir: ~/m\n")
    s = load_settings(cfg)
    assert s.inbox == tmp_path / "sub" / "photos"
    assert s.people == tmp_path / "out"
    assert s.database == f"sqlite:///{tmp_path / 'sub' / 'db' / 'f.db'}"
    assert s.models_dir == Path.home() / "m"


def test_every_error_is_reported_at_once_with_its_key(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "detection:\n  min_confidence: 2\n  max_side: -1\n  enlarge_min_face_size: 8\n"
        "clustering:\n  person_distance: 5\n"
        "embeding: {}\n"
        "database: not-a-url\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    text = "\n".join(info.value.errors)
    for key in ("detection.min_confidence", "detection.max_side", "clustering.person_distance",
                "embeding", "database", "detection.enlarge_min_face_size"):
        assert key in text
    assert "0 (never) or 12..20" in text
    assert len(info.value.errors) == 6
    assert all(line.startswith(str(cfg)) for line in info.value.errors)


def test_bad_yaml_and_non_mapping_are_clear(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("inbox: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(cfg)
    cfg.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(cfg)


@pytest.mark.parametrize(("paths", "key"), [
    ({"inbox": "photos", "people": "photos/people"}, "people"),
    ({"inbox": "photos", "people": "photos"}, "people"),
    ({"inbox": "people/photos", "people": "people"}, "inbox"),
    ({"inbox": "photos", "state_dir": "photos/.facefold"}, "state_dir"),
    ({"people": "people", "state_dir": "people/state"}, "state_dir"),
])
def test_paths_that_would_let_facefold_write_into_photos_are_refused(
        tmp_path: Path, paths: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=f"{key}: must not be"):
        settings_from_mapping(paths, tmp_path)


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.yaml")


def test_yaml_tags_are_not_executed(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("inbox: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(cfg)
