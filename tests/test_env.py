import pytest
from django.core.exceptions import ImproperlyConfigured

from heygem_site.env import RedisURL, env_bool, env_int, env_list, parse_database_url


@pytest.mark.parametrize("raw,expected", [("true", True), ("False", False), ("1", True), ("off", False)])
def test_env_bool_accepts_clear_values(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


@pytest.mark.parametrize("raw", ["yes please", "2", "truee"])
def test_env_bool_refuses_anything_else(monkeypatch, raw):
    monkeypatch.setenv("FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG", False)


def test_env_int(monkeypatch):
    monkeypatch.setenv("N", "12")
    assert env_int("N", 1) == 12
    monkeypatch.setenv("N", "12MB")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("N", 1, minimum=1)


def test_env_list(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example, b.example")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]
    monkeypatch.setenv("HOSTS", "a.example,,b")
    with pytest.raises(ImproperlyConfigured):
        env_list("HOSTS", [])


def test_database_urls():
    pg = parse_database_url("postgres://heygem:s%40cret@db.internal:5433/heygem")
    assert pg["ENGINE"] == "django.db.backends.postgresql"
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == ("heygem", "s@cret", "db.internal", "5433", "heygem")
    assert parse_database_url("sqlite:////srv/heygem/db.sqlite3")["NAME"] == "/srv/heygem/db.sqlite3"
    for bad in ("mysql://x/y", "postgres://host:port/db", "postgres://host/", "sqlite://"):
        with pytest.raises(ImproperlyConfigured):
            parse_database_url(bad)


def test_redis_url():
    assert RedisURL.parse("REDIS_URL", "redis://127.0.0.1:6379/1").url.endswith("/1")
    for bad in ("http://x", "redis://", "redis://host:notaport/0"):
        with pytest.raises(ImproperlyConfigured):
            RedisURL.parse("REDIS_URL", bad)
