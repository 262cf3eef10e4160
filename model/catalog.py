"""Name resolution for everything a user names on the command line: configurations
(built-in, file or `sweep:` name) and policies (built-in or overlay file)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from dmabuf_mc.model.config import ConfigError, Configuration, builtin_names, load, read_file
from dmabuf_mc.model.policy import RULES, Policy
from dmabuf_mc.model.policyfile import load_policy
from dmabuf_mc.model.sweep import PREFIX, from_name


def configuration(name: str) -> Configuration:
    """A built-in configuration, a TOML file, or a generated `sweep:` configuration."""
    return from_name(name) if name.startswith(PREFIX) else load(name)


def configuration_text(name: str) -> tuple[str, str] | None:
    """(the file name its errors cite, the TOML text) of a built-in or file configuration;
    None for a generated `sweep:` configuration, which its name describes in full. With
    the text, a configuration is rebuilt anywhere: `model.config.parse(text, file)`."""
    if name.startswith(PREFIX):
        return None
    if name in builtin_names():
        text = (resources.files("dmabuf_mc.model.configs") / f"{name}.toml").read_text()
        return f"model/configs/{name}.toml", text
    if not Path(name).is_file():
        raise ConfigError(name, "(file)", f"a configuration file or one of: {', '.join(builtin_names())}")
    return name, read_file(name)


VARIANT = re.compile(r"\[(-?)([a-z0-9-]+)(?:=([a-z0-9-]+))?\]$")


def policy(name: str) -> Policy:
    """A built-in policy or a policy overlay file, with the variants `explain` and `--rule`
    name: `baseline[map=skip-cpu-sync]` sets a rule, `baseline[-cpu-access-bracketed]`
    drops an obligation."""
    changes: list[tuple[str, str, str | None]] = []
    while (m := VARIANT.search(name)) is not None:
        changes.insert(0, (m.group(1), m.group(2), m.group(3)))
        name = name[: m.start()]
    result = load_policy(name)
    for drop, key, value in changes:
        if drop and key in result.obligations:
            result = result.without(key)
        elif not drop and key in RULES and value in RULES[key].values:
            result = result.with_rule(key, value)
        else:
            raise ConfigError(name, "(policy variant)", f"[RULE=VALUE] or [-OBLIGATION], got [{drop}{key}={value}]")
    return result
