from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from facefold.config import load_settings
from facefold.core import Library, Models
from tests.helpers.data import write_config
from tests.helpers.fakes import FakeEmbedder, FakeFinder


@pytest.fixture
def settings_factory(tmp_path: Path) -> Iterator[Callable[[str], Library]]:
    """Libraries with fake models in sub-folders of the test's tmp dir, by name."""
    made: list[Library] = []

    def make(name: str) -> Library:
        root = tmp_path / name
        root.mkdir()
        settings = load_settings(write_config(root))
        settings.inbox.mkdir()
        made.append(Library(settings, Models(FakeFinder(), FakeEmbedder())))
        return made[-1]

    yield make
    for lib in made:
        lib.close()


def membership(lib: Library) -> dict[str, int | None]:
    """photo file name (plus box x) → person id, for every face."""
    with lib.session() as s:
        rows = s.execute(text("SELECT i.path, f.box_x, f.person_id FROM faces f "
                              "JOIN images i ON i.id = f.image_id")).all()
    return {f"{Path(p).parent.name}/{Path(p).name}@{x:.0f}": pid for p, x, pid in rows}
