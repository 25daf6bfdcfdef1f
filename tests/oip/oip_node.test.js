// The Open Inference Protocol over gRPC from Node.js: @grpc/grpc-js with stubs
// loaded from the project's proto/inference/grpc_service.proto, against a real
// actd. For every activation the server lists: health, metadata, forward and
// backward (without and with grad_output) in float32 and float64, each output
// equal byte for byte to the native ActivationService's.
// Usage: ACTD=path/to/actd node --test tests/oip/oip_node.test.js
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const ACTD = process.env.ACTD;
const PROTO = path.join(__dirname, '..', '..', 'proto');
const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(
  ['activation/v1/activation.proto', 'inference/grpc_service.proto'],
  { includeDirs: [PROTO], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }));

let server;
let native;
let oip;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const call = (client, method, request) => new Promise((resolve, reject) => {
  client[method](request, { deadline: Date.now() + 20000 }, (err, res) => (err ? reject(err) : resolve(res)));
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  assert.ok(ACTD, 'set ACTD to the actd binary');
  const port = await freePort();
  server = spawn(ACTD, ['--host', '127.0.0.1', '--port', String(port), '--metrics_port', '0',
    '--http_port', '0'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const target = `127.0.0.1:${port}`;
  native = new loaded.activation.v1.ActivationService(target, grpc.credentials.createInsecure());
  oip = new loaded.inference.GRPCInferenceService(target, grpc.credentials.createInsecure());
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      if ((await call(oip, 'ServerLive', {})).live) return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await sleep(100);
  }
});

after(() => {
  native.close();
  oip.close();
  server.kill('SIGTERM');
});

// x of shape [4, 6], deterministic per activation, in [-3, 3].
function input(name, dtype) {
  const Array_ = dtype === 'FP32' ? Float32Array : Float64Array;
  const x = new Array_(24);
  for (let i = 0; i < x.length; i += 1) x[i] = 3 * Math.sin(0.7 * i + name.length);
  return Buffer.from(x.buffer);
}

function nativeTensor(dtype, bytes) {
  return { dtype: dtype === 'FP32' ? 'DATA_TYPE_FLOAT32' : 'DATA_TYPE_FLOAT64', shape: [4, 6], raw_data: bytes };
}

// {output name: bytes} of a native response, named as the protocol names them.
function nativeOutputs(res, backward) {
  const out = {};
  if (backward) {
    out.grad_input = res.grad_input.raw_data;
    for (const [k, t] of Object.entries(res.grad_params)) out[`grad_${k}`] = t.raw_data;
  } else {
    out.y = res.output.raw_data;
    for (const [k, t] of Object.entries(res.extras)) out[k] = t.raw_data;
  }
  return out;
}

function oipOutputs(res) {
  const out = {};
  res.outputs.forEach((t, i) => { out[t.name] = res.raw_output_contents[i]; });
  return out;
}

test('health and server metadata', async () => {
  assert.equal((await call(oip, 'ServerLive', {})).live, true);
  assert.equal((await call(oip, 'ServerReady', {})).ready, true);
  const meta = await call(oip, 'ServerMetadata', {});
  const info = await call(native, 'GetServerInfo', {});
  assert.deepEqual([meta.name, meta.version], ['actd', info.version]);
});

test('every activation: metadata, forward and backward equal the native API byte for byte', async () => {
  const { activations } = await call(native, 'ListActivations', {});
  assert.ok(activations.length >= 13, `${activations.length} activations`);
  for (const a of activations) {
    assert.equal((await call(oip, 'ModelReady', { name: a.name, version: '1' })).ready, true);
    const m = await call(oip, 'ModelMetadata', { name: a.name });
    assert.deepEqual([m.name, m.versions, m.platform], [a.name, ['1'], 'actd']);
    assert.equal(m.parameters.formula.string_param, a.formula);
    assert.equal(m.parameters.monotonic.bool_param, a.properties.monotonic);
    for (const dtype of ['FP32', 'FP64']) {
      const x = input(a.name, dtype);
      const fwd = await call(native, 'Forward', { activation: { name: a.name }, input: nativeTensor(dtype, x) });
      const want = nativeOutputs(fwd, false);
      const got = oipOutputs(await call(oip, 'ModelInfer', {
        model_name: a.name, id: `${a.name}-f`,
        inputs: [{ name: 'x', datatype: dtype, shape: [4, 6] }], raw_input_contents: [x] }));
      assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), a.name);
      for (const k of Object.keys(want)) assert.ok(got[k].equals(want[k]), `${a.name} ${dtype} forward ${k}`);
      const dy = Buffer.from(want.y.map((b, i) => (i % 4 === 3 ? b : b ^ (i % 3))));
      for (const withGrad of [false, true]) {
        const nreq = { activation: { name: a.name }, input: nativeTensor(dtype, x) };
        const oreq = {
          model_name: a.name, parameters: { direction: { string_param: 'backward' } },
          inputs: [{ name: 'x', datatype: dtype, shape: [4, 6] }], raw_input_contents: [x] };
        if (withGrad) {
          nreq.grad_output = { ...nativeTensor(dtype, dy), shape: fwd.output.shape };
          oreq.inputs.push({ name: 'grad_output', datatype: dtype, shape: fwd.output.shape });
          oreq.raw_input_contents.push(dy);
        }
        const wantB = nativeOutputs(await call(native, 'Backward', nreq), true);
        const gotB = oipOutputs(await call(oip, 'ModelInfer', oreq));
        assert.deepEqual(Object.keys(gotB).sort(), Object.keys(wantB).sort(), a.name);
        for (const k of Object.keys(wantB)) {
          assert.ok(gotB[k].equals(wantB[k]), `${a.name} ${dtype} backward ${k} grad_output=${withGrad}`);
        }
      }
    }
  }
});

test('an unknown model is NOT_FOUND', async () => {
  await assert.rejects(call(oip, 'ModelInfer', { model_name: 'nope', inputs: [] }),
    (e) => e.code === grpc.status.NOT_FOUND && /unknown model "nope"/.test(e.details));
});
