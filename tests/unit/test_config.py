from __future__ import annotations

from pathlib import Path

import pytest

from civicquant.config import DEFAULT_JOB_INTERVALS, load_settings
from civicquant.errors import ConfigError


def test_defaults_need_no_environment() -> None:
    settings = load_settings()
    assert settings.database_url is None
    assert settings.floodwait_max_seconds == 300
    assert settings.job_intervals() == DEFAULT_JOB_INTERVALS


def test_bad_value_names_the_variable_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_API_ID", "not-a-number-7f3a")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("TG_API_ID: ")
    assert "not-a-number-7f3a" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_secrets_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_BOT_TOKEN", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
    monkeypatch.setenv("LLM_API_KEY", "sk-live-secret-value")
    settings = load_settings()
    assert "AAHdq" not in repr(settings)
    assert "sk-live" not in repr(settings)
    assert "sk-live-secret-value" in settings.secret_values()


def test_database_password_is_a_secret_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://cq:hunter2pw@db.example:5432/cq")
    assert "hunter2pw" in load_settings().secret_values()


def test_singular_source_channel_is_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_SOURCE_CHANNEL", "@wirewatch")
    assert load_settings().tg_source_channels == "@wirewatch"


def test_env_file_is_read_from_civicquant_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / "cq.env"
    env.write_text("FLOODWAIT_MAX_SECONDS=42\n")
    monkeypatch.setenv("CIVICQUANT_ENV_FILE", str(env))
    assert load_settings().floodwait_max_seconds == 42


def test_missing_env_file_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICQUANT_ENV_FILE", "/nonexistent/cq.env")
    with pytest.raises(ConfigError, match="CIVICQUANT_ENV_FILE"):
        load_settings()


def test_job_intervals_accept_pairs_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH_JOB_INTERVALS", "listen=10,extract=2")
    assert load_settings().job_intervals()["listen"] == 10
    monkeypatch.setenv("HEALTH_JOB_INTERVALS", '{"listen": 11}')
    assert load_settings().job_intervals()["listen"] == 11
    monkeypatch.setenv("HEALTH_JOB_INTERVALS", "listen")
    with pytest.raises(ConfigError, match="HEALTH_JOB_INTERVALS"):
        load_settings()


def test_require_names_the_missing_variable() -> None:
    with pytest.raises(ConfigError, match=r"^TG_API_ID is not set"):
        load_settings().require("TG_API_ID")


def test_env_example_documents_every_setting() -> None:
    from civicquant.config import Settings

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = {
        line.split("=", 1)[0].lstrip("# ") for line in example.splitlines() if "=" in line
    }
    aliases = {info.alias for info in Settings.model_fields.values() if info.alias}
    assert aliases - documented == set()
