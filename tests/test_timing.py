import time

from facefold.timing import Stopwatch


def test_stages_add_up_in_first_run_order() -> None:
    a = Stopwatch()
    with a.stage("decode"):
        time.sleep(0.01)
    with a.stage("detect"):
        pass
    with a.stage("decode"):
        time.sleep(0.01)
    b = Stopwatch()
    with b.stage("embed"):
        pass
    a.add(b)
    assert list(a.seconds) == ["decode", "detect", "embed"]
    assert a.seconds["decode"] >= 0.02 > a.seconds["detect"]
    assert a.summary().startswith("decode 0.0")


def test_a_failing_stage_is_still_timed() -> None:
    sw = Stopwatch()
    try:
        with sw.stage("read"):
            raise OSError("gone")
    except OSError:
        pass
    assert "read" in sw.seconds
