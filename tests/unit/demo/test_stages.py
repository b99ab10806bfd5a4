"""The demo's stage cache: what is reused, what is redone, and what an interruption leaves."""

import pytest

from doppel.demo.stages import STAGES_FILE, Stages


def pipeline(folder, calls, first=1, second=1, fresh=False):
    """Two stages, the second after the first; each writes its output file."""
    stages = Stages(folder, total=2, fresh=fresh, say=lambda line: None)

    def work(name, value):
        def run():
            calls.append(name)
            (folder / f"{name}.txt").write_text(str(value))
            return {"value": value}
        return run

    one = stages.run("one", "first", {"value": first}, (folder / "one.txt",),
                     work("one", first))
    two = stages.run("two", "second", {"value": second}, (folder / "two.txt",),
                     work("two", second))
    return stages, one, two


def test_a_rerun_with_the_same_settings_reuses_every_stage(tmp_path):
    calls = []
    pipeline(tmp_path, calls)
    stages, one, two = pipeline(tmp_path, calls)
    assert calls == ["one", "two"]
    assert one == {"value": 1} and two == {"value": 1}
    assert [t.reused for t in stages.times] == [True, True]


def test_a_changed_stage_redoes_itself_and_every_stage_after_it(tmp_path):
    calls = []
    pipeline(tmp_path, calls)
    pipeline(tmp_path, calls, first=2)  # the second's settings are unchanged: redone anyway
    assert calls == ["one", "two", "one", "two"]
    pipeline(tmp_path, calls, first=2, second=3)
    assert calls[4:] == ["two"]


def test_fresh_redoes_all_and_a_missing_output_redoes_its_stage(tmp_path):
    calls = []
    pipeline(tmp_path, calls)
    pipeline(tmp_path, calls, fresh=True)
    assert calls == ["one", "two"] * 2
    (tmp_path / "two.txt").unlink()
    pipeline(tmp_path, calls)
    assert calls[4:] == ["two"]
    (tmp_path / "one.txt").unlink()
    pipeline(tmp_path, calls)  # a redone stage is a new run: what came after it is redone
    assert calls[5:] == ["one", "two"]


def test_an_interrupted_stage_is_redone_and_its_old_outputs_removed(tmp_path):
    calls = []
    pipeline(tmp_path, calls)
    stages = Stages(tmp_path, total=2, say=lambda line: None)
    seen = []

    def interrupted():
        seen.append((tmp_path / "one.txt").exists())
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stages.run("one", "first", {"value": 5}, (tmp_path / "one.txt",), interrupted)
    assert seen == [False]  # the stale output was gone before the stage started
    assert "one" not in (tmp_path / STAGES_FILE).read_text()
    pipeline(tmp_path, calls)  # the record is gone: redone, and so is every stage after it
    assert calls[2:] == ["one", "two"]
