from __future__ import annotations

from pathlib import Path

import pytest

from civicquant.config import (
    DEFAULT_JOB_INTERVALS,
    Secret,
    Settings,
    load_settings,
    retired_settings,
    variable_names,
)
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
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = {
        line.split("=", 1)[0].lstrip("# ") for line in example.splitlines() if "=" in line
    }
    assert set(variable_names()) - documented == set()


def test_loaded_defaults_are_the_dataclass_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in variable_names():
        monkeypatch.delenv(name, raising=False)
    assert load_settings() == Settings()


@pytest.mark.parametrize("text", ["true", "TRUE", "1", "yes", "On", "t", "Y"])
def test_true_booleans_read_like_pydantic(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("DB_PREPARED_STATEMENTS", text)
    assert load_settings().db_prepared_statements is True


@pytest.mark.parametrize("text", ["false", "False", "0", "no", "OFF", "f", "N"])
def test_false_booleans_read_like_pydantic(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("DB_PREPARED_STATEMENTS", text)
    assert load_settings().db_prepared_statements is False


@pytest.mark.parametrize("text", ["", "2", "maybe", " 1 "])
def test_other_boolean_text_is_a_config_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("EXTRACTION_QUEUE_ENABLED", text)
    with pytest.raises(ConfigError, match=r"^EXTRACTION_QUEUE_ENABLED: .*valid boolean"):
        load_settings()


@pytest.mark.parametrize(("text", "expected"), [(" 5 ", 5), ("1_000", 1000), ("5.0", 5)])
def test_integers_allow_spaces_underscores_and_a_zero_fraction(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: int
) -> None:
    monkeypatch.setenv("LEASE_TTL_SECONDS", text)
    assert load_settings().lease_ttl_seconds == expected


@pytest.mark.parametrize("text", ["5.5", "1e3", "0x10", "", "\u0663"])
def test_other_integer_text_is_a_config_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("LEASE_TTL_SECONDS", text)
    with pytest.raises(
        ConfigError, match=r"^LEASE_TTL_SECONDS: Input should be a valid integer, unable"
    ):
        load_settings()


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("LEASE_TTL_SECONDS", "0", "greater than or equal to 1"),
        ("HEALTH_MAX_DEAD_JOBS", "-1", "greater than or equal to 0"),
        ("VIP_DIGEST_HOURS", "0", "greater than 0"),
        ("VIP_DIGEST_HOURS", "25", "less than or equal to 24"),
        ("VIP_DIGEST_HOURS", "inf", "less than or equal to 24"),
        ("LLM_TIMEOUT_SECONDS", "nan", "greater than 0"),
        ("BREAKING_MIN_IMPORTANCE_1H", "1.5", "less than or equal to 1"),
    ],
)
def test_out_of_bounds_names_the_variable_and_the_bound(
    monkeypatch: pytest.MonkeyPatch, name: str, text: str, problem: str
) -> None:
    monkeypatch.setenv(name, text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"{name}: Input should be {problem}"


def test_numbers_and_optional_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().breaking_min_importance_15m is None
    monkeypatch.setenv("BREAKING_MIN_IMPORTANCE_15M", "0.9")
    monkeypatch.setenv("VIP_DIGEST_HOURS", "1e1")
    settings = load_settings()
    assert settings.breaking_min_importance_for("breaking_15m") == 0.9
    assert settings.breaking_min_importance_for("breaking_1h") == 0.6
    assert settings.vip_digest_hours == 10.0


def test_choices_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    assert load_settings().log_level == "DEBUG"
    monkeypatch.setenv("LOG_LEVEL", "debug")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"


def test_several_problems_are_one_line_naming_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "xml-7f3a")
    monkeypatch.setenv("LEASE_TTL_SECONDS", "0")
    monkeypatch.setenv("TG_API_ID", "id-7f3a")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("LOG_FORMAT: ")
    assert message.endswith(" (and 2 more problems)")
    assert "\n" not in message
    assert "7f3a" not in message


def test_secret_repr_and_str_hide_the_value() -> None:
    secret = Secret("sk-live-secret-value")
    assert secret.get_secret_value() == "sk-live-secret-value"
    assert "sk-live" not in repr(secret) + str(secret) + f"{secret}"
    assert str(secret) == "**********"
    assert str(Secret("")) == ""
    assert not Secret("")
    assert Secret("a") == Secret("a") != Secret("b")


def test_secrets_are_read_as_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_SESSION_STRING", "1BVtsOKABu0-session")
    settings = load_settings()
    assert isinstance(settings.tg_session_string, Secret)
    assert settings.tg_session_string.get_secret_value() == "1BVtsOKABu0-session"


def test_environment_wins_over_the_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / "cq.env"
    env.write_text("LEASE_TTL_SECONDS=8\nLOG_LEVEL=DEBUG\nTG_SOURCE_CHANNELS=@file\n")
    monkeypatch.setenv("CIVICQUANT_ENV_FILE", str(env))
    monkeypatch.setenv("LEASE_TTL_SECONDS", "9")
    monkeypatch.setenv("TG_SOURCE_CHANNEL", "@environment")
    settings = load_settings()
    assert settings.lease_ttl_seconds == 9
    assert settings.log_level == "DEBUG"
    assert settings.tg_source_channels == "@environment"


def test_dot_env_in_the_working_directory_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("export LOG_FORMAT=json\nUNRELATED=1\nTG_VIP_CHAT_ID='-100'\n")
    settings = load_settings()
    assert settings.log_format == "json"
    assert settings.tg_vip_chat_id == "-100"


def test_variable_names_match_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("lease_ttl_seconds", "7")
    assert load_settings().lease_ttl_seconds == 7


def test_empty_text_is_read_as_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("TG_BOT_TOKEN", "")
    settings = load_settings()
    assert settings.database_url == ""
    assert settings.tg_bot_token == Secret("")
    with pytest.raises(ConfigError, match=r"^TG_BOT_TOKEN is not set"):
        settings.require("TG_BOT_TOKEN")


def test_env_file_that_is_not_utf8_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / "cq.env"
    env.write_bytes(b"TG_BOT_TOKEN=\xff\xfe\n")
    monkeypatch.setenv("CIVICQUANT_ENV_FILE", str(env))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings()


def test_an_env_file_that_still_sets_lpa_max_age_hours_loads_and_names_it_retired(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / "cq.env"
    env.write_text("LPA_MAX_AGE_HOURS=72\nRECHECK_HOURS=24\n")
    monkeypatch.setenv("CIVICQUANT_ENV_FILE", str(env))
    assert load_settings().recheck_hours == 24
    assert list(retired_settings()) == ["LPA_MAX_AGE_HOURS"]
    assert "CATCHUP_CHUNK_HOURS" in retired_settings()["LPA_MAX_AGE_HOURS"]


def test_no_retired_setting_is_named_when_none_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LPA_MAX_AGE_HOURS", raising=False)
    monkeypatch.delenv("CIVICQUANT_ENV_FILE", raising=False)
    monkeypatch.chdir(Path(__file__).parent)
    assert retired_settings() == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CATCHUP_CHUNK_HOURS", "0"),
        ("CATCHUP_QUEUE_HIGH_WATERMARK", "many"),
        ("RECHECK_HOURS", "-1"),
    ],
)
def test_catch_up_settings_refuse_bad_values_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{name}: ") as raised:
        load_settings()
    assert "\n" not in str(raised.value)


def test_catch_up_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATCHUP_CHUNK_HOURS", "3")
    monkeypatch.setenv("CATCHUP_QUEUE_HIGH_WATERMARK", "200")
    monkeypatch.setenv("RECHECK_HOURS", "0")
    settings = load_settings()
    assert (settings.catchup_chunk_hours, settings.catchup_queue_high_watermark) == (3, 200)
    assert settings.recheck_hours == 0
