"""Tiny Stable Diffusion 1.5 models and LoRA files for tests, built offline from random weights.

Every function seeds torch before it creates weights, so the same arguments give the same bytes.
Nothing here touches the network: the tokenizer is a byte-level CLIP vocabulary written locally.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def _byte_chars() -> list[str]:
    """The 256 printable stand-ins that byte-level BPE uses for raw bytes (GPT-2 / CLIP table)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in keep]
    return [chr(c) for c in keep] + [chr(256 + i) for i in range(len(extra))]


def _tokenizer():
    """A CLIPTokenizer whose vocabulary is only the two specials and single bytes (514 entries, no merges)."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for ch in _byte_chars():
            vocab.setdefault(ch + suffix, len(vocab))
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        Path(tmp, "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
        return CLIPTokenizer.from_pretrained(tmp, model_max_length=77)


def _unet(cross_attention_dim: int = 8):
    """An SD 1.5-shaped UNet, small enough that a 64x64 render (32x32 latents) costs milliseconds."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim, norm_num_groups=2)


def build_sd_pipeline(cross_attention_dim: int = 8, seed: int = 0):
    """Return an in-memory tiny StableDiffusionPipeline (seeded); `write_sd_folder` saves this."""
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = _tokenizer()
    torch.manual_seed(seed)
    unet = _unet(cross_attention_dim)
    vae = AutoencoderKL(
        block_out_channels=[4, 8], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=2,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=cross_attention_dim,
        intermediate_size=2 * cross_attention_dim, num_attention_heads=2, num_hidden_layers=2,
        vocab_size=len(tokenizer), max_position_embeddings=77, projection_dim=cross_attention_dim))
    scheduler = DPMSolverMultistepScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        prediction_type="epsilon", steps_offset=1, timestep_spacing="leading")
    return StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, image_encoder=None, requires_safety_checker=False)


def write_sd_folder(folder: Path, cross_attention_dim: int = 8, seed: int = 0) -> Path:
    """Save the tiny pipeline as a diffusers folder (model_index.json, unet/, vae/, ... as safetensors)."""
    folder = Path(folder)
    build_sd_pipeline(cross_attention_dim, seed).save_pretrained(folder, safe_serialization=True)
    return folder


# ---------------------------------------------------------------- diffusers -> original (CompVis/LDM) keys

_UNET_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
                "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}
_VAE_ATTN = [("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."), ("to_out.0.", "proj_out.")]


def _unet_to_ldm(sd: dict, n_blocks: int, per_block: int) -> dict:
    """Rename a diffusers UNet2DConditionModel state dict to the `model.diffusion_model.*` layout."""
    prefixes = {"time_embedding.linear_1.": "time_embed.0.", "time_embedding.linear_2.": "time_embed.2.",
                "conv_in.": "input_blocks.0.0.", "conv_norm_out.": "out.0.", "conv_out.": "out.2.",
                "mid_block.resnets.0.": "middle_block.0.", "mid_block.attentions.0.": "middle_block.1.",
                "mid_block.resnets.1.": "middle_block.2."}
    for b in range(n_blocks):
        for j in range(per_block):
            i = 1 + b * (per_block + 1) + j
            prefixes[f"down_blocks.{b}.resnets.{j}."] = f"input_blocks.{i}.0."
            prefixes[f"down_blocks.{b}.attentions.{j}."] = f"input_blocks.{i}.1."
        prefixes[f"down_blocks.{b}.downsamplers.0.conv."] = f"input_blocks.{(b + 1) * (per_block + 1)}.0.op."
        for j in range(per_block + 1):
            i = b * (per_block + 1) + j
            prefixes[f"up_blocks.{b}.resnets.{j}."] = f"output_blocks.{i}.0."
            prefixes[f"up_blocks.{b}.attentions.{j}."] = f"output_blocks.{i}.1."
        has_attn = any(k.startswith(f"up_blocks.{b}.attentions.") for k in sd)
        prefixes[f"up_blocks.{b}.upsamplers.0."] = f"output_blocks.{b * (per_block + 1) + per_block}.{2 if has_attn else 1}."
    out = {}
    for key, value in sd.items():
        old = next(p for p in prefixes if key.startswith(p))
        rest = key[len(old):]
        if ".resnets." in old:
            head, _, tail = rest.partition(".")
            rest = _UNET_RESNET.get(head, head) + "." + tail
        out["model.diffusion_model." + prefixes[old] + rest] = value
    return out


def _vae_to_ldm(sd: dict, n_blocks: int) -> dict:
    """Rename a diffusers AutoencoderKL state dict to the `first_stage_model.*` layout."""
    out = {}
    for key, value in sd.items():
        new = key.replace("conv_norm_out.", "norm_out.").replace("conv_shortcut.", "nin_shortcut.")
        new = new.replace("mid_block.resnets.0.", "mid.block_1.").replace("mid_block.resnets.1.", "mid.block_2.")
        if "mid_block.attentions.0." in new:
            new = new.replace("mid_block.attentions.0.", "mid.attn_1.")
            for a, b in _VAE_ATTN:
                new = new.replace(".attn_1." + a, ".attn_1." + b)
            if value.ndim == 2:  # the original attention uses 1x1 convolutions
                value = value[:, :, None, None]
        for b in range(n_blocks):
            new = new.replace(f"encoder.down_blocks.{b}.resnets.", f"encoder.down.{b}.block.")
            new = new.replace(f"encoder.down_blocks.{b}.downsamplers.0.", f"encoder.down.{b}.downsample.")
            new = new.replace(f"decoder.up_blocks.{b}.resnets.", f"decoder.up.{n_blocks - 1 - b}.block.")
            new = new.replace(f"decoder.up_blocks.{b}.upsamplers.0.", f"decoder.up.{n_blocks - 1 - b}.upsample.")
        out["first_stage_model." + new] = value
    return out


def write_sd_single_file(folder: Path, path: Path) -> Path:
    """Write the folder's UNet, VAE and text encoder as one CompVis-layout .safetensors (Civitai style).

    Load it back with
    `StableDiffusionPipeline.from_single_file(str(path), config=str(folder), local_files_only=True)`:
    `config` supplies the component configs, tokenizer and scheduler, since a tiny model can't be recognised
    from its keys.
    """
    from safetensors.torch import load_file, save_file

    folder, path = Path(folder), Path(path)
    unet_cfg = json.loads((folder / "unet" / "config.json").read_text())
    vae_cfg = json.loads((folder / "vae" / "config.json").read_text())
    ckpt = _unet_to_ldm(load_file(folder / "unet" / "diffusion_pytorch_model.safetensors"),
                        len(unet_cfg["block_out_channels"]), unet_cfg["layers_per_block"])
    ckpt.update(_vae_to_ldm(load_file(folder / "vae" / "diffusion_pytorch_model.safetensors"),
                            len(vae_cfg["block_out_channels"])))
    for key, value in load_file(folder / "text_encoder" / "model.safetensors").items():
        key = key.removeprefix("text_model.")  # transformers >= 5.6 flattened CLIPTextModel
        ckpt["cond_stage_model.transformer.text_model." + key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in ckpt.items()}, str(path))
    return path


# ---------------------------------------------------------------- LoRA files

def _lora_layers(seed: int, rank: int, cross_attention_dim: int) -> dict:
    """Random (non-identity) attention LoRA weights for the tiny UNet, keyed like peft (`...to_q.lora_A.weight`)."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    unet = _unet(cross_attention_dim)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS, init_lora_weights=False))
    return {k: v.detach().clone().contiguous() for k, v in get_peft_model_state_dict(unet).items()}


def _to_kohya(layers: dict, prefix: str = "lora_unet_") -> dict:
    """Rename peft LoRA keys to kohya/sd-scripts keys (`lora_unet_..._to_q.lora_down.weight`, `.alpha`)."""
    out = {}
    for key, value in layers.items():
        module, kind = key.rsplit(".lora_", 1)
        name = prefix + module.replace(".", "_")
        out[f"{name}.lora_{'down' if kind.startswith('A') else 'up'}.weight"] = value
        if kind.startswith("A"):
            out[f"{name}.alpha"] = torch.tensor(float(value.shape[0]))  # alpha = rank, so scale 1
    return out


def write_lora(path: Path, seed: int, layout: str = "diffusers", rank: int = 4,
               cross_attention_dim: int = 8) -> Path:
    """Write a UNet attention LoRA as one .safetensors file; layout "diffusers" or "kohya" (same weights)."""
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    layers = _lora_layers(seed, rank, cross_attention_dim)
    if layout == "diffusers":
        StableDiffusionPipeline.save_lora_weights(
            save_directory=str(path.parent), unet_lora_layers=layers, weight_name=path.name, safe_serialization=True)
    elif layout == "kohya":
        save_file(_to_kohya(layers), str(path))
    else:
        raise ValueError(f"unknown LoRA layout {layout!r}")
    return path


def write_sdxl_like_lora(path: Path, seed: int, layout: str = "kohya") -> Path:
    """Write a LoRA that carries SDXL markers: cross-attention width 16 plus second-text-encoder keys.

    kohya layout adds `lora_te2_*` keys; diffusers layout adds `text_encoder_2.*` keys.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    layers = _lora_layers(seed, 4, 16)
    gen = torch.Generator().manual_seed(seed)
    te2 = {"text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight": torch.randn(4, 16, generator=gen),
           "text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight": torch.randn(16, 4, generator=gen)}
    if layout == "kohya":
        state = {**_to_kohya(layers), **_to_kohya(te2, prefix="lora_te2_")}
    else:
        state = {**{"unet." + k: v for k, v in layers.items()}, **{"text_encoder_2." + k: v for k, v in te2.items()}}
    save_file(state, str(path))
    return path


def write_pickle_lora(path: Path, seed: int) -> Path:
    """Write the diffusers-layout LoRA of `seed` with torch.save (pickle), e.g. as .bin or .ckpt."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"unet." + k: v for k, v in _lora_layers(seed, 4, 8).items()}, path)
    return path


# ---------------------------------------------------------------- tiny SDXL

SDXL_TEXT_WIDTH = 8
"""Hidden size of each tiny SDXL text encoder; the UNet's cross-attention width is twice this (16)."""


def _sdxl_unet():
    """An SDXL-shaped UNet ("text_time" added conditioning, linear projections, two transformer layers deep)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=6 * 8 + SDXL_TEXT_WIDTH,
        cross_attention_dim=2 * SDXL_TEXT_WIDTH, norm_num_groups=2)


def _sdxl_text_config(vocab_size: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=SDXL_TEXT_WIDTH, hidden_act="gelu",
        intermediate_size=2 * SDXL_TEXT_WIDTH, num_attention_heads=2, num_hidden_layers=2,
        vocab_size=vocab_size, max_position_embeddings=77, projection_dim=SDXL_TEXT_WIDTH)


def build_sdxl_pipeline(seed: int = 0):
    """Return an in-memory tiny StableDiffusionXLPipeline (seeded) that renders 64x64 in milliseconds."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = _tokenizer()
    torch.manual_seed(seed)
    unet = _sdxl_unet()
    vae = AutoencoderKL(
        block_out_channels=[4, 8], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=2,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        sample_size=64, scaling_factor=0.13025)
    text_encoder = CLIPTextModel(_sdxl_text_config(len(tokenizer)))
    text_encoder_2 = CLIPTextModelWithProjection(_sdxl_text_config(len(tokenizer)))
    scheduler = EulerDiscreteScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        prediction_type="epsilon", steps_offset=1, timestep_spacing="leading", interpolation_type="linear",
        use_karras_sigmas=False)
    return StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=_tokenizer(), unet=unet, scheduler=scheduler, image_encoder=None, feature_extractor=None,
        force_zeros_for_empty_prompt=True, add_watermarker=False)


def write_sdxl_folder(folder: Path, seed: int = 0) -> Path:
    """Save the tiny SDXL pipeline as a diffusers folder (text_encoder_2/, tokenizer_2/, ... as safetensors)."""
    folder = Path(folder)
    build_sdxl_pipeline(seed).save_pretrained(folder, safe_serialization=True)
    return folder


def _sdxl_lora_layers(seed: int, rank: int) -> tuple[dict, dict]:
    """Random attention LoRA weights for the tiny SDXL UNet and its second text encoder, keyed like peft."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(seed)
    unet = _sdxl_unet()
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS, init_lora_weights=False))
    text = CLIPTextModelWithProjection(_sdxl_text_config(514))
    text.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=False,
                                target_modules=["q_proj", "k_proj", "v_proj", "out_proj"]))

    def grab(model) -> dict:
        return {k: v.detach().clone().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    return grab(unet), grab(text)


def write_sdxl_lora(path: Path, seed: int, layout: str = "diffusers", rank: int = 4,
                    text_encoder_2: bool = True) -> Path:
    """Write a LoRA for the tiny SDXL pipeline as one .safetensors file.

    "diffusers" layout: `unet.*` (+ `text_encoder_2.*`) keys. "kohya" layout: what sd-scripts writes for SDXL,
    UNet modules under their original names (`lora_unet_input_blocks_2_1_..._to_q`) plus `lora_te2_*` keys.
    With text_encoder_2 the file carries the SDXL marker (second text encoder keys).
    """
    from diffusers import StableDiffusionXLPipeline
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    unet, text = _sdxl_lora_layers(seed, rank)
    text = text if text_encoder_2 else {}
    if layout == "diffusers":
        StableDiffusionXLPipeline.save_lora_weights(
            save_directory=str(path.parent), unet_lora_layers=unet, text_encoder_2_lora_layers=text or None,
            weight_name=path.name, safe_serialization=True)
    elif layout == "kohya":
        sgm = {k.removeprefix("model.diffusion_model."): v for k, v in _unet_to_ldm(unet, 2, 1).items()}
        save_file({**_to_kohya(sgm), **_to_kohya(text, prefix="lora_te2_")}, str(path))
    else:
        raise ValueError(f"unknown LoRA layout {layout!r}")
    return path


def build_clip(seed: int = 0):
    """Return a tiny random CLIPModel (8-wide projections, 32x32 images) and its processor."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = _tokenizer()
    config = CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=8)
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return model, CLIPProcessor(image_processor=images, tokenizer=tokenizer)


def write_clip_folder(folder: Path, seed: int = 0) -> Path:
    """Save a tiny CLIP model and processor as a folder that CLIPModel.from_pretrained reads; return it."""
    model, processor = build_clip(seed)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
