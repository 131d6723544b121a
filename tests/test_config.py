from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ordercli.config import SCHEMA, load_settings, template
from ordercli.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "ordercli.yaml"
    p.write_text(text)
    return str(p)


def test_defaults_without_a_file() -> None:
    s = load_settings(environ={})
    assert s.stack == "orders" and s["queue.max_receive_count"] == 5 and s["payment.seed"] is None


def test_flags_beat_env_beat_file(tmp_path: Path) -> None:
    path = write(tmp_path, "stack: fromfile\nqueue:\n  visibility_timeout: 90\n")
    assert load_settings({}, path, environ={}).stack == "fromfile"
    assert load_settings({}, path, environ={"ORDERCLI_STACK": "fromenv"}).stack == "fromenv"
    s = load_settings({"stack": "fromflag"}, path, environ={"ORDERCLI_STACK": "fromenv"})
    assert s.stack == "fromflag" and s["queue.visibility_timeout"] == 90
    assert s.sources["stack"] == "--stack"


@pytest.mark.parametrize(
    "text, key, words",
    [
        ("queue:\n  visiblity_timeout: 5\n", "queue.visiblity_timeout", "unknown key"),
        ("bogus: 1\n", "bogus", "unknown key"),
        ("queue:\n  max_receive_count: lots\n", "queue.max_receive_count", "an integer"),
        ("queue:\n  max_receive_count: 0\n", "queue.max_receive_count", "between"),
        ("payment:\n  success_rate: 1.5\n", "payment.success_rate", "between"),
        ("payment:\n  seed: 1.5\n", "payment.seed", "an integer"),
        ("lambda:\n  timeout: true\n", "lambda.timeout", "boolean"),
        ("log_retention_days: 13\n", "log_retention_days", "retention"),
        ("notify:\n  email: not-an-email\n", "notify.email", "not an email"),
        ("stack: 9lives\n", "stack", "start with a letter"),
        ("stack: " + "a" * 50 + "\n", "stack", "too long"),
        (
            "queue:\n  visibility_timeout: 5\nlambda:\n  timeout: 30\n",
            "queue.visibility_timeout",
            "at least",
        ),
    ],
)
def test_bad_config_names_the_key_and_the_file(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings({}, path, environ={})
    assert err.value.key == key
    assert path in str(err.value) and words in str(err.value)
    assert err.value.exit_code == 2


def test_env_values_are_checked_like_file_values() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({}, environ={"ORDERCLI_STACK": "bad name"})
    assert "ORDERCLI_STACK" in str(err.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "queue:\n  a: [1,\n")
    with pytest.raises(ConfigError, match="line"):
        load_settings({}, path, environ={})


def test_missing_config_file_named_by_flag() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({}, "nowhere.yaml", environ={})


def test_init_template_is_valid_config_with_every_key(tmp_path: Path) -> None:
    text = template()
    path = write(tmp_path, text)
    s = load_settings({}, path, environ={})
    assert dict(s.values) == {k: spec.default for k, spec in SCHEMA.items()}
    assert all(k.split(".")[-1] in text for k in SCHEMA)
    assert yaml.safe_load(text) is not None


def test_a_stack_name_at_the_limit_is_accepted_and_one_more_is_not() -> None:
    from ordercli.names import stack_name_problem

    longest = next(n for n in range(60, 0, -1) if stack_name_problem("a" * n) is None)
    assert stack_name_problem("a" * (longest + 1)) is not None
    assert longest >= 30
