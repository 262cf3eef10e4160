"""What a check ran on, resolved in full, so that the files it leaves behind rebuild the
same system in any directory, whatever has happened to the files it was given since.

A counterexample or certificate records the configuration as the user named it with the
TOML text it was parsed from (none for a generated `sweep:` configuration, whose name says
everything) and the text of the kernel file it names, if any; and the policy with every rule
value that differs from the base and the obligations in force, `--rule` overrides and policy
files included. Files written before
this (format version 1) recorded the two names only; they are still resolved by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dmabuf_mc.checker.artefact import FieldError, field
from dmabuf_mc.checker.ts import TransitionSystem
from dmabuf_mc.model import catalog
from dmabuf_mc.model.build import system
from dmabuf_mc.model.config import ConfigError, Configuration, parse, read_file
from dmabuf_mc.model.policy import Policy


@dataclass(frozen=True)
class Provenance:
    """A configuration and a policy, with what it takes to rebuild them."""

    config: str
    """The configuration's name as the user gave it: built-in, file path or `sweep:` name."""
    file: str | None
    """The file name the text was parsed under (None: a `sweep:` name)."""
    text: str | None
    configuration: Configuration
    policy: Policy
    kernel: str | None = None
    """The text of the kernel file the configuration names (model.config.read_kernel), if any."""

    @property
    def title(self) -> str:
        return f"{self.config} under {self.policy.name}"

    def system(self) -> tuple[Configuration, TransitionSystem]:
        """The configuration as the policy rewrites it, and its model."""
        return system(self.configuration, self.policy)

    def record(self) -> dict[str, dict[str, Any]]:
        """The `config` and `policy` fields of an artefact."""
        p = self.policy
        config: dict[str, Any] = {"name": self.config, "file": self.file, "text": self.text}
        if self.kernel is not None:
            config["kernel"] = {"file": self.configuration.kernel.file, "text": self.kernel}
        return {
            "config": config,
            "policy": {"name": p.name, "doc": p.doc, "rules": dict(p.rules), "obligations": sorted(p.obligations)},
        }


def resolve(config: str, policy: Policy) -> Provenance:
    """The configuration `config` names (ConfigError if it names none) under `policy`."""
    source = catalog.configuration_text(config)
    if source is None:
        return Provenance(config, None, None, catalog.configuration(config), policy)
    file, text = source
    configuration = parse(text, file)
    kernel = None if configuration.kernel.file is None else read_file(configuration.kernel.file)
    return Provenance(config, file, text, configuration, policy, kernel)


def from_record(origin: Mapping[str, Any], artefact: str) -> Provenance:
    """The provenance an artefact's `config` and `policy` fields record; ConfigError names
    the artefact and the field when they are malformed."""
    config, policy = origin.get("config"), origin.get("policy")
    if isinstance(config, str) and isinstance(policy, str):  # version 1: names only
        return resolve(config, catalog.policy(policy))
    name, file, text, kernel, configuration = _config(config, artefact)
    return Provenance(name, file, text, configuration, _policy(policy, artefact), kernel)


def _field(table: object, key: str, kind: type | tuple[type, ...], artefact: str, where: str) -> Any:
    """`table[key]` if `table` is a JSON object and the value has type `kind` (a missing
    value is null)."""
    if isinstance(table, dict) and key not in table and isinstance(None, kind):
        return None
    try:
        return field(table, key, kind, where)
    except FieldError as e:
        raise ConfigError(artefact, e.field, f"{e.expected}, got {e.got or 'nothing'}") from None


def _config(record: object, artefact: str) -> tuple[str, str | None, str | None, str | None, Configuration]:
    """The configuration's name, file, text, kernel file text and value."""
    name = _field(record, "name", str, artefact, "config")
    file = _field(record, "file", (str, type(None)), artefact, "config")
    text = _field(record, "text", (str, type(None)), artefact, "config")
    kernel = _field(record, "kernel", (dict, type(None)), artefact, "config")
    kernels: dict[str, str] = {}
    if kernel is not None:
        kernels[_field(kernel, "file", str, artefact, "config.kernel")] = _field(kernel, "text", str, artefact,
                                                                                 "config.kernel")
    if text is None:
        return name, None, None, None, catalog.configuration(name)
    try:
        return name, file, text, (kernel or {}).get("text"), parse(text, file or name, kernels)
    except ConfigError as e:
        raise ConfigError(artefact, "config.text", f"a valid configuration ({e})") from None


def _policy(record: object, artefact: str) -> Policy:
    rules = _field(record, "rules", dict, artefact, "policy")
    obligations = _field(record, "obligations", list, artefact, "policy")
    try:
        return Policy(_field(record, "name", str, artefact, "policy"), _field(record, "doc", str, artefact, "policy"),
                      frozenset(obligations), tuple(sorted(rules.items())))
    except (KeyError, TypeError) as e:
        raise ConfigError(artefact, "policy", f"known rules, values and obligations (not {e})") from None
