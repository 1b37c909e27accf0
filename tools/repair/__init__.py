"""Repairing a region of a frame: SAM masks, plain masks and inpainting."""
