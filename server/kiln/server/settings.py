"""Server settings: one class, read from ``KILN_*`` environment variables and CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BatchingSettings(BaseModel):
    """Dynamic batching of one model's Predict requests.

    Attributes:
        max_batch_size: Largest batch assembled from queued requests (and the largest a
            single request may carry). ``None`` uses the plugin's value.
        max_queue_delay_us: How long the first request of every batch waits for others
            (a fixed window, as Triton's). The default 0 still batches: requests that arrive
            while the model is busy run together in its next call.
        busy_queue_delay_us: Used when `max_queue_delay_us` is 0. While the model is under
            concurrent load (its last batch held more than one request), the first request
            of a batch waits up to this long until as many items are queued as the last
            batch carried. Bigger batches cost less per item; a lone client (batches of one
            request) never waits. 0 turns it off.
        max_queue_size: Requests waiting beyond this are refused with RESOURCE_EXHAUSTED.
        batch_buckets: Batch sizes to compile; ``None`` uses the plugin's measured buckets.
    """

    max_batch_size: int | None = Field(default=None, ge=1)
    max_queue_delay_us: int = Field(default=0, ge=0)
    busy_queue_delay_us: int = Field(default=2000, ge=0)
    max_queue_size: int = Field(default=1024, ge=1)
    batch_buckets: tuple[int, ...] | None = None


class KilnSettings(BaseSettings):
    """Everything ``kiln serve`` can be told. Env: ``KILN_<FIELD>`` (nested: ``__``)."""

    model_config = SettingsConfigDict(env_prefix="KILN_", env_nested_delimiter="__")

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=50051, ge=0, le=65535, description="Port; 0 picks a free one.")
    model_repository: Path | None = Field(
        default=None,
        description="Model repository (<repo>/<model>/<version>/); without it the plugins' "
        "shipped weights are served.",
    )
    version_policy_latest: int = Field(
        default=1, ge=1, description="How many of the newest versions of each model to serve."
    )
    block_plugins: list[str] = Field(
        default_factory=list, description="Plugin or distribution names not to load."
    )
    max_message_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest request or response message."
    )
    max_generate_count: int = Field(default=4096, ge=1, description="Most samples per Generate.")
    max_chunk_size: int = Field(default=256, ge=1, description="Most samples per Generate chunk.")
    default_chunk_size: int = Field(
        default=16,
        ge=1,
        description="Chunk size when a client leaves it to the server; "
        "compiled at load, so the default path never compiles on a request.",
    )
    batching: BatchingSettings = Field(default_factory=BatchingSettings)
    model_batching: dict[str, BatchingSettings] = Field(
        default_factory=dict,
        description="Per-model overrides of `batching`: the fields given replace the "
        "global ones, the rest come from `batching`.",
    )
    grace_period_s: float = Field(
        default=10.0, ge=0, description="On SIGTERM, how long in-flight calls may finish."
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop",
        description="Event loop to serve on: uvloop (faster; falls back to asyncio where it "
        "is not installed) or the standard library's.",
    )
    compile_cache_dir: Path | None = Field(
        default=None, description="JAX persistent compilation cache directory (optional)."
    )
    tls_cert: Path | None = Field(default=None, description="PEM certificate chain for TLS.")
    tls_key: Path | None = Field(default=None, description="PEM private key for TLS.")
    tls_client_ca: Path | None = Field(
        default=None, description="PEM CA bundle; when set, clients must present a certificate."
    )
    reflection: bool = Field(default=True, description="Serve gRPC server reflection.")
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the calls that change what is served (OIP repository "
        "load and unload) must carry as 'authorization: Bearer <token>'; without it anyone "
        "who reaches the port may load and unload models.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")

    def batching_for(self, model: str) -> BatchingSettings:
        """The batching settings that apply to `model`: its override merged over `batching`.

        Only the fields the override sets explicitly replace the global ones, so
        ``KILN_MODEL_BATCHING__digits__max_queue_delay_us=500`` leaves ``digits`` with the
        global ``max_queue_size`` rather than the default.
        """
        override = self.model_batching.get(model)
        if override is None:
            return self.batching
        return self.batching.model_copy(update=override.model_dump(exclude_unset=True))
