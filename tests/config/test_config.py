"""Configuration parsing (SPEC §2): defaults, valid forms, and one-line errors for bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scriberr.config import ConfigError, load_config, parse_duration, resolve_secret_key

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_defaults(tmp_path: Path) -> None:
    config = load_config({"SCRIBERR_DATA_DIR": str(tmp_path)})
    assert config.workers == 1
    assert config.poll_interval_s == 2.0
    assert config.lease_timeout_s == 600.0
    assert config.engine_provider == "auto"
    assert config.engine_auto_download is True
    assert config.database_url == f"sqlite:///{tmp_path / 'scriberr.db'}"
    assert config.database_kind == "sqlite"
    assert (config.log_level, config.log_format) == ("info", "text")
    assert config.sse_heartbeat_s == 15.0
    assert load_config({"SCRIBERR_SSE_HEARTBEAT": "250ms"}).sse_heartbeat_s == 0.25


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("2s", 2.0), ("10m", 600.0), ("1h30m", 5400.0), ("1.5s", 1.5)],
)
def test_duration_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("TRANSCRIPTION_QUEUE_POLL_INTERVAL", "soon", "a duration like 500ms, 2s, 10m or 1h30m"),
        ("TRANSCRIPTION_LEASE_TIMEOUT", "10", "a duration"),
        ("TRANSCRIPTION_WORKERS", "-1", "an integer >= 0"),
        ("TRANSCRIPTION_WORKERS", "two", "an integer >= 0"),
        ("SPEECH_ENGINE_PROVIDER", "tpu", "one of auto/cpu/cuda"),
        ("SPEECH_ENGINE_AUTO_DOWNLOAD", "maybe", "one of true/false/1/0/yes/no"),
        ("SCRIBERR_LOG_FORMAT", "xml", "one of text/json"),
        ("SCRIBERR_SSE_HEARTBEAT", "often", "a duration like 500ms"),
        ("SCRIBERR_SSE_HEARTBEAT", "0s", "a duration"),
        ("SCRIBERR_DATABASE_URL", "mysql://x", "a sqlite:/// or postgresql:// URL"),
    ],
)
def test_invalid_values_raise_one_line_naming_variable_value_and_allowed(
    variable: str, value: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({variable: value})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"invalid {variable}={value!r}: expected ")
    assert allowed in message


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_booleans(value: str) -> None:
    assert load_config({"SPEECH_ENGINE_AUTO_DOWNLOAD": value}).engine_auto_download is True
    negated = {"true": "false", "1": "0", "yes": "no", "TRUE": "No"}[value]
    assert load_config({"SPEECH_ENGINE_AUTO_DOWNLOAD": negated}).engine_auto_download is False


def _worker(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scriberr.cli", "worker", *env.pop("ARGS", "").split()],
        env={**os.environ, "SCRIBERR_DATA_DIR": str(tmp_path / "data"), **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow  # each starts the CLI in a subprocess
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRANSCRIPTION_QUEUE_POLL_INTERVAL", "2 seconds"),
        ("TRANSCRIPTION_WORKERS", "-3"),
        ("SPEECH_ENGINE_PROVIDER", "quantum"),
        ("SPEECH_ENGINE_AUTO_DOWNLOAD", "sometimes"),
        ("SPEECH_ENGINE_PRELOAD", "whisper-tiny.en;diarization-default"),
        ("SPEECH_ENGINE_PRELOAD", "whisper-tiny.en,none"),
        ("SPEECH_ENGINE_PRELOAD", "default,whisper-smal"),  # not in the catalog
    ],
)
def test_the_worker_command_stops_with_one_line_and_non_zero_exit(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = _worker(tmp_path, **{variable: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"scriberr: invalid {variable}=")
    assert value in lines[0] and "expected" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "data").exists()  # nothing started, nothing written


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (None, ("default",)),
        ("default", ("default",)),
        ("none", ()),
        ("NONE", ()),
        (" whisper-base.en , Diarization-Default,whisper-base.en", ("whisper-base.en", "diarization-default")),
        ("default,whisper-small", ("default", "whisper-small")),
    ],
)  # fmt: skip
def test_preload_forms(tmp_path: Path, value: str | None, parsed: tuple[str, ...]) -> None:
    env = {"SCRIBERR_DATA_DIR": str(tmp_path)}
    if value is not None:
        env["SPEECH_ENGINE_PRELOAD"] = value
    assert load_config(env).engine_preload == parsed


def test_preload_default_is_the_default_model_and_diarization(tmp_path: Path) -> None:
    from scriberr.engine.local.provider import preload_ids

    env = {"SCRIBERR_DATA_DIR": str(tmp_path), "SPEECH_ENGINE_DEFAULT_MODEL": "whisper-base.en"}
    assert preload_ids(load_config(env)) == ("whisper-base.en", "diarization-default")
    env["SPEECH_ENGINE_PRELOAD"] = "whisper-small,default,whisper-small"
    assert preload_ids(load_config(env)) == (
        "whisper-small",
        "whisper-base.en",
        "diarization-default",
    )
    env["SPEECH_ENGINE_PRELOAD"] = "whisper-smal"
    with pytest.raises(ConfigError) as raised:
        preload_ids(load_config(env))
    assert str(raised.value).startswith("invalid SPEECH_ENGINE_PRELOAD='whisper-smal': expected")
    assert "whisper-small" in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.slow
def test_cuda_requested_without_cuda_fails_with_one_line(tmp_path: Path) -> None:
    from scriberr.engine.local.device import cuda_device_count

    if cuda_device_count() > 0:
        pytest.skip("this machine has CUDA")
    result = _worker(tmp_path, SPEECH_ENGINE_PROVIDER="cuda")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("scriberr: invalid SPEECH_ENGINE_PROVIDER='cuda'")


@pytest.mark.slow  # spawns a process pool
def test_processes_starting_together_on_a_fresh_data_dir_agree_on_one_secret_key(
    tmp_path: Path,
) -> None:
    import multiprocessing

    data_dir = tmp_path / "fresh"
    config = load_config({"SCRIBERR_DATA_DIR": str(data_dir)})
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        keys = pool.map(resolve_secret_key, [config] * 8)
    assert len(set(keys)) == 1 and len(keys[0]) >= 32
    assert (data_dir / "secret_key").read_text() == keys[0]
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in data_dir.iterdir()) == ["secret_key"]
    explicit = load_config({"SCRIBERR_DATA_DIR": str(data_dir), "SCRIBERR_SECRET_KEY": "k" * 40})
    assert resolve_secret_key(explicit) == "k" * 40


@pytest.mark.slow
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_a_default_model_typo_stops_startup_with_one_line_and_exit_2(
    tmp_path: Path, command: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scriberr.cli", command],
        env={
            **os.environ,
            "SCRIBERR_DATA_DIR": str(tmp_path / "data"),
            "SPEECH_ENGINE_DEFAULT_MODEL": "whisper-tiny.enn",
        },
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("scriberr: invalid SPEECH_ENGINE_DEFAULT_MODEL='whisper-tiny.enn'")
    assert "whisper-tiny.en" in lines[0].split("expected", 1)[1]  # names the known models
    assert not (tmp_path / "data").exists()  # nothing started, nothing written


def test_a_catalog_default_model_starts(tmp_path: Path) -> None:
    from scriberr.bootstrap import build_core

    config = load_config(
        {"SCRIBERR_DATA_DIR": str(tmp_path), "SPEECH_ENGINE_DEFAULT_MODEL": "whisper-base.en"}
    )
    core = build_core(config)
    try:
        assert core.providers.default_options.model == "whisper-base.en"
    finally:
        core.close(timeout=0)


def test_security_variables_parse_and_reject_bad_values(tmp_path: Path) -> None:
    import ipaddress

    base = {"SCRIBERR_DATA_DIR": str(tmp_path / "data")}
    default = load_config(base)
    assert default.cors_origins == () and default.forwarded_allow_ips == ()
    assert default.import_allow_private is False and default.upload_stall_timeout_s == 60.0
    config = load_config(
        {
            **base,
            "SCRIBERR_CORS_ORIGINS": "https://app.example, http://localhost:5173/",
            "SCRIBERR_FORWARDED_ALLOW_IPS": "127.0.0.1, 10.0.0.0/8, ::1",
            "SCRIBERR_IMPORT_ALLOW_PRIVATE": "yes",
            "SCRIBERR_UPLOAD_STALL_TIMEOUT": "5s",
        }
    )
    assert config.cors_origins == ("https://app.example", "http://localhost:5173")
    assert ipaddress.ip_address("10.1.2.3") in config.forwarded_allow_ips[1]
    assert config.import_allow_private is True and config.upload_stall_timeout_s == 5.0
    for name, value in (
        ("SCRIBERR_CORS_ORIGINS", "app.example"),
        ("SCRIBERR_CORS_ORIGINS", "https://app.example/path"),
        ("SCRIBERR_FORWARDED_ALLOW_IPS", "proxy.local"),
        ("SCRIBERR_IMPORT_ALLOW_PRIVATE", "maybe"),
        ("SCRIBERR_UPLOAD_STALL_TIMEOUT", "soon"),
    ):
        with pytest.raises(ConfigError) as error:
            load_config({**base, name: value})
        assert name in str(error.value) and "\n" not in str(error.value)


def test_server_url_and_worker_key_go_together_and_the_key_is_never_printed() -> None:
    key = "swk_" + "a1B2-_" * 8
    neither = load_config({})
    assert neither.server_url is None and neither.worker_key is None
    both = load_config({"SCRIBERR_SERVER_URL": "http://api:8080/", "SCRIBERR_WORKER_KEY": key})
    assert both.server_url == "http://api:8080" and both.worker_key == key
    assert key not in repr(both)
    cases = [
        ({"SCRIBERR_SERVER_URL": "http://api:8080"}, "SCRIBERR_WORKER_KEY"),
        ({"SCRIBERR_WORKER_KEY": key}, "SCRIBERR_SERVER_URL"),
        ({"SCRIBERR_SERVER_URL": "ftp://api", "SCRIBERR_WORKER_KEY": key}, "SCRIBERR_SERVER_URL"),
        (
            {"SCRIBERR_SERVER_URL": "http://api?x=1", "SCRIBERR_WORKER_KEY": key},
            "SCRIBERR_SERVER_URL",
        ),
        (
            {"SCRIBERR_SERVER_URL": "http://api", "SCRIBERR_WORKER_KEY": "sk_" + key},
            "SCRIBERR_WORKER_KEY",
        ),
    ]
    for env, variable in cases:
        with pytest.raises(ConfigError) as raised:
            load_config(env)
        assert raised.value.variable == variable
        message = str(raised.value)
        assert "\n" not in message and key not in message


def test_zero_workers_is_an_api_only_process() -> None:
    assert load_config({"TRANSCRIPTION_WORKERS": "0"}).workers == 0


@pytest.mark.slow  # starts the CLI in a subprocess
def test_a_worker_process_with_zero_workers_stops_with_one_line(tmp_path: Path) -> None:
    result = _worker(tmp_path, TRANSCRIPTION_WORKERS="0", ARGS="--fake-engine")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "scriberr worker: TRANSCRIPTION_WORKERS is 0; a worker process needs at least 1"
    ]


def test_the_command_imports_only_the_subcommand_it_runs() -> None:
    # `scriberr serve` starts the engine's preload before it imports the database and web layers;
    # the other subcommands' modules pull those in, so they are not imported to run `serve`.
    probe = (
        "import sys\n"
        "from scriberr.cli import main\n"
        "try:\n"
        "    main(['serve', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('sqlalchemy', 'fastapi', 'scriberr.cli.users') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert "usage: scriberr serve" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"
