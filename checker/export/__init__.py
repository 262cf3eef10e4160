"""Exporters: the one transition system written for other tools (SPIN, TLC, graph viewers)."""
