"""MLServer custom runtimes serving Kiln's `digits` and `digits-gan` (runs in .venv-mlserver).

They load the same weights through the same plugin classes Kiln serves
(`kiln_classifier.serving.DigitsClassifier`, `kiln_gan.serving.DigitsGenerator`), and do
what a careful MLServer runtime author would: compile every batch bucket at load, pad a
(possibly adaptively batched) request to the nearest bucket so nothing compiles on the
request path, and encode with MLServer's own `NumpyCodec` (MLServer answers raw bytes when
the request came raw). Model calls run directly in MLServer's event loop, as MLServer's own
runtimes do. JAX's CPU dispatch is made synchronous here too, as in `kiln serve`, so both
servers pay the same for a model call.

model-settings.json ``parameters``: ``uri`` = the version directory of the weights;
``extra.buckets`` = batch sizes to compile.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import jax
import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse

from kiln.server.plugin import GenerationRequest, LoadContext

jax.config.update("jax_cpu_enable_async_dispatch", False)

#: Samples per chunk when generating all of a request's samples at once.
GENERATE_CHUNK = 64


class _BucketedRuntime(MLModel):
    """Shared: load a Kiln plugin model, pad each batch to a compiled bucket."""

    default_buckets: tuple[int, ...] = (1,)

    def _context(self) -> LoadContext:
        params = self.settings.parameters
        extra = (params.extra if params else None) or {}
        self._buckets = tuple(sorted(extra.get("buckets", self.default_buckets)))
        uri = params.uri if params else None
        if not uri:
            raise ValueError(f"model {self.name}: set parameters.uri to the weights directory")
        return LoadContext(Path(uri), "1", self._buckets)

    def _predict_padded(self, name: str, batch: np.ndarray) -> dict[str, np.ndarray]:
        # Adaptive batching caps the number of requests, not items: split what is too big.
        largest = self._buckets[-1]
        parts = [
            self._predict_part(name, batch[i : i + largest]) for i in range(0, len(batch), largest)
        ]
        if len(parts) == 1:
            return parts[0]
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    def _predict_part(self, name: str, batch: np.ndarray) -> dict[str, np.ndarray]:
        size = batch.shape[0]
        bucket = self._buckets[bisect.bisect_left(self._buckets, size)]
        if bucket != size:
            padded = np.zeros((bucket, *batch.shape[1:]), dtype=batch.dtype)
            padded[:size] = batch
            batch = padded
        outputs = self._model.predict({name: batch})
        return {key: np.asarray(value)[:size] for key, value in outputs.items()}

    def _response(self, outputs: dict[str, np.ndarray]) -> InferenceResponse:
        encoded = []
        for key, value in outputs.items():
            output = NumpyCodec.encode_output(key, value)
            output.shape = list(value.shape)  # the codec makes [N] into [N, 1]; keep [N]
            encoded.append(output)
        return InferenceResponse(model_name=self.name, model_version=self.version, outputs=encoded)


class DigitsRuntime(_BucketedRuntime):
    """`digits`: ``image`` FP32 [N, 28, 28, 1] -> logits, probabilities, label."""

    default_buckets = (1, 6, 16, 32, 64)

    async def load(self) -> bool:
        from kiln_classifier.serving import DigitsClassifier

        self._model = DigitsClassifier(self._context())
        self._model.load()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        images = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32, copy=False)
        return self._response(self._predict_padded("image", images))


class DigitsGanRuntime(_BucketedRuntime):
    """`digits-gan`: ``z`` FP32 [N, 100] -> images; or, without inputs, ``count`` samples."""

    default_buckets = (1, 16, 32, 64)

    async def load(self) -> bool:
        from kiln_gan.serving import DigitsGenerator

        self._model = DigitsGenerator(self._context())
        self._model.load()
        # Compile the generation chunk too, so the first request does not pay for it.
        for _ in self._model.generate(GenerationRequest(1, 0, GENERATE_CHUNK)):
            pass
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if payload.inputs:
            z = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32, copy=False)
            return self._response(self._predict_padded("z", z))
        params = payload.parameters.model_dump() if payload.parameters else {}
        request = GenerationRequest(
            count=int(params.get("count", 1)),
            seed=int(params.get("seed", 0)),
            chunk_size=GENERATE_CHUNK,
        )
        images = np.concatenate(list(self._model.generate(request)))
        return self._response({"images": images})
