"""Drawing frames: the renderer contract, the sketch previz and the Stable Diffusion renderer."""
