"""Choosing each model's runtime from the configured one and the GPUs the driver lists."""

from pathlib import Path

from facefold.vision.device import choose_runtimes, visible_gpus


def _driver(root: Path, *models: str) -> Path:
    for i, model in enumerate(models):
        d = root / f"0000:0{i}:00.0"
        d.mkdir(parents=True)
        (d / "information").write_text(f"Model: \t\t {model}\nIRQ:   \t\t 42\nBus Type: \t PCIe\n")
    return root


def test_gpus_are_read_from_the_driver_without_tensorflow(tmp_path: Path) -> None:
    assert visible_gpus(tmp_path / "no-driver") == []
    root = _driver(tmp_path / "gpus", "NVIDIA GeForce RTX 3060", "Tesla T4")
    assert visible_gpus(root) == ["NVIDIA GeForce RTX 3060", "Tesla T4"]


def test_auto_takes_tensorflow_on_a_gpu_and_litert_on_the_cpu() -> None:
    cpu = choose_runtimes("auto", "auto", [])
    assert (cpu.detection, cpu.embedding) == ("tflite", "tflite-int8")
    assert cpu.describe() == ("detection tflite (LiteRT on CPU), "
                              "embedding tflite-int8 (LiteRT on CPU)")
    gpu = choose_runtimes("auto", "auto", ["Tesla T4"])
    assert (gpu.detection, gpu.embedding) == ("tensorflow", "tensorflow")
    assert "embedding tensorflow (TensorFlow on GPU (Tesla T4))" in gpu.describe()
    # an explicit choice is kept, GPU or not
    fixed = choose_runtimes("tflite", "tflite", ["Tesla T4"])
    assert (fixed.detection, fixed.embedding) == ("tflite", "tflite")
    assert choose_runtimes("tensorflow", "auto", []).describe().startswith(
        "detection tensorflow (TensorFlow on CPU)")


def test_a_gpu_gets_larger_embedding_batches(tmp_path: Path) -> None:
    from facefold.config import load_settings
    from facefold.core.library import embed_batch
    from tests.helpers.data import REPO

    s = load_settings(REPO / "config.yaml")
    assert embed_batch(s, choose_runtimes("auto", "auto", [])) == s.embedding.batch_size
    assert embed_batch(s, choose_runtimes("auto", "auto", ["Tesla T4"])) == \
        s.embedding.gpu_batch_size > s.embedding.batch_size


def test_auto_keeps_a_runtime_only_for_the_models_it_chose() -> None:
    rt = choose_runtimes("auto", "tensorflow", ["Tesla T4"])
    assert rt.cpu_fallback("detection") == "tflite"
    assert rt.cpu_fallback("embedding") is None  # chosen by the user: kept whatever happens
    assert choose_runtimes("auto", "auto", []).cpu_fallback("embedding") is None
