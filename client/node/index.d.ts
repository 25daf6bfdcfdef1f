// Types of the actd Node.js client (index.js).
import type { ChannelCredentials } from '@grpc/grpc-js';

/** Element type on the wire. bfloat16/float16 data are Uint16Array bit patterns. */
export type DType = 'float32' | 'float64' | 'bfloat16' | 'float16';
export type TensorData = Float32Array | Float64Array | Uint16Array;

/** A row-major tensor. `shape` [] is a scalar. */
export interface Tensor<D extends TensorData = TensorData> {
  data: D;
  shape: number[];
  dtype: DType;
}

/** What a call accepts as a tensor: a result, a typed array, numbers, or { data, shape }. */
export type TensorLike =
  | Tensor
  | { data: TensorData | number[]; shape?: number[] }
  | TensorData
  | number[]
  | number;

export type ParamValue = number | string | boolean;

/** The value types an options object holds (its index signature covers them all). */
export type OptionValue = ParamValue | TensorLike | Record<string, ParamValue>
  | Record<string, TensorLike> | Record<string, string> | undefined;

export interface CallOptions {
  /** Deadline of this call in seconds (default: the client's). */
  timeout?: number;
  /** Extra gRPC metadata of this call. */
  metadata?: Record<string, string>;
}

export interface ForwardOptions extends CallOptions {
  /** Activation parameters, e.g. { approximate: 'tanh' }. */
  params?: Record<string, ParamValue>;
  /** Learnable tensors, sent in the input's dtype. */
  weights?: Record<string, TensorLike>;
  /** Required for a Uint16Array input ('bfloat16' | 'float16'); converts float input otherwise. */
  dtype?: DType;
  /** Any other key is an activation parameter: forward('elu', x, { alpha: 0.5 }). */
  [param: string]: OptionValue;
}

export interface BackwardOptions extends ForwardOptions {
  /** dL/dy; absent means ones. */
  dy?: TensorLike;
  /** The forward output, if known. */
  y?: TensorLike;
}

export interface ClientOptions {
  /** Default deadline of every call, in seconds. */
  timeout?: number;
  /** Sent as "authorization: Bearer <token>". */
  token?: string;
  /** grpc.credentials.createSsl(...) for TLS; default plaintext. */
  credentials?: ChannelCredentials;
  /** Service config JSON; default the package's (round_robin, retries on UNAVAILABLE); null: none. */
  serviceConfig?: string | null;
  /** Extra gRPC channel options. */
  channelOptions?: Record<string, string | number>;
}

export interface Gradients {
  gradInput: Tensor;
  gradParams: Record<string, Tensor>;
}

export type BatchItem =
  | ({ op: 'forward'; name: string; x: TensorLike; id?: string } & Omit<ForwardOptions, keyof CallOptions>)
  | ({ op: 'backward'; name: string; x: TensorLike; id?: string } & Omit<BackwardOptions, keyof CallOptions>);

/** A failed call: `code` is a grpc.status number, `codeName` its name, `details` the message. */
export class ActdError extends Error {
  code: number;
  codeName: string;
  details: string;
}

export class Client {
  constructor(target: string, options?: ClientOptions);
  close(): void;
  forward(name: string, x: TensorLike, opts?: ForwardOptions): Promise<Tensor>;
  forwardWithExtras(name: string, x: TensorLike, opts?: ForwardOptions):
    Promise<{ output: Tensor; extras: Record<string, Tensor> }>;
  backward(name: string, x: TensorLike, opts?: BackwardOptions): Promise<Gradients>;
  batch(items: BatchItem[], opts?: CallOptions): Promise<Array<Tensor | Gradients | ActdError>>;
  /** ActivationInfo objects as protobuf-js plain objects (snake_case fields). */
  listActivations(opts?: CallOptions): Promise<Array<{ name: string; [field: string]: unknown }>>;
  serverInfo(opts?: CallOptions): Promise<{ version: string; isa: string; [field: string]: unknown }>;
}

/** grpc.status codes. */
export const status: Record<string, number>;
/** The recommended service config shipped with the package, as JSON text. */
export function defaultServiceConfig(): string;
/** Numbers -> bfloat16 bit patterns, round to nearest even; NaN stays NaN. */
export function toBfloat16Bits(values: Float32Array | Float64Array | number[]): Uint16Array;
/** Numbers -> float16 bit patterns, round to nearest even, with subnormals; NaN stays NaN. */
export function toFloat16Bits(values: Float32Array | Float64Array | number[]): Uint16Array;
/** bfloat16 bit patterns -> values (exact). */
export function fromBfloat16Bits(bits: Uint16Array | number[]): Float32Array;
/** float16 bit patterns -> values (exact). */
export function fromFloat16Bits(bits: Uint16Array | number[]): Float32Array;
