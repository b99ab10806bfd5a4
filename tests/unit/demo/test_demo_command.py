"""`doppel demo`'s refusals: said in one line, before any work."""

import pytest

from doppel.demo import DemoConfig, run
from doppel.errors import DoppelError
from doppel.runtime import Runtime


def test_an_unusable_output_folder_is_refused(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    with pytest.raises(DoppelError, match="is a file"):
        run(DemoConfig(output=afile), Runtime(progress=False))
    assert afile.read_text() == "keep me"
    with pytest.raises(DoppelError, match="cannot create the folder"):
        run(DemoConfig(output=afile / "below"), Runtime(progress=False))
    with pytest.raises(DoppelError, match="minutes"):
        DemoConfig(minutes=0)
