"""Training configuration of the digits CNN. Imports no JAX: `plugin` hands it to Kiln."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClassifierTrainConfig(BaseModel):
    """Training configuration of the digits CNN; the defaults give the shipped weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(20, ge=1, description="Passes over the training split.")
    batch_size: int = Field(64, ge=1, le=1024, description="Images per optimizer step.")
    learning_rate: float = Field(3e-3, gt=0, description="Peak learning rate (AdamW).")
    warmup_epochs: float = Field(1.0, ge=0, description="Linear warm-up before cosine decay.")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW decoupled weight decay.")
    shift_pixels: int = Field(
        2, ge=0, le=4, description="Random translation of each image, up to this many pixels."
    )
    seed: int = Field(0, description="Seed of initialization, shuffling and augmentation.")
