"""`python -m dmabuf_mc`: the same command line as `dmabuf-mc`."""

from dmabuf_mc.app.cli import main

main(prog_name="dmabuf-mc")
