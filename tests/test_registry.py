import pytest

from mmgan import registry


@pytest.mark.parametrize("kind", ["model", "loss", "augment", "phases"])
def test_unknown_name_lists_valid(kind):
    with pytest.raises(registry.UnknownNameError) as e:
        registry.get(kind, "no-such-thing")
    msg = str(e.value)
    assert "no-such-thing" in msg
    for name in registry.names(kind):
        assert name in msg


def test_builtin_names_present():
    assert {"mlp", "dcgan"} <= set(registry.names("model"))
    assert {"ns", "hinge", "wgan-gp", "lsgan"} <= set(registry.names("loss"))
    assert {"translation", "color", "cutout"} <= set(registry.names("augment"))


def test_names_are_lowercase():
    with pytest.raises(ValueError):
        registry.register("model", "BadName")


def test_unregister_removes_a_part_and_refuses_an_unknown_one():
    registry.register("model", "tmp-plugin")(lambda cfg: None)
    assert "tmp-plugin" in registry.names("model")
    registry.unregister("model", "tmp-plugin")
    assert "tmp-plugin" not in registry.names("model")
    with pytest.raises(registry.UnknownNameError, match="tmp-plugin"):
        registry.unregister("model", "tmp-plugin")
