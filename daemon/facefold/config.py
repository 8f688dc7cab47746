"""The one reader of config.yaml: load, normalise and validate in one pass, report every error at once."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CONFIG_NAME = "config.yaml"

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """The configuration cannot be used; `errors` lists every problem as 'file: key: message'."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecodeSettings(_Section):
    max_pixels: int = Field(120_000_000, gt=0)
    max_file_bytes: int = Field(100 * 1024 * 1024, gt=0)
    draft_min_side: int = Field(1536, ge=0)
    max_scans: int = Field(256, ge=0)
    extensions: tuple[str, ...] = (
        ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".gif",
    )

    @field_validator("extensions")
    @classmethod
    def _dotted_lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for ext in v:
            if not ext or "/" in ext:
                raise ValueError(f"not a file name ending: {ext!r}")
            out.append(("." + ext.lstrip(".")).lower())
        return tuple(out)


class DetectionSettings(_Section):
    max_side: int = Field(1024, ge=160, le=8192)
    min_confidence: float = Field(0.9, ge=0.0, le=1.0)
    min_face_size: int = Field(20, ge=1)
    retry_pad: float = Field(0.25, ge=0.0, le=1.0)
    retry_stage_score: float = Field(0.5, ge=0.0, le=1.0)
    retry_min_confidence: float = Field(0.95, ge=0.0, le=1.0)
    retry_min_face_size: int = Field(16, ge=12, le=20)
    enlarge_min_face_size: int = Field(12, ge=0, le=20)
    enlarge_min_confidence: float = Field(0.85, ge=0.0, le=1.0)
    confirm_min_confidence: float = Field(0.8, ge=0.0, le=1.0)
    confirm_min_score: float = Field(0.8, ge=0.0, le=1.0)
    runtime: Literal["auto", "tflite", "tensorflow"] = "auto"

    @field_validator("enlarge_min_face_size")
    @classmethod
    def _enlarge(cls, v: int) -> int:
        if v and not 12 <= v <= 20:
            raise ValueError("must be 0 (never) or 12..20 (px; MTCNN's window is 12)")
        return v


class EmbeddingSettings(_Section):
    batch_size: int = Field(32, ge=1, le=512)
    margin: float = Field(0.2, ge=0.0, le=1.0)
    weights: str = "pretrained"
    runtime: Literal["auto", "tensorflow", "tflite", "tflite-int8"] = "auto"
    gpu_batch_size: int = Field(128, ge=1, le=4096)


class TrainSettings(_Section):
    margin: float = Field(0.2, gt=0.0, le=2.0)
    patience: int = Field(3, ge=1)


class ClusteringSettings(_Section):
    person_distance: float = Field(0.75, gt=0.0, le=2.0)
    face_noise: float = Field(0.2, ge=0.0, le=2.0)
    small_face_noise: float = Field(1.0, ge=0.0, le=20.0)
    min_quality: float = Field(0.4, ge=0.0, le=1.0)
    weak_distance: float = Field(1.25, ge=0.0, le=2.0)
    weak_margin: float = Field(0.9, ge=0.0, le=1.0)
    copy_distance: float = Field(0.3, ge=0.0, le=2.0)
    copy_match: float = Field(0.9, ge=0.0, le=1.01)
    method: Literal["evidence", "hdbscan"] = "evidence"
    hdbscan_min_cluster_size: int = Field(2, ge=2, le=1000)
    suggest_distance: float = Field(0.85, gt=0.0, le=2.0)
    pool_growth: int = Field(32, ge=1)
    full_interval_hours: float = Field(24.0, ge=0.0)
    full_when_idle_max_faces: int = Field(5000, ge=0)


class IdentifySettings(_Section):
    max_distance: float = Field(1.0, gt=0.0, le=2.0)


DEFAULT_IGNORE = (".*", "*~", "*.part", "*.partial", "*.tmp", "*.temp", "*.crdownload",
                  "*.download", "*.swp", "*.swx", "~$*", "#*#")


class WatchSettings(_Section):
    settle_seconds: float = Field(2.0, ge=0.0, le=3600.0)
    rescan_interval: float = Field(900.0, ge=0.0)
    batch_photos: int = Field(32, ge=1, le=1024)
    max_attempts: int = Field(5, ge=1, le=100)
    retry_seconds: float = Field(30.0, ge=0.0)
    storage_retry_seconds: float = Field(5.0, gt=0.0, le=3600.0)
    lease_seconds: float = Field(600.0, ge=10.0, le=86400.0)
    ignore: tuple[str, ...] = DEFAULT_IGNORE


DEFAULT_WEB_LISTEN = "127.0.0.1:8750"  # `facefold serve` without --listen or web.listen


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` (`[v6]:PORT` for IPv6) → (host, port); raise ValueError."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"must be HOST:PORT such as {DEFAULT_WEB_LISTEN}, not {value!r}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"an IPv6 address is written [ADDRESS]:PORT, not {value!r}")
        host = host[1:-1]
    return host, int(port)


class WebSettings(_Section):
    listen: str = ""
    token: str = ""
    hosts: tuple[str, ...] = ()

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        if v:
            parse_listen(v)
        return v

    @field_validator("token")
    @classmethod
    def _token(cls, v: str) -> str:
        if v and (len(v) < 16 or not v.isascii() or not v.isprintable() or " " in v):
            raise ValueError("must be at least 16 printable ASCII characters without spaces")
        return v


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(_Section):
    """Validated, frozen settings. Paths are absolute once loaded through `load_settings`."""

    inbox: Path = Path("inbox")
    people: Path = Path("people")
    database: str = "sqlite:///state/facefold.db"
    database_busy_seconds: float = Field(30.0, ge=0.0, le=3600.0)
    follow_symlinks: bool = False
    state_dir: Path = Path("state")
    models_dir: Path = Path("~/.cache/facefold/models")
    decode: DecodeSettings = DecodeSettings()
    detection: DetectionSettings = DetectionSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    clustering: ClusteringSettings = ClusteringSettings()
    watch: WatchSettings = WatchSettings()
    identify: IdentifySettings = IdentifySettings()
    train: TrainSettings = TrainSettings()
    web: WebSettings = WebSettings()
    logging: LoggingSettings = LoggingSettings()
    source: Path | None = Field(None, exclude=True)

    @field_validator("database")
    @classmethod
    def _url(cls, v: str) -> str:
        if "://" not in v:
            raise ValueError("must be an SQLAlchemy URL such as sqlite:///state/facefold.db")
        return v

    def weights_file(self) -> Path:
        """The FaceNet weights in use: the pretrained file, or a fine-tuned one."""
        w = self.embedding.weights
        if w == "pretrained":
            return self.models_dir / "facenet_keras.h5"
        return Path(w)


def _resolve(base: Path, p: Path) -> Path:
    p = p.expanduser()
    return (p if p.is_absolute() else base / p).resolve()


def _resolve_db_url(base: Path, url: str) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        rest = url[len(prefix):]
        if rest and rest != ":memory:" and not rest.startswith("file:"):
            return prefix + str(_resolve(base, Path(rest)))
    return url


# Keys older versions knew that no longer do anything: accepted, with a warning, so an old
# config.yaml still starts.
# clustering keys of the rule before December 2026 (22 thresholds); its eight settings replace
# them (docs/people.md)
_REPLACED = "the clustering's rule changed; see docs/people.md for its settings"
RETIRED_KEYS = {
    ("clustering", "neighbours"): "new faces join by the clustering's own rule",
    ("clustering", "min_support"): "new faces join by the clustering's own rule",
    ("clustering", "min_cluster_size"): _REPLACED,
    ("clustering", "min_samples"): _REPLACED,
    ("clustering", "burst_distance"): _REPLACED,
    ("clustering", "burst_pixel_similarity"): _REPLACED,
    ("clustering", "burst_pixel_distance"): _REPLACED,
    ("clustering", "burst_share"): _REPLACED,
    ("clustering", "burst_max_distance"): _REPLACED,
    ("clustering", "copy_similarity"): _REPLACED,
    ("clustering", "copy_place"): _REPLACED,
    ("clustering", "found_distance"): _REPLACED,
    ("clustering", "pair_distance"): _REPLACED,
    ("clustering", "merge_z"): _REPLACED,
    ("clustering", "merge_distance"): _REPLACED,
    ("clustering", "attach_z"): _REPLACED,
    ("clustering", "max_distance"): _REPLACED,
    ("clustering", "attach_min_units"): _REPLACED,
    ("clustering", "small_min_quality"): _REPLACED,
    ("clustering", "attach_max_spread"): _REPLACED,
    ("clustering", "found_min_share"): _REPLACED,
    ("clustering", "suggest_z"): _REPLACED,
}


def _drop_retired(data: dict[str, Any], where: str) -> None:
    for (section, key), why in RETIRED_KEYS.items():
        part = data.get(section)
        if isinstance(part, dict) and key in part:
            part.pop(key)
            log.warning("%s: %s.%s is no longer used (%s); remove it", where, section, key, why)


def settings_from_mapping(data: Any, base: Path, source: Path | None = None) -> Settings:
    """Given parsed YAML and the folder paths are relative to, return Settings or raise ConfigError."""
    where = str(source) if source else "config"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{where}: the top level must be a mapping of keys to values"])
    _drop_retired(data, where)
    try:
        raw = Settings.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            errors.append(f"{where}: {key}: {err['msg']}")
        raise ConfigError(errors) from None
    paths_clash = []
    resolved = raw.model_copy(
        update={
            "inbox": _resolve(base, raw.inbox),
            "people": _resolve(base, raw.people),
            "state_dir": _resolve(base, raw.state_dir),
            "models_dir": _resolve(base, raw.models_dir),
            "database": _resolve_db_url(base, raw.database),
            "embedding": raw.embedding if raw.embedding.weights == "pretrained" else
            raw.embedding.model_copy(update={"weights": str(_resolve(base, Path(raw.embedding.weights)))}),
            "source": source,
        }
    )
    inbox, people = resolved.inbox, resolved.people
    if people == inbox or people.is_relative_to(inbox):
        paths_clash.append(f"{where}: people: must not be the inbox or inside it ({people})")
    if inbox.is_relative_to(people):
        paths_clash.append(f"{where}: inbox: must not be inside the people folder ({inbox}): "
                           "a person's folder could then be one of your photo folders")
    if resolved.state_dir == people or resolved.state_dir.is_relative_to(people):
        paths_clash.append(f"{where}: state_dir: must not be inside the people folder")
    if resolved.state_dir.is_relative_to(inbox):
        paths_clash.append(f"{where}: state_dir: must not be inside the inbox ({inbox}): its "
                           "thumbnails would be taken for photos")
    if paths_clash:
        raise ConfigError(paths_clash)
    return resolved


def load_settings(path: Path | None = None) -> Settings:
    """Read the config file (default ./config.yaml; defaults alone when that does not exist)."""
    explicit = path is not None
    path = (path or Path(DEFAULT_CONFIG_NAME)).expanduser().resolve()
    if not path.exists():
        if explicit:
            raise ConfigError([f"{path}: no such config file"])
        return settings_from_mapping({}, path.parent, None)
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot be read: {exc}"]) from None
    return settings_from_mapping(data, path.parent, path)
