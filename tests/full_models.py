"""Full-size SD 1.5 (plain and inpainting), CLIP ViT-L/14 and SAM ViT-B architectures with random weights.

Speed depends on shapes, not on what the weights learned, so these stand in for the real models
without downloading anything. They are far too slow for the default CPU test run.
"""

from __future__ import annotations

from pathlib import Path


def _unet(in_channels: int = 4):
    """SD 1.5's UNet (859.5 M parameters with 4 input channels; 9 for inpainting checkpoints)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=64, in_channels=in_channels, out_channels=4, layers_per_block=2, cross_attention_dim=768,
        block_out_channels=(320, 640, 1280, 1280), attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)


def _parts(in_channels: int = 4) -> dict:
    """Random-weight SD 1.5 components (UNet, VAE, text encoder, tokenizer, scheduler) as pipeline arguments."""
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler
    from tiny_models import _tokenizer
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = _tokenizer()
    unet = _unet(in_channels)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=512, layers_per_block=2,
        block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
        num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
        bos_token_id=0, eos_token_id=1, pad_token_id=1))
    scheduler = DPMSolverMultistepScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        prediction_type="epsilon", steps_offset=1, timestep_spacing="leading")
    for part in (unet, vae, text_encoder):
        part.half()  # fp16 files: half the disk; .half() rather than .to() keeps diffusers from warning
    return dict(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def write_full_size_sd(folder: Path, loras: int = 1) -> tuple[Path, Path]:
    """Save a random-weight SD 1.5 pipeline (fp16 files) and rank-8 attention LoRAs for it.

    Returns the model folder and the first LoRA (lora-r8.safetensors); further LoRAs, each from its
    own seed, are lora-r8-2.safetensors, lora-r8-3.safetensors, and so on.
    """
    import torch
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from tiny_models import LORA_TARGETS

    torch.manual_seed(0)
    parts = _parts()
    model = folder / "sd15-random"
    StableDiffusionPipeline(**parts).save_pretrained(model, safe_serialization=True)
    unet = parts["unet"]
    written = []
    for number in range(1, loras + 1):
        torch.manual_seed(number)
        name = f"lora{number}"
        unet.add_adapter(LoraConfig(r=8, lora_alpha=8, target_modules=LORA_TARGETS, init_lora_weights=False),
                         adapter_name=name)
        state = get_peft_model_state_dict(unet, adapter_name=name)
        layers = {k: v.detach().to(torch.float16).contiguous() for k, v in state.items()}
        lora = folder / ("lora-r8.safetensors" if number == 1 else f"lora-r8-{number}.safetensors")
        StableDiffusionPipeline.save_lora_weights(save_directory=str(folder), unet_lora_layers=layers,
                                                  weight_name=lora.name, safe_serialization=True)
        written.append(lora)
    return model, written[0]


def full_size_loras(folder: Path) -> list[Path]:
    """Return the LoRAs write_full_size_sd wrote into `folder`, in the order it wrote them."""
    found = sorted(folder.glob("lora-r8-*.safetensors"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [folder / "lora-r8.safetensors", *found]


def write_full_size_inpaint(folder: Path) -> Path:
    """Save a random-weight SD 1.5 inpainting pipeline (9-channel UNet, fp16 files); return its folder."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline

    torch.manual_seed(1)
    model = folder / "sd15-inpaint-random"
    StableDiffusionInpaintPipeline(**_parts(in_channels=9)).save_pretrained(model, safe_serialization=True)
    return model


def write_full_size_sam(folder: Path) -> Path:
    """Save a random-weight SAM ViT-B as sam_vit_b.safetensors (its name tells the loader the size)."""
    import torch
    from safetensors.torch import save_file

    from tools.repair.segment import build_sam, sam_config

    torch.manual_seed(0)
    state = build_sam(sam_config("vit_b")).state_dict()
    path = folder / "sam_vit_b.safetensors"
    save_file({key: value.contiguous() for key, value in state.items()}, str(path))
    return path


def write_full_size_clip(folder: Path) -> Path:
    """Save a random-weight CLIP ViT-L/14 (224px, 768-wide projections) with a processor; return the folder."""
    import torch
    from tiny_models import _tokenizer
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = _tokenizer()
    config = CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                         num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                         bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                           image_size=224, patch_size=14, hidden_act="quick_gelu"),
        projection_dim=768)
    torch.manual_seed(0)
    model = CLIPModel(config).half()
    images = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    path = folder / "clip-vit-l14-random"
    model.save_pretrained(path)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(path)
    return path
