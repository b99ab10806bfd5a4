import pytest

from doppel.errors import DoppelError
from doppel.registry import Registry


def test_register_and_get_by_name_or_object():
    blends = Registry[object]("blend")

    @blends.register("feather")
    def feather():
        return "f"

    assert blends.get("feather") is feather
    assert blends.get(feather) is feather  # an object passes through
    assert blends.names() == ["feather"]
    assert "feather" in blends


def test_duplicate_name_raises():
    models = Registry[object]("model")
    models.register("original")(object())
    with pytest.raises(ValueError, match="already registered"):
        models.register("original")(object())


def test_unknown_name_is_a_user_error_listing_choices():
    models = Registry[object]("model")
    models.register("a")(1)
    models.register("b")(2)
    with pytest.raises(DoppelError, match="choose one of a, b"):
        models.get("c")
