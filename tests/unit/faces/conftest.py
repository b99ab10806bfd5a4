"""Shared fixtures of the faces tests."""

import pytest

from doppel.errors import DoppelError


@pytest.fixture(scope="session")
def encoder():
    """dlib's identity encoder; the tests that need it skip where dlib or its models are
    missing."""
    pytest.importorskip("dlib", reason="dlib (pip install dlib-bin) is not installed")
    from doppel.faces.identity import IdentityEncoder

    try:
        return IdentityEncoder()
    except DoppelError as error:
        pytest.skip(f"dlib face models missing: {error}")
