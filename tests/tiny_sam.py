"""A tiny SAM for tests: the real segment_anything architecture at a few thousand parameters, random weights.

The sizes respect SAM's own constraints: out_chans is a multiple of 8 and of 2 x decoder_heads,
img_size is a multiple of patch_size, and mask_in_chans is at least 4.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from tools.repair.segment import SamConfig, build_sam

TINY_SAM = SamConfig(embed_dim=32, depth=1, num_heads=2, global_attn_indexes=(), img_size=64, patch_size=16,
                     window_size=0, out_chans=16, mlp_ratio=2.0, mask_in_chans=4, decoder_depth=1,
                     decoder_mlp_dim=32, decoder_heads=2, iou_head_depth=1, iou_head_hidden_dim=16)


def write_tiny_sam(folder: Path, fmt: str = "pth", config: SamConfig = TINY_SAM) -> tuple[Path, Path]:
    """Save a seeded SAM of `config`'s sizes as tiny_sam.<fmt> ("pth" or "safetensors") with its sizes as JSON.

    Returns the checkpoint's path and the JSON file's path. The same arguments give the same weights.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    state = build_sam(config).state_dict()
    checkpoint = folder / f"tiny_sam.{fmt}"
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({key: value.contiguous() for key, value in state.items()}, str(checkpoint))
    elif fmt == "pth":
        torch.save(state, checkpoint)
    else:
        raise ValueError(f"fmt: expected pth or safetensors, got {fmt!r}")
    sizes = folder / "tiny_sam.json"
    sizes.write_text(json.dumps(asdict(config), indent=2), encoding="utf-8")
    return checkpoint, sizes
