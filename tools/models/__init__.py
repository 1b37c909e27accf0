"""The model runtime: loading models once, the library manifest, LoRAs and their weights, GPU memory and turns."""
