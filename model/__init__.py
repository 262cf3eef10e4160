"""The Linux DMA-buf sharing protocol as a transition system."""
