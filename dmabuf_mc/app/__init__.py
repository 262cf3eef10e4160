"""The application: the command line, sweeps and their verdict tables, the random-history
test helper, all built on `dmabuf_mc.model` and `dmabuf_mc.checker`."""
