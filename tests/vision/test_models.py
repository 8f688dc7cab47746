"""The real MTCNN and FaceNet on real photos."""

from pathlib import Path

import numpy as np
import pytest

from facefold.vision.decode import decode_image
from facefold.vision.embed import Embedder
from facefold.vision.faces import find_faces
from facefold.vision.weights import WeightsError, load_facenet_weights
from tests.helpers.data import PEOPLE, REPO, photos_of

pytestmark = pytest.mark.models


def _embed_people(models: object, root: Path, n: int) -> tuple[np.ndarray, list[str]]:
    crops, labels = [], []
    for person in PEOPLE:
        for p in photos_of(root, person)[:n]:
            faces = find_faces(models.finder, decode_image(p.read_bytes(), 10**8), 0.2)
            if faces:
                best = max(faces, key=lambda f: f.detection.box[2] * f.detection.box[3])
                crops.append(best.crop)
                labels.append(person)
    return models.embedder.embed(np.stack(crops)), labels


def test_same_person_close_different_people_far(models: object, celebrities: Path) -> None:
    v, labels = _embed_people(models, celebrities, 5)
    assert v.shape[1] == 128 and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    lab = np.array(labels)
    d = np.linalg.norm(v[:, None] - v[None], axis=-1)
    iu = np.triu_indices(len(v), 1)
    same = (lab[:, None] == lab[None])[iu]
    assert d[iu][same].mean() < 1.0 < d[iu][~same].mean()
    # each face's nearest other face is of the same person for nearly all faces
    np.fill_diagonal(d, np.inf)
    assert (lab[d.argmin(1)] == lab).mean() >= 0.9


def test_batching_does_not_change_vectors(models: object, celebrities: Path) -> None:
    crops = []
    for p in photos_of(celebrities, "madonna")[:3]:
        crops += [f.crop for f in find_faces(models.finder, decode_image(p.read_bytes(), 10**8), 0.2)]
    # more than a full batch: the fixed-shape graph for 32, the free-shape one for the rest
    crops = (crops * 40)[:35]
    batch = models.embedder.embed(np.stack(crops))
    one = np.concatenate([models.embedder.embed(c[None]) for c in crops])
    np.testing.assert_allclose(batch, one, atol=1e-4)
    np.testing.assert_array_equal(models.embedder.embed(crops), batch)  # a list works as well
    assert models.embedder.embed([]).shape == (0, 128)


def test_detector_finds_faces_with_landmarks(models: object, celebrities: Path) -> None:
    p = photos_of(celebrities, "ben_afflek")[0]
    pixels = decode_image(p.read_bytes(), 10**8)
    faces = find_faces(models.finder, pixels, 0.2)
    assert len(faces) >= 1
    d = faces[0].detection
    x, y, w, h = d.box
    assert 0 <= x < pixels.shape[1] and 0 <= y < pixels.shape[0] and w > 20 and h > 20
    # eyes above the mouth, inside the box
    assert d.landmarks[0, 1] < d.landmarks[3, 1] and x <= d.landmarks[0, 0] <= x + w
    assert faces[0].crop.shape == (160, 160, 3)


@pytest.fixture(scope="module")
def package_mtcnn(celebrities: Path) -> list[tuple[np.ndarray, dict[str, float], list[dict]]]:
    """Every 5-celebrity photo (as the detector sees it), each with the `mtcnn` package's own
    eager answer at the default stage thresholds and at the second look's lenient ones."""
    from mtcnn import MTCNN

    from facefold.vision.detect import downscale
    from facefold.vision.runtime import import_tensorflow

    import_tensorflow()
    eager = MTCNN(device="CPU:0")
    cases = []
    for p in sorted(celebrities.rglob("*.jpg")):
        pixels = downscale(decode_image(p.read_bytes(), 10**8), 1024)[0]
        for stages in ({}, {"threshold_pnet": 0.5, "threshold_rnet": 0.5}):
            cases.append((pixels, stages, eager.detect_faces(pixels, min_face_size=20, **stages)))
    return cases


@pytest.mark.parametrize("runtime", ["tflite", "tensorflow"])
def test_both_mtcnn_runtimes_give_what_the_mtcnn_package_gives(
        runtime: str, models: object, weights_dir: Path,
        package_mtcnn: list[tuple[np.ndarray, dict[str, float], list[dict]]]) -> None:
    """The LiteRT networks with the NumPy pipeline, and the package's networks traced as graphs:
    the same faces, boxes and landmarks (whole pixels, as the package rounds them) and
    confidences on every 5-celebrity photo."""
    from facefold.vision.detect import FaceDetector

    finder = models.finder if runtime == "tflite" else FaceDetector(runtime="tensorflow")
    assert finder.runtime == runtime
    finder.load()
    faces = 0
    for pixels, stages, want in package_mtcnn:
        got = finder._mtcnn.detect_faces(pixels, min_face_size=20, **stages)
        assert len(got) == len(want)
        faces += len(got)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a["box"], b["box"], atol=1)  # a .5 may round either way
            assert a["confidence"] == pytest.approx(b["confidence"], abs=1e-4)
            for k in a["keypoints"]:
                np.testing.assert_allclose(a["keypoints"][k], b["keypoints"][k], atol=1)
    assert len(package_mtcnn) >= 200 and faces >= len(package_mtcnn)


def test_detection_and_embedding_on_litert_never_import_tensorflow(weights_dir: Path,
                                                                    celebrities: Path) -> None:
    """With both runtimes on LiteRT and their conversions cached, a process that loads the models
    and finds and embeds faces never imports TensorFlow (start-up time and memory)."""
    import subprocess
    import sys

    photo = photos_of(celebrities, "madonna")[0]
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from facefold.config import load_settings\n"
        "from facefold.core import Models\n"
        "from facefold.vision.decode import decode_image\n"
        "from facefold.vision.faces import find_faces\n"
        f"s = load_settings(Path({str(REPO / 'config.yaml')!r}))\n"
        "assert s.detection.runtime == s.embedding.runtime == 'auto'\n"
        f"s = s.model_copy(update={{'models_dir': Path({str(weights_dir)!r})}})\n"
        "m = Models.from_settings(s)\n"
        f"faces = find_faces(m.finder, decode_image(Path({str(photo)!r}).read_bytes(), 10**8), 0.2)\n"
        "print(len(faces), m.embedder.embed([f.crop for f in faces]).shape,"
        " 'tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, *_, imported = out.stdout.split()
    assert int(count) >= 1 and imported == "False", out.stdout + out.stderr


def test_large_photo_is_detected_on_a_downscaled_copy(models: object, celebrities: Path) -> None:
    import cv2

    p = photos_of(celebrities, "elton_john")[1]
    small = decode_image(p.read_bytes(), 10**8)
    big = cv2.resize(small, (small.shape[1] * 8, small.shape[0] * 8), interpolation=cv2.INTER_CUBIC)
    f_small = find_faces(models.finder, small, 0.2)
    f_big = find_faces(models.finder, big, 0.2)
    assert len(f_big) == len(f_small) >= 1
    np.testing.assert_allclose(np.array(f_big[0].detection.box) / 8, f_small[0].detection.box,
                               rtol=0.15, atol=4)


def test_reduced_jpeg_decoding_finds_the_same_faces(models: object, celebrities: Path) -> None:
    """A 12 MP phone-sized JPEG decoded at half scale: boxes in full-size coordinates and vectors
    match a full decode."""
    import cv2

    from facefold.vision.decode import decode_photo

    p = photos_of(celebrities, "jerry_seinfeld", "val")[0]
    small = decode_image(p.read_bytes(), 10**8)
    k = 4000 / max(small.shape[:2])
    big = cv2.resize(small, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    data = cv2.imencode(".jpg", cv2.cvtColor(big, cv2.COLOR_RGB2BGR))[1].tobytes()
    full = decode_photo(data, 10**8, 0)
    reduced = decode_photo(data, 10**8, 1536)
    assert reduced.scale == 2.0 and reduced.full_size == full.full_size
    f_full = find_faces(models.finder, full.pixels, 0.2, full.scale)
    f_red = find_faces(models.finder, reduced.pixels, 0.2, reduced.scale)
    assert len(f_full) == len(f_red) >= 1
    for a, b in zip(f_full, f_red, strict=True):
        np.testing.assert_allclose(a.detection.box, b.detection.box, rtol=0.05, atol=8)
        np.testing.assert_allclose(a.detection.landmarks, b.detection.landmarks, atol=12)
    v = models.embedder.embed(np.stack([f.crop for f in f_full + f_red]))
    n = len(f_full)
    assert (np.linalg.norm(v[:n] - v[n:], axis=1) < 0.25).all()


def test_missing_or_corrupt_weights_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="facefold models fetch"):
        Embedder(tmp_path / "facenet_keras.h5").load()
    bad = tmp_path / "facenet_keras.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(WeightsError, match="facefold models fetch"):
        from facefold.vision.facenet import build_facenet  # imports TensorFlow

        load_facenet_weights(build_facenet(), bad)


def test_the_second_look_finds_faces_the_first_misses(models: object,
                                                      celebrities: Path) -> None:
    """Photos where MTCNN finds nothing (a face filling the frame, cut by its edge) get a second
    look with a border added: fewer photos without a face, and every face it adds is sure (or
    scored at least `confirm_min_confidence` and confirmed)."""
    from dataclasses import replace

    kept = models.finder.params
    missed = {False: 0, True: 0}
    for p in [p for person in PEOPLE for split in ("train", "val")
              for p in photos_of(celebrities, person, split)]:
        pixels = decode_image(p.read_bytes(), 10**8)
        try:
            models.finder.params = replace(kept, retry_pad=0.0, enlarge_min_face_size=0)
            first = models.finder.detect(pixels)
        finally:
            models.finder.params = kept
        if first:
            continue
        missed[False] += 1
        second = models.finder.detect(pixels)
        missed[True] += not second
        assert all(d.confidence >= min(kept.retry_min_confidence, kept.enlarge_min_confidence,
                                       kept.confirm_min_confidence) for d in second)
    print(f"photos without a face: {missed[False]} without the second look, {missed[True]} with")
    assert missed[False] >= 1 and missed[True] < missed[False]


def test_doubtful_faces_are_kept_when_a_second_look_confirms_them(models: object,
                                                                  celebrities: Path) -> None:
    """Small faces (22-40 px) pasted into large photos: MTCNN scores some of them just under its
    cut. Shown to ONet again in shifted and scaled boxes, they are confirmed and kept: fewer
    photos without a face, and every face this adds scored between the two cuts. (The face-free
    photos' test below runs with the confirmation on.)"""
    from dataclasses import replace

    from facefold.files import iter_photos
    from tests.helpers.data import data_cache_dir
    from tests.helpers.hardcases import hard_cases

    root = hard_cases(celebrities, data_cache_dir() / "hard-cases", models.finder)["small-faces"]
    kept = models.finder.params
    missed = {"without": 0, "with": 0}
    added = []
    for p in iter_photos([root], (".jpg",)):
        pixels = decode_image(p.read_bytes(), 10**8)
        try:
            models.finder.params = replace(kept, confirm_min_confidence=1.0)
            before = models.finder.detect(pixels)
        finally:
            models.finder.params = kept
        after = models.finder.detect(pixels)
        missed["without"] += not before
        missed["with"] += not after
        added += [d.confidence for d in after if d.confidence < kept.min_confidence]
    print(f"small faces: photos without a face {missed['without']} -> {missed['with']}; "
          f"faces confirmed {[round(c, 3) for c in added]}")
    assert missed["with"] < missed["without"]
    assert added and all(kept.confirm_min_confidence <= c < kept.min_confidence for c in added)


def test_few_false_faces_on_photos_of_nobody(models: object, celebrities: Path) -> None:
    """scikit-image's samples without people, generated patterns, and strips of the 5-celebrity
    photos beside the person: at most one false face per 100 photos (bench/detect.py)."""
    from facefold.files import iter_photos
    from tests.helpers.data import data_cache_dir
    from tests.helpers.facefree import face_free

    root = face_free(celebrities, data_cache_dir() / "face-free", models.finder)
    photos = list(iter_photos([root], (".png",)))
    false = sum(len(models.finder.detect(decode_image(p.read_bytes(), 10**8))) for p in photos)
    print(f"{false} false faces in {len(photos)} face-free photos")
    assert len(photos) >= 250 and false <= len(photos) / 100


@pytest.mark.parametrize("runtime", ["tflite", "tflite-int8"])
def test_tflite_runtimes_give_the_same_people_from_a_cached_conversion(
        models: object, celebrities: Path, weights_dir: Path, runtime: str) -> None:
    from facefold.vision.convert import converted_path

    crops, labels = [], []
    for person in PEOPLE:
        for p in photos_of(celebrities, person)[:4]:
            faces = find_faces(models.finder, decode_image(p.read_bytes(), 10**8), 0.2)
            crops += [f.crop for f in faces[:1]]
            labels += [person] * len(faces[:1])
    crops = (crops * 2)[:35]  # a full batch and a short one
    labels = (labels * 2)[:35]
    weights = weights_dir / "facenet_keras.h5"
    reference = Embedder(weights, runtime="tensorflow").embed(np.stack(crops))
    lite = Embedder(weights, runtime=runtime, cache_dir=weights_dir)
    v = lite.embed(np.stack(crops))
    worst = np.linalg.norm(v - reference, axis=1).max()
    assert worst < (1e-3 if runtime == "tflite" else 0.1), worst
    lab = np.array(labels)
    d = np.linalg.norm(v[:, None] - v[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert (lab[d.argmin(1)] == lab).all()
    assert lite.weights_id == models.embedder.weights_id  # same weights: no re-embedding
    path = converted_path(weights_dir, weights, runtime)
    made = path.stat().st_mtime_ns
    again = Embedder(weights, runtime=runtime, cache_dir=weights_dir)
    np.testing.assert_array_equal(again.embed(np.stack(crops)), v)
    assert path.stat().st_mtime_ns == made  # converted once, then read from the cache
    one = np.concatenate([again.embed(c[None]) for c in crops[:3]])
    np.testing.assert_allclose(one, v[:3], atol=1e-5)  # a face's vector is not its batch's


def test_a_gpu_tensorflow_cannot_use_falls_back_to_litert(weights_dir: Path, celebrities: Path,
                                                        models: object) -> None:
    """`auto` with a GPU listed by the driver picks TensorFlow; when TensorFlow then sees no GPU
    (as here: no CUDA), both models run on LiteRT instead, with a warning, and still work."""
    from facefold.vision.detect import FaceDetector
    from facefold.vision.device import choose_runtimes, tensorflow_sees_gpu

    assert not tensorflow_sees_gpu()
    rt = choose_runtimes("auto", "auto", ["Tesla T4"])
    finder = FaceDetector(models.finder.params, rt.detection, weights_dir,
                          rt.cpu_fallback("detection"))
    embedder = Embedder(weights_dir / "facenet_keras.h5", 128, rt.embedding, weights_dir,
                        rt.cpu_fallback("embedding"))
    faces = find_faces(finder, decode_image(photos_of(celebrities, "madonna")[0].read_bytes(),
                                            10**8), 0.2)
    v = embedder.embed([f.crop for f in faces])
    assert (finder.runtime, embedder.runtime) == ("tflite", "tflite-int8")
    assert len(faces) >= 1 and v.shape == (len(faces), 128)

