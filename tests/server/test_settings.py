from __future__ import annotations

import pytest
from pydantic import ValidationError

from mmgan.server.settings import Settings, parse_runs


def test_parse_runs_named_and_bare():
    assert parse_runs(["a=runs/1", "b=runs/2"]) == {"a": "runs/1", "b": "runs/2"}
    assert parse_runs(["runs/00001-digits-dcgan/"]) == {"00001-digits-dcgan": "runs/00001-digits-dcgan/"}
    with pytest.raises(ValueError, match="given twice"):
        parse_runs(["a=x", "a=y"])


def test_defaults_are_safe():
    s = Settings()
    assert s.host == "127.0.0.1" and s.auth and s.cors_origins == [] and s.limits.max_n == 64
    with pytest.raises(ValidationError, match="model name"):
        Settings(runs={"../x": "run"})
