"""Name resolution for everything a user names on the command line: configurations
(built-in, file or `sweep:` name) and policies (built-in or overlay file)."""

from __future__ import annotations

from model.config import Configuration, load
from model.policy import Policy
from model.policyfile import load_policy
from model.sweep import PREFIX, from_name


def configuration(name: str) -> Configuration:
    """A built-in configuration, a TOML file, or a generated `sweep:` configuration."""
    return from_name(name) if name.startswith(PREFIX) else load(name)


def policy(name: str) -> Policy:
    """A built-in policy, or a policy overlay file."""
    return load_policy(name)
