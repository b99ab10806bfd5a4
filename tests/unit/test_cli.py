"""The command line: generated options, one-line errors, exit codes, Ctrl-C, full disk."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from fractions import Fraction

import pytest

from doppel import __version__
from doppel.cli import _commands, main
from doppel.media import probe
from doppel.media.testclip import make_test_clip


def doppel(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CONFIG_HOME": kw.pop("config_home", "/nonexistent")}
    return subprocess.run([sys.executable, "-m", "doppel", *args], capture_output=True,
                          text=True, env=env, **kw)


def test_version_and_help_for_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"doppel {__version__}"
    for command in _commands():
        with pytest.raises(SystemExit) as exit_info:
            main([command.name, "--help"])
        text = capsys.readouterr().out
        assert exit_info.value.code == 0
        assert "--device" in text and "--threads" in text  # global options work after it too
    with pytest.raises(SystemExit):
        main(["cut", "--help"])
    text = capsys.readouterr().out
    for option in ("--start", "--end", "--crf", "--preset", "-o"):
        assert option in text  # generated from CutConfig and the nested WriterConfig


def test_user_error_is_one_line_exit_2_without_traceback(tmp_path):
    result = doppel("probe", str(tmp_path / "missing.mp4"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"doppel: error: no such file or directory: {tmp_path / 'missing.mp4'}"]
    verbose = doppel("-v", "probe", str(tmp_path / "missing.mp4"))
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr


def test_bad_option_value_is_a_one_line_error(clip, tmp_path):
    result = doppel("cut", str(clip), "-o", str(tmp_path / "o.mp4"), "--crf", "99")
    assert result.returncode == 2
    assert result.stderr.strip() == "doppel: error: --crf=99 is out of range [0, 51]"


def test_probe_json(clip):
    result = doppel("probe", "--json", str(clip))
    facts = json.loads(result.stdout)
    assert facts["fps"] == "30" and facts["frame_count"] == 90 and facts["has_audio"] is True


def test_cut_with_settings_file_and_global_options_after_command(clip, tmp_path):
    settings = tmp_path / "doppel" / "config.toml"
    settings.parent.mkdir()
    settings.write_text('[cut]\npreset = "ultrafast"\nstart = 1.0\n')
    out = tmp_path / "part.mp4"
    result = doppel("cut", str(clip), "-o", str(out), "--end", "2", "--threads", "1", "-q",
                    config_home=str(tmp_path))
    assert result.returncode == 0, result.stderr
    info = probe(out)
    assert info.frame_count == 30 and info.has_audio  # start=1.0 came from the settings file


@pytest.mark.slow
def test_ctrl_c_exits_130_and_leaves_no_file(tmp_path):
    source = make_test_clip(tmp_path / "long.mp4", seconds=20.0, size=(640, 360),
                            fps=Fraction(30), flashes=())
    out = tmp_path / "out.mp4"
    # A shell that started this run in the background may have set SIGINT to "ignore", which
    # children inherit and Python then respects: give the child the default, as a terminal does.
    process = subprocess.Popen(
        [sys.executable, "-m", "doppel", "cut", str(source), "-o", str(out), "--preset", "slow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well into the encode
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == "doppel: interrupted; unfinished outputs were removed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]


def test_full_disk_is_a_one_line_error_and_leaves_no_file(clip, tmp_path):
    # A file-size limit makes writes fail like a full disk does, without needing a tiny disk.
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    out = tmp_path / "big.mp4"
    result = subprocess.run([sys.executable, "-m", "doppel", "cut", str(clip), "-o", str(out),
                             "--crf", "0"], capture_output=True, text=True, preexec_fn=limit)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "write it elsewhere" in result.stderr or "disk full" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_really_full_disk_when_a_tiny_tmpfs_can_be_mounted(clip, tmp_path):
    disk = tmp_path / "tiny"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a tmpfs here (needs root); the RLIMIT test covers the path")
    try:
        result = doppel("cut", str(clip), "-o", str(disk / "o.mp4"), "--crf", "0")
        assert result.returncode == 2
        assert result.stderr.strip() == (f"doppel: error: disk full while writing {disk / 'o.mp4'}"
                                          ": free some space and run again")
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_bench_suite_choice_is_checked(tmp_path):
    result = doppel("bench", "no-such-suite", "-o", str(tmp_path))
    assert result.returncode == 2
    assert "'no-such-suite' is not one of media-io" in result.stderr


def test_the_command_line_loads_without_torch():
    # torch's import costs ~2.3 s here; commands that never need it (swap on the CPU, verify,
    # probe) must not pay for it because another command's module imports it at the top.
    import subprocess
    import sys

    code = "import sys; from doppel import cli; cli._commands(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
