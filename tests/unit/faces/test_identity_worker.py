"""The identity encoder in a child process: the same embeddings as in this one, from a region of
the frame around the face; errors that say what happened when the child is gone."""

import threading

import numpy as np
import pytest

pytest.importorskip("dlib", reason="dlib (pip install dlib-bin) is not installed")

from doppel.errors import DoppelError  # noqa: E402
from doppel.faces.identity import box_from_landmarks  # noqa: E402
from doppel.faces.identity_worker import IdentityWorker, face_region  # noqa: E402


@pytest.fixture(scope="module")
def worker(encoder):
    with IdentityWorker() as worker:
        yield worker


@pytest.fixture(scope="module")
def frame():
    """A synthetic actor off-centre in a 640x360 frame, so the region is a true part of it."""
    from doppel.synth import neutral_performance, random_actor, random_scene, render

    picture = next(render(random_actor(7), neutral_performance(1, 5.0), random_scene(7), 256))
    rgb = np.zeros((360, 640, 3), np.uint8)
    rgb[60:316, 300:556] = picture.rgb
    return rgb, picture.landmarks + (300, 60)


def test_the_child_embeds_as_this_process_does(encoder, worker, frame):
    rgb, landmarks = frame
    here = encoder.embed(rgb, landmarks)
    there = worker.embed(rgb, landmarks)
    np.testing.assert_allclose(there, here, atol=1e-6)
    # ... also given a box, and finding the face itself (HOG) in the whole frame
    box = box_from_landmarks(landmarks)
    np.testing.assert_allclose(worker.embed(rgb, box), encoder.embed(rgb, box), atol=1e-6)
    found = worker.embed(rgb)
    assert found is not None and np.linalg.norm(found - encoder.embed(rgb)) < 1e-5


def test_only_the_region_around_the_face_travels(frame):
    rgb, landmarks = frame
    region, moved = face_region(rgb, landmarks)
    assert region.shape[0] * region.shape[1] < rgb.shape[0] * rgb.shape[1]
    x0, y0 = (landmarks - moved)[0]
    np.testing.assert_array_equal(region, rgb[int(y0):int(y0) + region.shape[0],
                                              int(x0):int(x0) + region.shape[1]])
    whole, same = face_region(rgb, None)
    assert whole.shape == rgb.shape and same is None


def test_submissions_from_several_threads_come_back_to_their_senders(worker, frame):
    rgb, landmarks = frame
    blank = np.full((200, 200, 3), 128, np.uint8)
    results: dict[str, object] = {}

    def ask(name, picture, where):
        results[name] = worker.submit(picture, where).result(timeout=60)

    threads = [threading.Thread(target=ask, args=("face", rgb, landmarks)),
               threading.Thread(target=ask, args=("blank", blank, None))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["blank"] is None  # no face found in a grey square
    assert results["face"] is not None


def test_a_failed_embedding_is_reported_and_the_child_goes_on(worker, frame):
    with pytest.raises(DoppelError, match="identity embedding failed: ValueError"):
        worker.embed(np.zeros((64, 64), np.uint8))  # grey: the child's encoder refuses it
    rgb, landmarks = frame
    assert worker.embed(rgb, landmarks) is not None


def test_a_dead_child_is_a_one_line_error(encoder, frame):
    rgb, landmarks = frame
    worker = IdentityWorker()
    worker._child.kill()
    worker._child.wait()
    with pytest.raises(DoppelError, match="identity worker process stopped"):
        worker.embed(rgb, landmarks)
    worker.close()


def test_missing_model_files_say_what_to_do(tmp_path):
    with pytest.raises(DoppelError, match="face_recognition_models"):
        IdentityWorker(models=tmp_path)


def test_messages_carry_arrays_without_pickle():
    import io
    import json
    import struct

    from doppel.faces.identity_worker import receive, send

    pipe = io.BytesIO()
    region = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    where = np.array([[1.5, 2.5], [3.0, 4.0]])
    send(pipe, {"kind": "ok"}, {"region": region, "where": where, "none": None})
    pipe.seek(0)
    header, arrays = receive(pipe)
    assert header["kind"] == "ok" and set(arrays) == {"region", "where"}
    np.testing.assert_array_equal(arrays["region"], region)
    np.testing.assert_array_equal(arrays["where"], where)
    with pytest.raises(EOFError):
        receive(pipe)
    # only plain numbers: a header naming another type is refused, never interpreted
    text = json.dumps({"arrays": [["x", "object", [1]]]}).encode()
    with pytest.raises(ValueError, match="unexpected array type"):
        receive(io.BytesIO(struct.pack("<I", len(text)) + text + b"\0" * 8))
