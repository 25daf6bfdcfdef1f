// A thin Node.js client for the actd ActivationService: one method per RPC, each
// returning a Promise. A tensor is { data, shape, dtype } with data a Float32Array,
// Float64Array, or Uint16Array of bfloat16/float16 bit patterns; tensors travel as
// raw_data (little-endian, row-major, see activation.proto) through Buffer views,
// without per-element work on little-endian hosts. The package carries its
// activation.proto and the recommended service config (round_robin, retries on
// UNAVAILABLE), both loaded from the package folder.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const half = require('./half');

const PROTO_ROOT = path.join(__dirname, 'proto');
const packageDefinition = protoLoader.loadSync('activation/v1/activation.proto', {
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
  includeDirs: [PROTO_ROOT],
});
const pb = grpc.loadPackageDefinition(packageDefinition).activation.v1;
const LITTLE_ENDIAN = os.endianness() === 'LE';
const SERVICE_CONFIG_PATH = path.join(__dirname, 'service_config.json');

/** The recommended service config shipped with the package, as JSON text. */
function defaultServiceConfig() {
  return fs.readFileSync(SERVICE_CONFIG_PATH, 'utf8');
}

const WIRE = {
  float32: { enum: 'DATA_TYPE_FLOAT32', Type: Float32Array },
  float64: { enum: 'DATA_TYPE_FLOAT64', Type: Float64Array },
  bfloat16: { enum: 'DATA_TYPE_BFLOAT16', Type: Uint16Array },
  float16: { enum: 'DATA_TYPE_FLOAT16', Type: Uint16Array },
};
const DTYPE_OF_ENUM = Object.fromEntries(Object.entries(WIRE).map(([k, v]) => [v.enum, k]));
const ACCEPTED = 'a Float32Array, a Float64Array, a Uint16Array of bit patterns with dtype '
  + "'bfloat16' or 'float16', an array of numbers, a number, or { data, shape } of these";
const OPTION_KEYS = ['params', 'weights', 'dtype', 'timeout', 'metadata'];
const BACKWARD_KEYS = ['dy', 'y'];

/** A failed call: `code` is a grpc.status number, `codeName` its name, `details` the message. */
class ActdError extends Error {
  constructor(code, details) {
    const codeName = Object.keys(grpc.status).find((k) => grpc.status[k] === code) || 'UNKNOWN';
    super(`${codeName}: ${details}`);
    this.name = 'ActdError';
    this.code = code;
    this.codeName = codeName;
    this.details = details;
  }
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `${/^[AEIOU]/.test(v.constructor.name) ? 'an' : 'a'} ${v.constructor.name}`;
  return typeof v === 'object' ? `an object (${v.constructor ? v.constructor.name : 'null prototype'})` : `a ${typeof v}`;
}

function checkShape(shape, what) {
  if (!Array.isArray(shape) && !ArrayBuffer.isView(shape)) {
    throw new TypeError(`${what}.shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  const out = Array.from(shape, Number);
  out.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0) {
      throw new TypeError(`${what}.shape[${i}] is ${shape[i]}: dimensions are non-negative integers`);
    }
  });
  return out;
}

/**
 * Checks a tensor argument and returns { data, shape, bits } with data a typed array:
 * Float32Array/Float64Array as given, plain arrays and numbers as Float64Array, and a
 * Uint16Array as is (bits true). Throws TypeError naming `what` for anything else.
 */
function readTensor(x, what) {
  let data = x;
  let shape;
  if (x !== null && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x)) {
    if (!('data' in x)) throw new TypeError(`${what} is ${describe(x)} without data; expected ${ACCEPTED}`);
    ({ data } = x);
    if (x.shape !== undefined) shape = checkShape(x.shape, what);
    what = `${what}.data`;
  }
  if (typeof data === 'number') {
    data = new Float64Array([data]);
    if (shape === undefined) shape = [];
  } else if (Array.isArray(data)) {
    data.forEach((v, i) => {
      if (typeof v !== 'number') {
        throw new TypeError(`${what}[${i}] is ${describe(v)} (${String(v)}); expected numbers (nested arrays: pass { data, shape })`);
      }
    });
    data = Float64Array.from(data);
  } else if (!(data instanceof Float32Array || data instanceof Float64Array || data instanceof Uint16Array)) {
    throw new TypeError(`${what} is ${describe(data)}; expected ${ACCEPTED}`);
  }
  if (shape === undefined) shape = [data.length];
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`${what}: shape [${shape}] holds ${count} elements, data has ${data.length}`);
  }
  return { data, shape, bits: data instanceof Uint16Array };
}

/** Converts float values to the wire form of `dtype` (bit patterns for the 16-bit types). */
function castTo(data, dtype) {
  if (dtype === 'bfloat16') return half.toBfloat16Bits(data);
  if (dtype === 'float16') return half.toFloat16Bits(data);
  return data instanceof WIRE[dtype].Type ? data : WIRE[dtype].Type.from(data);
}

/**
 * The main input of a call: returns { data, shape, dtype, decode } where data is in
 * wire form and decode(tensor) turns a result of the same kind back into what the
 * caller passed (bit patterns stay bit patterns; float input sent as a 16-bit type
 * comes back as Float32Array).
 */
function encodeInput(x, dtype, what = 'x') {
  if (dtype !== undefined && !(dtype in WIRE)) {
    throw new TypeError(`dtype '${dtype}': expected one of ${Object.keys(WIRE).join(', ')}`);
  }
  const t = readTensor(x, what);
  if (t.bits) {
    if (dtype !== 'bfloat16' && dtype !== 'float16') {
      throw new TypeError(`${what} is a Uint16Array: pass dtype 'bfloat16' or 'float16' to say which bit patterns it holds`);
    }
    return { data: t.data, shape: t.shape, dtype, decode: (r) => r };
  }
  const wire = dtype || (t.data instanceof Float32Array ? 'float32' : 'float64');
  const decode = (r) => {
    if (r.dtype === 'bfloat16') return { data: half.fromBfloat16Bits(r.data), shape: r.shape, dtype: 'float32' };
    if (r.dtype === 'float16') return { data: half.fromFloat16Bits(r.data), shape: r.shape, dtype: 'float32' };
    return r;
  };
  return { data: castTo(t.data, wire), shape: t.shape, dtype: wire, decode };
}

/** A companion tensor (dy, y, a weight) in the main input's wire dtype. */
function encodeLike(v, input, what) {
  const t = readTensor(v, what);
  if (t.bits) {
    if (input.dtype !== 'bfloat16' && input.dtype !== 'float16') {
      throw new TypeError(`${what} is a Uint16Array but the input is ${input.dtype}`);
    }
    return { data: t.data, shape: t.shape, dtype: input.dtype };
  }
  return { data: castTo(t.data, input.dtype), shape: t.shape, dtype: input.dtype };
}

/** Encodes { data, shape, dtype } (data in wire form) as an activation.v1.Tensor with raw_data. */
function toProto({ data, shape, dtype }) {
  let raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!LITTLE_ENDIAN) {
    raw = Buffer.from(raw);
    ({ 2: () => raw.swap16(), 4: () => raw.swap32(), 8: () => raw.swap64() })[data.BYTES_PER_ELEMENT]();
  }
  return { dtype: WIRE[dtype].enum, shape, raw_data: raw };
}

/** Decodes an activation.v1.Tensor (raw or typed) into { data, shape, dtype }. */
function fromProto(t) {
  const shape = t.shape.map(Number);
  const dtype = DTYPE_OF_ENUM[t.dtype] || (t.double_data.length ? 'float64' : 'float32');
  if (t.double_data.length) return { data: Float64Array.from(t.double_data), shape, dtype };
  if (t.float_data.length) return { data: castTo(Float32Array.from(t.float_data), dtype), shape, dtype };
  const T = WIRE[dtype].Type;
  let raw = t.raw_data;
  if (!LITTLE_ENDIAN) {
    raw = Buffer.from(raw);
    ({ 2: () => raw.swap16(), 4: () => raw.swap32(), 8: () => raw.swap64() })[T.BYTES_PER_ELEMENT]();
  }
  const n = raw.length / T.BYTES_PER_ELEMENT;
  if (raw.byteOffset % T.BYTES_PER_ELEMENT === 0) {
    return { data: new T(raw.buffer, raw.byteOffset, n), shape, dtype };
  }
  // A view needs aligned memory: copy once into a fresh buffer.
  const data = new T(n);
  Buffer.from(data.buffer).set(raw);
  return { data, shape, dtype };
}

function toParam(name, v) {
  if (typeof v === 'boolean') return { flag: v };
  if (typeof v === 'string') return { text: v };
  if (typeof v === 'number') return { number: v };
  throw new TypeError(`parameter '${name}' is ${describe(v)}; expected a number, a string or a boolean`);
}

function mapValues(obj, f) {
  const out = {};
  for (const [k, v] of Object.entries(obj || {})) out[k] = f(v, k);
  return out;
}

/**
 * Splits an options object into { params, weights, dtype, timeout, metadata, dy, y }.
 * Keys other than the known options are activation parameters (so
 * forward('elu', x, { alpha: 0.5 }) means params { alpha: 0.5 }); a key given both ways,
 * or one whose value cannot be a parameter, is a TypeError naming it.
 */
function readOptions(opts, backward) {
  if (opts === undefined || opts === null) return { params: {} };
  if (typeof opts !== 'object' || Array.isArray(opts) || ArrayBuffer.isView(opts)) {
    throw new TypeError(`options must be an object like { params, weights, timeout }, got ${describe(opts)}`);
  }
  const known = backward ? OPTION_KEYS.concat(BACKWARD_KEYS) : OPTION_KEYS;
  if (opts.params !== undefined && (opts.params === null || typeof opts.params !== 'object' || Array.isArray(opts.params))) {
    throw new TypeError(`options.params must be an object of parameter values, got ${describe(opts.params)}`);
  }
  const out = { params: { ...(opts.params || {}) } };
  for (const [k, v] of Object.entries(opts)) {
    if (known.includes(k)) {
      if (k !== 'params') out[k] = v;
    } else if (!backward && BACKWARD_KEYS.includes(k)) {
      throw new TypeError(`option '${k}' belongs to backward(), not forward()`);
    } else if (['number', 'string', 'boolean'].includes(typeof v)) {
      if (k in out.params) throw new TypeError(`parameter '${k}' is given twice: in options and in options.params`);
      out.params[k] = v;
    } else {
      throw new TypeError(`unknown option '${k}' (${describe(v)}): options are ${known.join(', ')}; `
        + 'other keys are activation parameters and take a number, a string or a boolean');
    }
  }
  if (out.timeout !== undefined && !(typeof out.timeout === 'number' && out.timeout > 0)) {
    throw new TypeError(`option 'timeout' is ${String(out.timeout)}; expected seconds, a positive number`);
  }
  return out;
}

function spec(name, o, input) {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`activation name must be a non-empty string, got ${describe(name)}`);
  }
  if (o.weights !== undefined && (o.weights === null || typeof o.weights !== 'object')) {
    throw new TypeError(`option 'weights' must be an object of tensors, got ${describe(o.weights)}`);
  }
  return {
    name,
    params: mapValues(o.params, (v, k) => toParam(k, v)),
    weights: mapValues(o.weights, (w, k) => toProto(encodeLike(w, input, `weights.${k}`))),
  };
}

function forwardRequest(name, x, o) {
  const input = encodeInput(x, o.dtype);
  return { input, request: { activation: spec(name, o, input), input: toProto(input) } };
}

function backwardRequest(name, x, o) {
  const input = encodeInput(x, o.dtype);
  const request = { activation: spec(name, o, input), input: toProto(input) };
  if (o.dy !== undefined && o.dy !== null) request.grad_output = toProto(encodeLike(o.dy, input, 'dy'));
  if (o.y !== undefined && o.y !== null) request.output = toProto(encodeLike(o.y, input, 'y'));
  return { input, request };
}

function grads(input, resp) {
  return {
    gradInput: input.decode(fromProto(resp.grad_input)),
    gradParams: mapValues(resp.grad_params, fromProto),
  };
}

class Client {
  /**
   * Talks to one actd.
   * @param {string} target "host:port", or any gRPC target ("dns:///actd.example:50051").
   * @param {object} [options]
   * @param {number} [options.timeout] default deadline of every call, in seconds.
   * @param {string} [options.token] sent as "authorization: Bearer <token>".
   * @param {grpc.ChannelCredentials} [options.credentials] grpc.credentials.createSsl(...) for TLS.
   * @param {string|null} [options.serviceConfig] service config JSON; default: the recommended
   *   one shipped with the package (round_robin, retries on UNAVAILABLE); null: gRPC defaults.
   * @param {object} [options.channelOptions] extra gRPC channel options.
   */
  constructor(target, options = {}) {
    const allowed = ['timeout', 'token', 'credentials', 'serviceConfig', 'channelOptions'];
    for (const k of Object.keys(options || {})) {
      if (!allowed.includes(k)) throw new TypeError(`unknown Client option '${k}': options are ${allowed.join(', ')}`);
    }
    const { timeout, token, credentials, channelOptions } = options || {};
    const serviceConfig = (options || {}).serviceConfig === undefined
      ? defaultServiceConfig() : options.serviceConfig;
    const channel = {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      ...(channelOptions || {}),
    };
    if (serviceConfig !== null) channel['grpc.service_config'] = serviceConfig;
    this.stub = new pb.ActivationService(target, credentials || grpc.credentials.createInsecure(), channel);
    this.timeout = timeout;
    this.token = token;
  }

  /** Closes the channel. */
  close() {
    this.stub.close();
  }

  call(method, request, { timeout, metadata } = {}) {
    const options = {};
    const seconds = timeout === undefined ? this.timeout : timeout;
    if (seconds !== undefined && seconds !== null) options.deadline = new Date(Date.now() + seconds * 1000);
    const md = new grpc.Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    for (const [k, v] of Object.entries(metadata || {})) md.add(k, v);
    return new Promise((resolve, reject) => {
      this.stub[method](request, md, options, (err, resp) => {
        if (err) reject(new ActdError(err.code, err.details));
        else resolve(resp);
      });
    });
  }

  /**
   * y = f(x).
   * @param {string} name the activation, e.g. 'gelu'.
   * @param {Tensor|TensorData|number[]|number} x the input.
   * @param {object} [opts] { params, weights, dtype, timeout, metadata }; any other key is an
   *   activation parameter: forward('elu', x, { alpha: 0.5 }).
   * @returns {Promise<Tensor>} the output, in x's type.
   */
  async forward(name, x, opts) {
    return (await this.forwardWithExtras(name, x, opts)).output;
  }

  /**
   * Like forward(); resolves to { output, extras } (extras: e.g. Dice's batch_mean, batch_var).
   * @returns {Promise<{output: Tensor, extras: Object<string, Tensor>}>}
   */
  async forwardWithExtras(name, x, opts) {
    const o = readOptions(opts, false);
    const { input, request } = forwardRequest(name, x, o);
    const resp = await this.call('Forward', request, o);
    return { output: input.decode(fromProto(resp.output)), extras: mapValues(resp.extras, fromProto) };
  }

  /**
   * Gradients at x.
   * @param {object} [opts] { dy, y, params, weights, dtype, timeout, metadata }; no dy means ones;
   *   other keys are activation parameters.
   * @returns {Promise<{gradInput: Tensor, gradParams: Object<string, Tensor>}>}
   */
  async backward(name, x, opts) {
    const o = readOptions(opts, true);
    const { input, request } = backwardRequest(name, x, o);
    return grads(input, await this.call('Backward', request, o));
  }

  /**
   * Evaluates items { op: 'forward' | 'backward', name, x, ...options } in one round trip.
   * @param {Array<object>} items
   * @param {object} [opts] { timeout, metadata } of the whole call.
   * @returns {Promise<Array<Tensor|{gradInput: Tensor, gradParams: Object}|ActdError>>} results
   *   in item order; a failed item is an ActdError (not thrown).
   */
  async batch(items, opts = {}) {
    if (!Array.isArray(items)) throw new TypeError(`batch items must be an array, got ${describe(items)}`);
    const inputs = [];
    const req = {
      items: items.map((item, i) => {
        if (item === null || typeof item !== 'object') throw new TypeError(`batch item ${i} is ${describe(item)}`);
        const { op, name, x, id, ...rest } = item;
        if (op !== 'forward' && op !== 'backward') {
          throw new TypeError(`batch item ${i}: op must be 'forward' or 'backward', got ${String(op)}`);
        }
        const o = readOptions(rest, op === 'backward');
        if (o.timeout !== undefined || o.metadata !== undefined) {
          throw new TypeError(`batch item ${i}: timeout and metadata apply to the whole batch call`);
        }
        const built = op === 'forward' ? forwardRequest(name, x, o) : backwardRequest(name, x, o);
        inputs.push(built.input);
        return { id: id === undefined ? String(i) : String(id), [op]: built.request };
      }),
    };
    const resp = await this.call('BatchEvaluate', req, opts);
    return resp.results.map((r, i) => {
      if (r.code !== 0) return new ActdError(r.code, r.message);
      return r.result === 'forward' ? inputs[i].decode(fromProto(r.forward.output)) : grads(inputs[i], r.backward);
    });
  }

  /** @returns {Promise<Array<object>>} the ActivationInfo objects (name, formula, params...). */
  async listActivations(opts = {}) {
    return (await this.call('ListActivations', {}, opts)).activations;
  }

  /** @returns {Promise<object>} the ServerInfo (version, isa, limits). */
  async serverInfo(opts = {}) {
    return this.call('GetServerInfo', {}, opts);
  }
}

module.exports = {
  Client,
  ActdError,
  status: grpc.status,
  defaultServiceConfig,
  toBfloat16Bits: half.toBfloat16Bits,
  fromBfloat16Bits: half.fromBfloat16Bits,
  toFloat16Bits: half.toFloat16Bits,
  fromFloat16Bits: half.fromFloat16Bits,
};
