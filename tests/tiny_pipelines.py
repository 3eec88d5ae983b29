"""Tiny random-weight image-to-video pipelines for tests, built from in-code configs (no downloads).

They prove the engine's code path (loading, calling, post-processing), never the quality: the weights are
random. `save_tiny_preset()` writes one to a model dir laid out the way the preset expects, so tests go
through the engine's real loader with `local_files_only`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLLTXVideo,
    AutoencoderKLTemporalDecoder,
    AutoencoderKLWan,
    DiffusionPipeline,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    LTXConditionPipeline,
    LTXVideoTransformer3DModel,
    StableVideoDiffusionPipeline,
    UNetSpatioTemporalConditionModel,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    T5Config,
    T5EncoderModel,
    T5Tokenizer,
    UMT5Config,
    UMT5EncoderModel,
)

from worker.engines.presets import PRESETS, Preset

_WORDS = "a photo of person smiling family gentle motion hair wind breath light camera still faces".split()


def tiny_t5_tokenizer() -> T5Tokenizer:
    # transformers 5 builds a T5 tokenizer from an in-code Unigram vocabulary: no spiece.model file needed.
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [("\u2581" + word, -5.0) for word in _WORDS]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def tiny_t5_encoder(d_model: int = 32) -> T5EncoderModel:
    config = T5Config(
        vocab_size=64,
        d_model=d_model,
        d_ff=37,
        d_kv=8,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return T5EncoderModel(config).eval()


def tiny_umt5_encoder(d_model: int = 32) -> UMT5EncoderModel:
    """Wan's text encoder family (UMT5), tiny."""
    config = UMT5Config(
        vocab_size=64,
        d_model=d_model,
        d_ff=37,
        d_kv=8,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return UMT5EncoderModel(config).eval()


def build_svd() -> StableVideoDiffusionPipeline:
    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=8,
        projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        latent_channels=4,
    )
    # The pipeline resizes the photo to 224 for CLIP, so the tiny encoder must accept 224 too.
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=5,
            num_attention_heads=4,
            image_size=224,
            intermediate_size=37,
            patch_size=32,
        )
    )
    return StableVideoDiffusionPipeline(
        unet=unet,
        image_encoder=image_encoder,
        scheduler=scheduler,
        vae=vae,
        feature_extractor=CLIPImageProcessorPil(crop_size=32, size=32),
    )


def build_ltx() -> LTXConditionPipeline:
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    return LTXConditionPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=tiny_t5_encoder(),
        tokenizer=tiny_t5_tokenizer(),
    )


def build_wan() -> WanPipeline:
    """Wan 2.2 TI2V layout: a text-to-video pipeline whose first latent frame is the photo (expand_timesteps).

    The published weights declare `WanPipeline`; the engine loads them as `WanImageToVideoPipeline`, so the
    tiny one is saved the same way. The VAE is built 2.2-style (patchified, residual, 16x spatial).
    """
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=8,
        decoder_base_dim=8,
        z_dim=8,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        is_residual=True,
        in_channels=12,
        out_channels=12,
        patch_size=2,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        latents_mean=[0.0] * 8,
        latents_std=[1.0] * 8,
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=8,
        out_channels=8,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    return WanPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        text_encoder=tiny_umt5_encoder(),
        tokenizer=tiny_t5_tokenizer(),
        expand_timesteps=True,
    )


_BUILDERS = {"svd-xt": build_svd, "ltx": build_ltx, "wan": build_wan}


def build_tiny(preset: str) -> DiffusionPipeline:
    """The tiny pipeline as the engine runs it: an instance of the class the preset names."""
    pipe = _BUILDERS[preset]()
    if preset == "wan":
        return WanImageToVideoPipeline(
            **pipe.components, image_encoder=None, image_processor=None, expand_timesteps=True
        )
    return pipe


def save_tiny_preset(preset: str, model_dir: Path) -> Path:
    """Write a tiny pipeline to MODEL_DIR/<preset>/ as the preset's real weights are laid out."""
    folder = model_dir / preset
    _BUILDERS[preset]().save_pretrained(folder, variant=PRESETS[preset].variant)
    return folder


def tiny_presets() -> dict[str, Preset]:
    """The real presets, shrunk to sizes, lengths and step counts the tiny pipelines run in a second."""
    # Multiples of 32 in both orientations: LTX and Wan need it, and the photo's aspect picks one.
    sizes = ((96, 64), (64, 96))
    return {
        # SVD's tiny VAE only halves the frame, and its attention cost grows with the square of that.
        "svd-xt": replace(PRESETS["svd-xt"], sizes=((64, 32), (32, 64)), steps=2, min_frames=5, max_frames=5),
        "ltx": replace(PRESETS["ltx"], sizes=sizes, steps=2, max_frames=17),
        "wan": replace(PRESETS["wan"], sizes=sizes, steps=2, max_frames=17),
    }
