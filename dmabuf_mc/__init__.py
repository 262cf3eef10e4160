"""dmabuf-mc: a model checker for the Linux DMA-buf sharing protocol.

Three layers, each importing only those below it: `checker` (generic transition systems
and engines, nothing of DMA-buf), `model` and `properties` (the kernel's DMA-buf
behaviour as a transition system), and `app` (the command line, sweeps, reports and the
pytest plugin).
"""
