import pytest

from mmgan.config import Config, ConfigError


def test_yaml_round_trip(tmp_path):
    cfg = Config().override(["model.family=mlp", "steps=123", "condition=[text,audio]", "loss.r1_gamma=0.5"])
    cfg.save(tmp_path / "c.yaml")
    back = Config.load(tmp_path / "c.yaml")
    assert back.to_dict() == cfg.to_dict()
    assert back.model.condition == ["text", "audio"]
    assert back.train.steps == 123


def test_bare_and_dotted_keys():
    cfg = Config().override(["family=mlp", "train.lr_g=0.001", "ema=0", "extra.d_norm=none"])
    assert cfg.model.family == "mlp" and cfg.train.lr_g == 0.001 and cfg.train.ema == 0.0
    assert cfg.model.extra["d_norm"] == "none"


def test_scientific_notation_numbers():
    cfg = Config().override(["lr_g=1e-3", "train.lr_d=2E-4", "steps=1e3"])
    assert cfg.train.lr_g == 0.001 and cfg.train.lr_d == 0.0002 and cfg.train.steps == 1000


def test_unknown_key_lists_valid():
    with pytest.raises(ConfigError, match="valid keys"):
        Config().override(["nosuchkey=1"])
    with pytest.raises(ConfigError, match="valid model keys"):
        Config().override(["model.nosuch=1"])


def test_ambiguous_key(monkeypatch):
    # "resolution" exists in data and model: a bare key must be refused, naming both
    with pytest.raises(ConfigError, match="data.resolution.*model.resolution"):
        Config().override(["resolution=32"])


@pytest.mark.parametrize("bad", ["steps=abc", "steps=1.5", "ema=yes", "spectral_norm=3"])
def test_type_errors(bad):
    with pytest.raises(ConfigError):
        Config().override([bad])


def test_negative_intervals_are_refused():
    with pytest.raises(ConfigError, match="train.ckpt_every is an interval.*-5"):
        Config().override(["train.ckpt_every=-5"])
    assert Config().override(["train.sample_every=0"]).train.sample_every == 0


def test_yaml_errors(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Config.load(p)
    p.write_text("nosection: {a: 1}\n")
    with pytest.raises(ConfigError, match="unknown section"):
        Config.load(p)
    with pytest.raises(ConfigError, match="not found"):
        Config.load(tmp_path / "missing.yaml")


def test_bf16_switch_has_an_auto_position(tmp_path):
    assert Config().train.bf16 == "auto"
    for given, want in (("true", True), ("false", False), ("auto", "auto"), ("True", True)):
        assert Config().override([f"train.bf16={given}"]).train.bf16 == want
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  bf16: true\n")
    assert Config.load(p).train.bf16 is True
    with pytest.raises(ConfigError, match="train.bf16 must be true, false or auto"):
        Config().override(["train.bf16=maybe"])


def test_compile_switch_takes_auto_and_torch_modes():
    assert Config().train.compile == "auto"
    for given, want in (("true", True), ("false", False), ("reduce-overhead", "reduce-overhead"), ("default", "default")):
        assert Config().override([f"train.compile={given}"]).train.compile == want
    with pytest.raises(ConfigError, match="train.compile must be true, false or auto or a torch.compile mode"):
        Config().override(["train.compile=turbo"])
