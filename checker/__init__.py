"""A generic checker for finite-domain transition systems; it knows nothing of DMA-buf."""
