export {
  KilnClient,
  MAX_MESSAGE_BYTES,
  type GenerateChunk,
  type GenerateOptions,
  type KilnCallOptions,
  type KilnClientOptions,
  type ModelInfo,
  type ModelVersionInfo,
  type PredictOptions,
  type StreamResult,
  type TensorSpec,
} from "./client.js";
export { Code, ERROR_DOMAIN, type FieldViolation, KilnError } from "./errors.js";
export {
  type DType,
  dtypeSize,
  fromTensorProto,
  type Tensor,
  type TensorInput,
  toTensorProto,
  type TypedArray,
} from "./tensor.js";
