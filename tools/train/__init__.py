"""Training LoRAs: the run, its pictures, its settings, its checkpoints and class images."""
