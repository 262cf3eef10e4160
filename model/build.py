"""Assemble the transition system for one configuration under one policy."""

from __future__ import annotations

from checker.ts import TransitionSystem
from model.clients import client_actions
from model.config import Configuration
from model.dmabuf import api_actions
from model.platform import hardware_actions
from model.policy import Policy
from model.state import DmabufState
from properties import properties


def build(cfg: Configuration, policy: Policy) -> TransitionSystem:
    """The DMA-buf model of `cfg` under `policy`: final once the buffer is released."""
    st = DmabufState(cfg)
    return TransitionSystem(
        name=f"{cfg.name}/{policy.name}",
        variables=st.variables(),
        init=st.initial(),
        actions=tuple(api_actions(st, policy) + client_actions(st, policy) + hardware_actions(st)),
        properties=properties(st),
        final=st.life.eq("released"),
    )
