"""`doppel synth` end to end: labelled clips with speech in sync, truth, consent."""

from __future__ import annotations

import numpy as np
import pytest

from doppel.cli import main


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory):
    from doppel.errors import DoppelError
    from doppel.synth.raster import Renderer

    try:
        Renderer(16, 16).close()
    except DoppelError as error:
        pytest.skip(f"no OpenGL context: {error}")
    folder = tmp_path_factory.mktemp("synth")
    config = folder / "config"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(config))  # keys and ledger go here
        code = main(["--threads", "2", "synth", "--actors", "1", "--seconds", "3", "--size",
                     "256", "--preset", "ultrafast", "--seed", "4", "-o", str(folder / "out")])
    assert code == 0
    return folder / "out", config


@pytest.mark.slow
def test_clip_is_labelled_as_synthetic_with_its_consent(synth_folder):
    from doppel.media import probe
    from doppel.provenance import verify

    out, _ = synth_folder
    video = out / "actor-40000.mp4"
    info = probe(video)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (256, 256, 75, True)
    report = verify(video)
    assert report.verdict == "AI-generated (manifest + watermark)"
    assert report.manifest.kind == "synthetic" and report.manifest.source_type.endswith(
        "algorithmicMedia")
    truth = np.load(out / "actor-40000.truth.npz")
    assert report.manifest.consent_ids == (str(truth["consent_id"]),)
    assert '"kind":"synthetic"' in str(truth["consent"])
    assert truth["landmarks"].shape == (75, 478, 2)
    assert truth["face_mask"].shape == (75, 256, 256)
    assert not list(out.glob(".*"))  # the speech WAV and temp files are gone


@pytest.mark.slow
def test_speech_follows_the_mouth_in_the_written_file(synth_folder):
    import av

    from doppel.synth.audio import loudness_envelope

    out, _ = synth_folder
    with av.open(str(out / "actor-40000.mp4")) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        samples = np.concatenate([frame.to_ndarray().mean(axis=0)
                                  for frame in container.decode(stream)])
    truth = np.load(out / "actor-40000.truth.npz")
    jaw = truth["performance_jaw_open"]
    envelope = loudness_envelope(samples.astype(np.float32), rate, 25.0)[: len(jaw)]
    jaw = jaw[: len(envelope)]

    def correlation(lag: int) -> float:
        a, b = (envelope[lag:], jaw[: len(jaw) - lag]) if lag >= 0 else \
            (envelope[:lag], jaw[-lag:])
        return float(np.corrcoef(a, b)[0, 1])

    lags = range(-3, 4)
    best = max(lags, key=correlation)
    assert abs(best) <= 1 and correlation(best) > 0.7


@pytest.mark.slow
def test_contact_sheet_with_and_without_the_visible_label(tmp_path, monkeypatch):
    from doppel.media import read_image
    from doppel.provenance import verify

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for flag, name in (([], "labelled"), (["--no-visible-label"], "plain")):
        assert main(["synth", "--contact-sheet", "2", "--size", "128", *flag,
                     "-o", str(tmp_path / name)]) == 0
    labelled = read_image(tmp_path / "labelled" / "contact-sheet.png")
    plain = read_image(tmp_path / "plain" / "contact-sheet.png")
    corner = (slice(-12, None), slice(-40, None))
    assert np.abs(labelled[corner].astype(int) - plain[corner]).mean() > 20
    # the watermark and the manifest stay without the visible label
    assert verify(tmp_path / "plain" / "contact-sheet.png").verdict == \
        "AI-generated (manifest + watermark)"


@pytest.mark.parametrize("args, message", [
    (["-o", "/proc/doppel-cannot-be-here"], "cannot create the folder"),
    (["--size", "10", "-o", "x"], "--size=10 is out of range"),
])
def test_bad_synth_arguments_are_one_line_errors(args, message, capsys):
    assert main(["synth", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
