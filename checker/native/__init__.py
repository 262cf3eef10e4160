"""The native engine's parts: C generated from the IR (`csource`), the BFS runtime it is
linked with (`search.c`), and building and loading it with the system C compiler
(`toolchain`). `checker.engines.native` drives the search from Python."""
