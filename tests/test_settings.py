"""Settings: cast and checked at startup, every one documented in the README."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contentapi.outputs.feeds import PERMALINK_FIELDS
from contentapi.settings import SETTINGS, ConfigError, Settings, is_http_url

README = Path(__file__).resolve().parents[1] / "README.md"


def test_settings_defaults_are_usable():
    settings = Settings.from_env({})
    assert settings.content_dir == Path("content")
    assert settings.timezone == ZoneInfo("UTC")
    assert settings.raw_html == "sanitize"
    assert settings.strict is False
    assert settings.default_per_page == 10


def test_settings_cast_from_environment():
    settings = Settings.from_env(
        {
            "CONTENTAPI_STRICT": "yes",
            "CONTENTAPI_TIMEZONE": "Europe/Madrid",
            "CONTENTAPI_WORDS_PER_MINUTE": "250",
            "CONTENTAPI_BASE_URL": "https://api.example.com",
            "CONTENTAPI_IFRAME_HOSTS": "a.example, b.example",
        }
    )
    assert settings.strict is True
    assert settings.timezone == ZoneInfo("Europe/Madrid")
    assert settings.words_per_minute == 250
    assert settings.base_url == "https://api.example.com/"
    assert settings.iframe_hosts == ("a.example", "b.example")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONTENTAPI_STRICT", "maybe"),
        ("CONTENTAPI_TIMEZONE", "Mars/Olympus"),
        ("CONTENTAPI_WORDS_PER_MINUTE", "0"),
        ("CONTENTAPI_WORDS_PER_MINUTE", "fast"),
        ("CONTENTAPI_RAW_HTML", "whatever"),
        ("CONTENTAPI_BASE_URL", "api.example.com"),
        ("CONTENTAPI_MAX_PER_PAGE", "-1"),
        ("CONTENTAPI_PERMALINK", "/{title}/{slug}"),
        ("CONTENTAPI_PERMALINK", "/{a-b}/{slug}"),  # refused here, not later by every feed
        ("CONTENTAPI_TAG_PERMALINK", "/tags/{year}/{slug}"),
    ],
)
def test_settings_bad_value_names_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_settings_default_page_size_cannot_exceed_the_maximum():
    with pytest.raises(ConfigError, match="CONTENTAPI_DEFAULT_PER_PAGE"):
        Settings.from_env({"CONTENTAPI_DEFAULT_PER_PAGE": "50", "CONTENTAPI_MAX_PER_PAGE": "20"})


def test_settings_unknown_override_is_refused():
    with pytest.raises(ConfigError, match="CONTENTAPI_NOPE"):
        Settings.from_env({}, {"CONTENTAPI_NOPE": "1"})


def test_settings_every_setting_is_a_field_and_every_field_a_setting():
    fields = {field.name for field in dataclasses.fields(Settings)}
    assert fields == {setting.name.lower() for setting in SETTINGS}


def test_settings_every_setting_is_documented_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    table = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `(CONTENTAPI_[A-Z_]+)` \| `([^`]*)` \|", readme, re.M)
    }
    for setting in SETTINGS:
        assert setting.env in table, f"{setting.env} is not in the README's settings table"
        assert table[setting.env] == setting.default, f"{setting.env} default differs"
    assert set(table) == {setting.env for setting in SETTINGS}


@pytest.mark.parametrize(
    ("url", "absolute"),
    [
        ("https://example.org/", True),
        ("http://localhost:5000", True),
        ("example.org", False),
        ("/api/v1", False),
        ("ftp://example.org/", False),
        ("https://", False),
    ],
)
def test_settings_is_http_url(url, absolute):
    assert is_http_url(url) is absolute


def test_settings_permalink_placeholders_are_those_the_feeds_fill():
    settings = Settings.from_env(
        {"CONTENTAPI_PERMALINK": "/" + "/".join("{" + name + "}" for name in PERMALINK_FIELDS)}
    )
    assert set(re.findall(r"{(\w+)}", settings.permalink)) == PERMALINK_FIELDS


def test_settings_hardening_values_are_cast():
    settings = Settings.from_env(
        {
            "CONTENTAPI_TRUSTED_HOSTS": "api.example.com, .example.org",
            "CONTENTAPI_CACHE_MAX_BYTES": "1048576",
            "CONTENTAPI_SECRET_KEY": "a-secret-key-0123456789",
            "CONTENTAPI_RUNTIME_DIR": "/run/contentapi",
        }
    )
    assert settings.trusted_hosts == ("api.example.com", ".example.org")
    assert settings.cache_max_bytes == 1_048_576
    assert settings.secret_key == "a-secret-key-0123456789"
    assert settings.runtime_dir == "/run/contentapi"
    defaults = Settings.from_env({})
    assert (defaults.trusted_hosts, defaults.secret_key) == ((), "")
    assert defaults.cache_max_bytes == 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "value"),
    [("CONTENTAPI_SECRET_KEY", "short"), ("CONTENTAPI_CACHE_MAX_BYTES", "0")],
)
def test_settings_hardening_bad_values_are_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_settings_webhooks_cast():
    settings = Settings.from_env(
        {
            "CONTENTAPI_WEBHOOK_URLS": "https://a.example/hook, http://127.0.0.1:9000/x",
            "CONTENTAPI_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "CONTENTAPI_BASE_URL": "https://api.example.com",
            "CONTENTAPI_WEBHOOK_RETRY_DELAY": "0.5",
        }
    )
    assert settings.webhook_urls == ("https://a.example/hook", "http://127.0.0.1:9000/x")
    assert settings.webhook_retry_delay == 0.5
    assert (settings.webhook_timeout, settings.webhook_retries) == (5.0, 5)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CONTENTAPI_WEBHOOK_URLS": "ftp://x.example/"}, "CONTENTAPI_WEBHOOK_URLS"),
        ({"CONTENTAPI_WEBHOOK_URLS": "https://x.example/"}, "CONTENTAPI_WEBHOOK_SECRET"),
        (
            {"CONTENTAPI_WEBHOOK_URLS": "https://x.example/", "CONTENTAPI_WEBHOOK_SECRET": "x!"},
            "CONTENTAPI_WEBHOOK_SECRET",
        ),
        (
            {
                "CONTENTAPI_WEBHOOK_URLS": "https://x.example/",
                "CONTENTAPI_WEBHOOK_SECRET": WEBHOOK_SECRET,
            },
            "CONTENTAPI_BASE_URL",
        ),
        ({"CONTENTAPI_WEBHOOK_TIMEOUT": "0"}, "CONTENTAPI_WEBHOOK_TIMEOUT"),
        ({"CONTENTAPI_WEBHOOK_RETRY_DELAY": "soon"}, "CONTENTAPI_WEBHOOK_RETRY_DELAY"),
    ],
)
def test_settings_webhooks_need_what_they_use(environ, named):
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(environ)
