"""One optimisation step of a LoRA run: encode the pictures, add noise, predict it, and learn from the error
(with prior preservation when a class image rides along)."""

from __future__ import annotations

from tools.train.settings import Trainee, TrainSettings


def train_step(trainee: Trainee, settings: TrainSettings, noise_scheduler, batch: list,
               embeddings: dict) -> tuple[float, str]:
    """Run one optimisation step on [(image, prompt), ...]; the first is the instance, a second the class image.

    Returns the loss and the prompt the instance picture was encoded with.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers.utils.torch_utils import randn_tensor

    pipe, device, generator = trainee.pipe, trainee.device, trainee.generator
    pixels = np.stack([np.asarray(image, dtype=np.float32) for image, _ in batch]) / 127.5 - 1.0
    pixels = torch.from_numpy(pixels).permute(0, 3, 1, 2).to(device, trainee.dtype)
    with trainee.autocast():
        with torch.no_grad():
            latents = pipe.vae.encode(pixels).latent_dist.sample(generator=generator)
            latents = latents * pipe.vae.config.scaling_factor
        noise = randn_tensor(latents.shape, generator=generator, device=torch.device(device), dtype=latents.dtype)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(batch),),
                                  generator=generator).to(device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        used = [prompt for _, prompt in batch]
        texts = torch.cat([_embed(trainee, settings, prompt, embeddings) for prompt in used])
        predicted = pipe.unet(noisy, timesteps, texts).sample
    if noise_scheduler.config.prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(latents, noise, timesteps)
    else:
        target = noise
    each = F.mse_loss(predicted.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    loss = each[0] + settings.prior_weight * each[1] if len(batch) > 1 else each[0]
    if not torch.isfinite(loss):
        return float(loss.item()), used[0]
    trainee.optimizer.zero_grad(set_to_none=True)
    trainee.scaler.scale(loss).backward()
    trainee.scaler.unscale_(trainee.optimizer)
    torch.nn.utils.clip_grad_norm_(trainee.params, 1.0)
    trainee.scaler.step(trainee.optimizer)
    trainee.scaler.update()
    return float(loss.item()), used[0]


def _embed(trainee: Trainee, settings: TrainSettings, prompt: str, cache: dict):
    """Encode a prompt with the text encoder; kept per prompt while the text encoder is frozen."""
    import torch

    if prompt in cache:
        return cache[prompt]
    tokenizer = trainee.pipe.tokenizer
    ids = tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids.to(trainee.device)
    if settings.text_encoder:
        return trainee.pipe.text_encoder(ids)[0]
    with torch.no_grad():
        cache[prompt] = trainee.pipe.text_encoder(ids)[0]
    return cache[prompt]
