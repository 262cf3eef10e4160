"""Policy files: a user's API change as a declarative TOML overlay on a built-in policy.

    name = "p1-plus-p9"
    base = "p1-clear-for-uncached"
    doc = "P1 with R1.6, and exporters bracket their own CPU writes"
    [rules]
    exporter-cpu-access = "bracketed"
    [obligations]
    drop = ["no-device-work-in-cpu-bracket"]

A rule is set to one of its named values (`dmabuf-mc list rules`); obligations are added
or dropped by name. An overlay cannot reach the engine, so a proposal written this way is
checked, compared and explained exactly like the built-in ones. Errors name the file,
the line and the field, and say what was expected.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dmabuf_mc.model.config import ConfigError, Reader, read_file, read_toml
from dmabuf_mc.model.policy import OBLIGATIONS, POLICIES, RULES, Policy


def parse_policy(text: str, file: str) -> Policy:
    """Parse and validate a policy overlay from TOML text."""
    try:
        return _parse(text, file)
    except ConfigError as e:
        raise e.at(text) from None


def _obligation_list(r: Reader, key: str) -> list[str]:
    names = r.get(key, list, [])
    for k, name in enumerate(names):
        if not isinstance(name, str) or name not in OBLIGATIONS:
            raise ConfigError(r.file, f"{r.field(key)}[{k}]", f"an obligation, one of {', '.join(OBLIGATIONS)}; "
                              f"got {name!r}")
    return names


def _parse(text: str, file: str) -> Policy:
    top = Reader(file, read_toml(text, file), "")
    name = top.get("name", str, Path(file).stem)
    base = POLICIES[top.choice("base", list(POLICIES), "baseline")]
    doc = top.get("doc", str, f"{base.name} with the changes in {file}")
    policy = replace(base, name=name, doc=doc)
    rules = top.sub("rules")
    for rule in rules.table:
        if rule not in RULES:
            raise ConfigError(file, rules.field(rule), f"a rule, one of {', '.join(RULES)}")
        policy = policy.with_rule(rule, rules.choice(rule, list(RULES[rule].values)), label=name)
    rules.done()
    ob = top.sub("obligations")
    drop, add = _obligation_list(ob, "drop"), _obligation_list(ob, "add")
    ob.done()
    top.done()
    return replace(policy, obligations=(policy.obligations - set(drop)) | set(add))


def load_policy(name_or_path: str) -> Policy:
    """A built-in policy by name, or a policy overlay file by path."""
    if name_or_path in POLICIES:
        return POLICIES[name_or_path]
    if not Path(name_or_path).is_file():
        raise ConfigError(name_or_path, "--policy", f"a policy file or one of: {', '.join(POLICIES)}")
    return parse_policy(read_file(name_or_path), name_or_path)
