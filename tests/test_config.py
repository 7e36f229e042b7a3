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


# ---- model.extra: checked against the family's declared options (mmgan.model_options) -------------------
def _dry(tmp_path, *overrides, data="ring8"):
    from mmgan.api import train

    lines: list[str] = []
    train(data=data, overrides=["data.n=64", *overrides], out=tmp_path / "run", dry_run=True, log=lines.append)
    return "\n".join(lines)


def test_dry_run_refuses_unknown_extra_key_naming_family_and_valid_keys(tmp_path):
    with pytest.raises(ConfigError) as e:
        _dry(tmp_path, "model.family=stackgan", "model.extra.stagse=3")
    msg = str(e.value)
    assert "model.extra.stagse" in msg and "'stackgan'" in msg and "did you mean 'stages'" in msg
    assert "ca_dim" in msg and "kl_weight" in msg and "joint_dim" in msg      # the valid keys are listed
    assert not (tmp_path / "run").exists()                                     # refused before anything is written


def test_dry_run_refuses_wrong_extra_type(tmp_path):
    with pytest.raises(ConfigError, match=r"model.extra.d_fourier must be an integer \(int\), got 'many'"):
        _dry(tmp_path, "model.family=mlp", "model.extra.d_fourier=many")


def test_cli_dry_run_reports_extra_errors(tmp_path, capsys):
    from mmgan.cli import main

    assert main(["train", "--data", "ring8", "--set", "family=mlp", "--set", "model.extra.g_outt=linear",
                 "--out", str(tmp_path / "r"), "--dry-run"]) == 1
    assert "did you mean 'g_out'" in capsys.readouterr().err


def test_dry_run_prints_the_family_options(tmp_path):
    out = _dry(tmp_path, "model.family=mlp", "model.extra.g_out=linear", "loss.r1_gamma=0.1")
    assert out.index("resolved config") < out.index("model.extra options of mlp")
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ")}
    assert rows["g_out"][1:4] == ["str:", "tanh|linear", "tanh"] and rows["g_out"][4:6] == ["linear", "*"]
    assert rows["g_norm"][3] == "bn" and "generator normalization" in " ".join(rows["g_norm"])
    assert rows["data_scale"][3:5] == ["1.0", "*"]          # written by resolution (linear output)
    assert rows["d_norm"][1:6] == ["str:", "auto|bn|none", "auto", "none", "*"]   # written by resolution (R1)
    assert "joint_dim" in rows and "critic_fourier" in rows
    saved = Config.load(tmp_path / "run" / "config.dry-run.yaml")
    assert saved.model.extra == {"g_out": "linear", "data_scale": 1.0, "d_norm": "none"}   # no defaults filled in


def test_resume_keeps_saved_unknown_keys_but_checks_new_ones(tmp_path):
    import json

    from mmgan.api import train
    from mmgan.training import latest_checkpoint

    fast = ["data.n=64", "family=mlp", "model.z_dim=4", "model.g_hidden=[8]", "model.d_hidden=[8]",
            "train.batch_size=8", "train.progress=false", "train.tensorboard=false", "train.sample_every=0"]
    run = tmp_path / "run"
    train(data="ring8", overrides=fast, out=run, steps=1, log=lambda m: None)
    meta = latest_checkpoint(run) / "meta.json"
    d = json.loads(meta.read_text())
    d["config"]["model"]["extra"]["old_key"] = 1             # a run saved before the options were declared
    meta.write_text(json.dumps(d))
    lines: list[str] = []
    train(out=run, resume=True, steps=2, log=lines.append)
    assert any("warning" in m and "old_key" in m for m in lines)
    with pytest.raises(ConfigError, match="new_key"):
        train(out=run, resume=True, steps=3, overrides=["model.extra.new_key=1"], log=lambda m: None)
