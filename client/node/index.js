// A thin Node.js client for the actd ActivationService: one method per RPC, each
// returning a Promise. Tensors are { data, shape } with data a Float32Array or
// Float64Array; they travel as raw_data (little-endian, row-major, see
// activation.proto) through Buffer views, without per-element work on
// little-endian hosts.
'use strict';

const os = require('os');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO = path.join(__dirname, '..', '..', 'proto', 'activation', 'v1', 'activation.proto');
const packageDefinition = protoLoader.loadSync(PROTO, {
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
});
const pb = grpc.loadPackageDefinition(packageDefinition).activation.v1;
const LITTLE_ENDIAN = os.endianness() === 'LE';

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

/** Returns { data, shape } for a typed array, a plain array, a number or a { data, shape }. */
function asTensor(x, Type) {
  let data;
  let shape;
  if (typeof x === 'number') {
    data = [x];
    shape = [];
  } else if (x && x.data !== undefined) {
    ({ data } = x);
    shape = x.shape !== undefined ? Array.from(x.shape) : [data.length];
  } else {
    data = x;
    shape = [x.length];
  }
  const T = Type || (data instanceof Float32Array ? Float32Array : Float64Array);
  if (!(data instanceof T)) data = T.from(data);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`shape [${shape}] holds ${count} elements, data has ${data.length}`);
  }
  return { data, shape };
}

/** Encodes a tensor as an activation.v1.Tensor with raw_data. */
function toProto(x, Type) {
  const { data, shape } = asTensor(x, Type);
  let raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!LITTLE_ENDIAN) {
    raw = Buffer.from(raw);
    if (data.BYTES_PER_ELEMENT === 4) raw.swap32(); else raw.swap64();
  }
  const dtype = data instanceof Float32Array ? 'DATA_TYPE_FLOAT32' : 'DATA_TYPE_FLOAT64';
  return { dtype, shape, raw_data: raw };
}

/** Decodes an activation.v1.Tensor (raw or typed) into { data, shape }. */
function fromProto(t) {
  const shape = t.shape.map(Number);
  if (t.float_data.length) return { data: Float32Array.from(t.float_data), shape };
  if (t.double_data.length) return { data: Float64Array.from(t.double_data), shape };
  const T = t.dtype === 'DATA_TYPE_FLOAT32' ? Float32Array : Float64Array;
  let raw = t.raw_data;
  if (!LITTLE_ENDIAN) {
    raw = Buffer.from(raw);
    if (T.BYTES_PER_ELEMENT === 4) raw.swap32(); else raw.swap64();
  }
  const n = raw.length / T.BYTES_PER_ELEMENT;
  if (raw.byteOffset % T.BYTES_PER_ELEMENT === 0) {
    return { data: new T(raw.buffer, raw.byteOffset, n), shape };
  }
  // A view needs aligned memory: copy once into a fresh buffer.
  const data = new T(n);
  Buffer.from(data.buffer).set(raw);
  return { data, shape };
}

function toParam(v) {
  if (typeof v === 'boolean') return { flag: v };
  if (typeof v === 'string') return { text: v };
  return { number: Number(v) };
}

function mapValues(obj, f) {
  const out = {};
  for (const [k, v] of Object.entries(obj || {})) out[k] = f(v);
  return out;
}

function spec(name, { params, weights } = {}, Type) {
  return {
    name,
    params: mapValues(params, toParam),
    weights: mapValues(weights, (w) => toProto(w, Type)),
  };
}

function forwardRequest(name, x, opts = {}) {
  const input = asTensor(x);
  return { activation: spec(name, opts, input.data.constructor), input: toProto(input) };
}

function backwardRequest(name, x, opts = {}) {
  const input = asTensor(x);
  const Type = input.data.constructor;
  const req = { activation: spec(name, opts, Type), input: toProto(input) };
  if (opts.dy !== undefined && opts.dy !== null) req.grad_output = toProto(opts.dy, Type);
  if (opts.y !== undefined && opts.y !== null) req.output = toProto(opts.y, Type);
  return req;
}

function grads(resp) {
  return { gradInput: fromProto(resp.grad_input), gradParams: mapValues(resp.grad_params, fromProto) };
}

class Client {
  /**
   * Talks to one actd at `target` ("host:port"). Options: `timeout` (seconds, the
   * deadline of every call), `token` (sent as "authorization: Bearer <token>"),
   * `credentials` (grpc.credentials.createSsl(...) for TLS).
   */
  constructor(target, { timeout, token, credentials } = {}) {
    this.stub = new pb.ActivationService(target, credentials || grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    });
    this.timeout = timeout;
    this.metadata = new grpc.Metadata();
    if (token) this.metadata.set('authorization', `Bearer ${token}`);
  }

  close() {
    this.stub.close();
  }

  call(method, request) {
    const options = {};
    if (this.timeout !== undefined && this.timeout !== null) {
      options.deadline = new Date(Date.now() + this.timeout * 1000);
    }
    return new Promise((resolve, reject) => {
      this.stub[method](request, this.metadata, options, (err, resp) => {
        if (err) reject(new ActdError(err.code, err.details));
        else resolve(resp);
      });
    });
  }

  /** y = f(x): resolves to { data, shape } in x's type. opts: { params, weights }. */
  async forward(name, x, opts = {}) {
    return (await this.forwardWithExtras(name, x, opts)).output;
  }

  /** Resolves to { output, extras } (extras: e.g. dice's batch_mean and batch_var). */
  async forwardWithExtras(name, x, opts = {}) {
    const resp = await this.call('Forward', forwardRequest(name, x, opts));
    return { output: fromProto(resp.output), extras: mapValues(resp.extras, fromProto) };
  }

  /** Resolves to { gradInput, gradParams }. opts: { dy, y, params, weights }; no dy = ones. */
  async backward(name, x, opts = {}) {
    return grads(await this.call('Backward', backwardRequest(name, x, opts)));
  }

  /**
   * Evaluates items { op: 'forward' | 'backward', name, x, dy, y, params, weights, id }
   * in one round trip. Resolves to an array in item order: the output tensor of a
   * forward item, { gradInput, gradParams } of a backward item, or an ActdError
   * (not thrown) for an item that failed.
   */
  async batch(items) {
    const req = {
      items: items.map((item, i) => {
        const id = item.id === undefined ? String(i) : String(item.id);
        if (item.op === 'forward') return { id, forward: forwardRequest(item.name, item.x, item) };
        if (item.op === 'backward') return { id, backward: backwardRequest(item.name, item.x, item) };
        throw new TypeError(`batch item ${i}: op must be 'forward' or 'backward'`);
      }),
    };
    const resp = await this.call('BatchEvaluate', req);
    return resp.results.map((r) => {
      if (r.code !== 0) return new ActdError(r.code, r.message);
      return r.result === 'forward' ? fromProto(r.forward.output) : grads(r.backward);
    });
  }

  /** Resolves to the ActivationInfo objects (name, formula, params, properties...). */
  async listActivations() {
    return (await this.call('ListActivations', {})).activations;
  }

  /** Resolves to the ServerInfo object (version, isa, limits). */
  async serverInfo() {
    return this.call('GetServerInfo', {});
  }
}

module.exports = { Client, ActdError, status: grpc.status, toProto, fromProto };
