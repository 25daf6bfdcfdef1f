// End-to-end tests of the Node.js client (client/node) against a real actd process:
// forward for every activation in both dtypes against float64 references, backward
// and parameter gradients for several, a batch and the error codes.
// Usage: ACTD=path/to/actd node --test tests/clients/node_client.test.js
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const { Client, ActdError, status } = require(path.join(__dirname, '..', '..', 'client', 'node'));

const ACTD = process.env.ACTD;
let server;
let client;

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  assert.ok(ACTD, 'set ACTD to the actd binary');
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    server = spawn(ACTD, ['--host', '127.0.0.1', '--port', String(port), '--metrics_port', '0', '--http_port', '0'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    server.stderr.on('data', (d) => { stderr += d; });
    let exited = false;
    server.on('exit', () => { exited = true; });
    client = new Client(`127.0.0.1:${port}`, { timeout: 10 });
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline && !exited) {
      try {
        await client.listActivations();
        return;
      } catch (e) {
        await sleep(100);
      }
    }
    client.close();
    if (!exited) server.kill('SIGKILL');
    if (attempt === 2) throw new Error(`actd did not answer ListActivations: ${stderr.slice(-2000)}`);
  }
});

after(async () => {
  client.close();
  const done = new Promise((r) => server.on('exit', r));
  server.kill('SIGTERM');
  await done;
});

// ---- float64 references ----------------------------------------------------------

const sig = (t) => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));

// erfc to ~1e-15 relative: Taylor series of erf for |z| < 1.5, else a continued fraction.
function erfc(z) {
  if (z < 0) return 2 - erfc(-z);
  if (z < 1.5) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 60; n += 1) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = z;  // erfc(z) = e^{-z²}/√π / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
  for (let n = 400; n >= 1; n -= 1) f = z + (n / 2) / f;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

const K = Math.sqrt(2 / Math.PI);
const SELU_L = 1.0507009873554804934193349852946;
const SELU_A = 1.6732632423543772848170429916717;
const swish = (b) => (x) => x * sig(b * x);
const dswish = (b) => (x) => sig(b * x) + b * x * sig(b * x) * sig(-b * x);
const mishT = (x) => Math.tanh(Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))));

// key -> [params, f, f'].
const ELEMENTWISE = {
  identity: [{}, (x) => x, () => 1],
  sigmoid: [{}, sig, (x) => sig(x) * sig(-x)],
  tanh: [{}, Math.tanh, (x) => 4 * sig(2 * x) * sig(-2 * x)],
  relu: [{}, (x) => Math.max(x, 0), (x) => (x > 0 ? 1 : 0)],
  elu: [{ alpha: 0.7 }, (x) => (x > 0 ? x : 0.7 * Math.expm1(x)), (x) => (x > 0 ? 1 : 0.7 * Math.exp(x))],
  selu: [{}, (x) => SELU_L * (x > 0 ? x : SELU_A * Math.expm1(x)),
    (x) => SELU_L * (x > 0 ? 1 : SELU_A * Math.exp(x))],
  leaky_relu: [{ alpha: 0.1 }, (x) => (x > 0 ? x : 0.1 * x), (x) => (x > 0 ? 1 : 0.1)],
  'gelu/none': [{ approximate: 'none' }, (x) => 0.5 * x * erfc(-x / Math.SQRT2),
    (x) => 0.5 * erfc(-x / Math.SQRT2) + (x * Math.exp(-x * x / 2)) / Math.sqrt(2 * Math.PI)],
  'gelu/tanh': [{ approximate: 'tanh' }, (x) => x * sig(2 * K * (x + 0.044715 * x ** 3)),
    (x) => {
      const u2 = 2 * K * (x + 0.044715 * x ** 3);
      return sig(u2) + x * sig(u2) * sig(-u2) * 2 * K * (1 + 0.134145 * x * x);
    }],
  'gelu/sigmoid': [{ approximate: 'sigmoid' }, swish(1.702), dswish(1.702)],
  swish: [{ beta: 1.5 }, swish(1.5), dswish(1.5)],
  mish: [{}, (x) => x * mishT(x), (x) => mishT(x) + x * sig(x) * (1 - mishT(x) ** 2)],
};

const TOL = {
  Float32Array: { fwd: 2e-6, bwd: 1e-5, fwdAbs: 1e-37, bwdAbs: 2e-7, sums: 1e-5 },
  Float64Array: { fwd: 1e-12, bwd: 1e-12, fwdAbs: 1e-300, bwdAbs: 1e-15, sums: 1e-12 },
};

// Deterministic inputs: a spread over [-6, 6] with exact zero and small values.
function inputs(n, Type, seed) {
  const out = new Type(n);
  let s = seed;
  for (let i = 0; i < n; i += 1) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648) * 12 - 6;
  }
  out[0] = 0;
  if (n > 2) out[1] = 1e-30;
  if (n > 3) out[2] = -1e-30;
  return out;
}

function assertClose(got, want, tol, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i += 1) {
    const t = typeof tol === 'function' ? tol(i) : tol;
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= t)) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}, tol ${t}`);
  }
}

const d2 = (df, x) => {
  const h = 1e-6 * Math.max(1, Math.abs(x));
  return (df(x + h) - df(x - h)) / (2 * h);
};

// ---- tests ----------------------------------------------------------------------

test('lists the thirteen activations', async () => {
  const names = (await client.listActivations()).map((a) => a.name).sort();
  assert.deepEqual(names, ['dice', 'elu', 'gelu', 'identity', 'leaky_relu', 'maxout', 'mish',
    'prelu', 'relu', 'selu', 'sigmoid', 'swish', 'tanh']);
});

test('server info has a version and limits', async () => {
  const info = await client.serverInfo();
  assert.ok(info.version.length > 0);
  assert.ok(info.max_elements > 0);
});

for (const Type of [Float32Array, Float64Array]) {
  const t = TOL[Type.name];
  for (const [key, [params, f, df]] of Object.entries(ELEMENTWISE)) {
    test(`${key} ${Type.name} forward and backward`, async () => {
      const name = key.split('/')[0];
      const shape = [2, 3, 4, 5];
      const x = inputs(120, Type, 7);
      const dy = inputs(120, Type, 8).map((v) => v / 6);
      const y = await client.forward(name, { data: x, shape }, { params });
      assert.ok(y.data instanceof Type);
      assert.deepEqual(y.shape, shape);
      assertClose(y.data, Array.from(x, f),
        (i) => t.fwd * Math.max(Math.abs(f(x[i])), Math.abs(x[i] * df(x[i])) / 8) + t.fwdAbs,
        `${key} forward`);
      const { gradInput } = await client.backward(name, { data: x, shape }, { dy: { data: dy, shape }, params });
      assert.ok(gradInput.data instanceof Type);
      assert.deepEqual(gradInput.shape, shape);
      assertClose(gradInput.data, Array.from(x, (v, i) => dy[i] * df(v)),
        (i) => t.bwd * Math.max(Math.abs(dy[i] * df(x[i])), Math.abs(dy[i] * x[i] * d2(df, x[i])) / 8)
          + t.bwdAbs * Math.abs(dy[i]),
        `${key} backward`);
    });
  }

  test(`prelu ${Type.name} per-channel alpha, with its gradient`, async () => {
    const shape = [2, 3, 4];
    const x = inputs(24, Type, 9);
    const dy = inputs(24, Type, 10).map((v) => v / 6);
    const alpha = new Type([0.1, 0.2, 0.3]);
    const weights = { alpha };
    const ch = (i) => Math.floor(i / 4) % 3;
    const y = await client.forward('prelu', { data: x, shape }, { weights });
    assertClose(y.data, Array.from(x, (v, i) => (v > 0 ? v : alpha[ch(i)] * v)),
      (i) => t.fwd * Math.abs(x[i]) + t.fwdAbs, 'prelu forward');
    const { gradInput, gradParams } = await client.backward('prelu', { data: x, shape },
      { dy: { data: dy, shape }, weights });
    assertClose(gradInput.data, Array.from(x, (v, i) => dy[i] * (v > 0 ? 1 : alpha[ch(i)])),
      (i) => t.bwd * Math.abs(dy[i]) + t.bwdAbs * Math.abs(dy[i]), 'prelu dx');
    const want = [0, 0, 0];
    const mag = [0, 0, 0];
    x.forEach((v, i) => {
      if (v <= 0) { want[ch(i)] += dy[i] * v; mag[ch(i)] += Math.abs(dy[i] * v); }
    });
    assert.deepEqual(Object.keys(gradParams), ['alpha']);
    assertClose(gradParams.alpha.data, want, (c) => t.sums * mag[c] + 1e-300, 'prelu dalpha');
  });

  test(`elu and swish ${Type.name} parameter gradients are scalars`, async () => {
    const x = inputs(50, Type, 11);
    const dy = inputs(50, Type, 12).map((v) => v / 6);
    const elu = await client.backward('elu', x, { dy, params: { alpha: 0.7 } });
    assert.deepEqual(elu.gradParams.alpha.shape, []);
    let want = 0;
    let mag = 0;
    x.forEach((v, i) => { if (v <= 0) { want += dy[i] * Math.expm1(v); mag += Math.abs(dy[i] * Math.expm1(v)); } });
    assertClose(elu.gradParams.alpha.data, [want], t.sums * mag, 'elu dalpha');
    const sw = await client.backward('swish', x, { dy, params: { beta: 1.5 } });
    assert.deepEqual(sw.gradParams.beta.shape, []);
    want = 0;
    mag = 0;
    x.forEach((v, i) => {
      const term = dy[i] * v * v * sig(1.5 * v) * sig(-1.5 * v);
      want += term;
      mag += Math.abs(term);
    });
    assertClose(sw.gradParams.beta.data, [want], t.sums * mag, 'swish dbeta');
  });

  test(`maxout ${Type.name} group and affine forms`, async () => {
    const x = new Type([1, 3, -2, -5, 4, 4, 0.5, -0.5]);
    const y = await client.forward('maxout', { data: x, shape: [2, 4] }, { params: { pieces: 2 } });
    assert.deepEqual(y.shape, [2, 2]);
    assert.deepEqual(Array.from(y.data), [3, -2, 4, 0.5]);
    const g = await client.backward('maxout', { data: x, shape: [2, 4] },
      { dy: { data: new Type([1, 2, 3, 4]), shape: [2, 2] } });
    assert.deepEqual(Array.from(g.gradInput.data), [0, 1, 2, 0, 3, 0, 4, 0]);  // first argmax
    // Affine: two units of two pieces over three inputs; small integers are exact.
    const w = new Type([1, 0, 0, 0, 1, 0, 0, 0, 1, -1, -1, -1]);
    const b = new Type([0, 0, 0, 10]);
    const xa = { data: new Type([1, 2, 3, -4, 5, -6]), shape: [2, 3] };
    const ya = await client.forward('maxout', xa, { weights: { weight: { data: w, shape: [4, 3] }, bias: b } });
    assert.deepEqual(ya.shape, [2, 2]);
    // z rows: [1, 2, 3, 4] and [-4, 5, -6, 15].
    assert.deepEqual(Array.from(ya.data), [2, 4, 5, 15]);
  });

  test(`dice ${Type.name} training returns batch statistics; inference uses running ones`, async () => {
    const x = inputs(12, Type, 13);
    const shape = [4, 3];
    const { output, extras } = await client.forwardWithExtras('dice', { data: x, shape },
      { weights: { alpha: new Type([0.1, 0.2, 0.3]) } });
    const mean = [0, 0, 0];
    const vr = [0, 0, 0];
    x.forEach((v, i) => { mean[i % 3] += v / 4; });
    x.forEach((v, i) => { vr[i % 3] += (v - mean[i % 3]) ** 2 / 4; });
    assert.deepEqual(Object.keys(extras).sort(), ['batch_mean', 'batch_var']);
    const mag = [0, 0, 0];
    x.forEach((v, i) => { mag[i % 3] += Math.abs(v) / 4; });
    assertClose(extras.batch_mean.data, mean, (c) => t.sums * mag[c], 'batch_mean');
    assertClose(extras.batch_var.data, vr, (c) => t.sums * vr[c], 'batch_var');
    const ref = (mu, v2, a) => Array.from(x, (v, i) => {
      const c = i % 3;
      const p = sig((v - mu[c]) / Math.sqrt(v2[c] + 1e-8));
      return v * (a[c] + (1 - a[c]) * p);
    });
    // Sums feed z: allow 1e-5 (float32) relative to |x|·(1 + |z| + ...), bounded here by 8|x|.
    assertClose(output.data, ref(mean, vr, [0.1, 0.2, 0.3]), (i) => t.sums * 8 * Math.abs(x[i]) + 1e-300,
      'dice training forward');
    const running = { running_mean: new Type([0.5, -1, 0]), running_var: new Type([1, 4, 0.25]) };
    const inf = await client.forward('dice', { data: x, shape },
      { weights: running, params: { training: false } });
    assertClose(inf.data, ref([0.5, -1, 0], [1, 4, 0.25], [0, 0, 0]),
      (i) => t.fwd * 4 * Math.abs(x[i]) + t.fwdAbs, 'dice inference forward');
  });
}

test('batch: good items answer, a bad item fails only itself', async () => {
  const x = new Float64Array([-1, 0.5, 2]);
  const out = await client.batch([
    { op: 'forward', name: 'relu', x },
    { op: 'backward', name: 'sigmoid', x },
    { op: 'forward', name: 'softmax', x },
  ]);
  assert.deepEqual(Array.from(out[0].data), [0, 0.5, 2]);
  assertClose(out[1].gradInput.data, Array.from(x, (v) => sig(v) * sig(-v)), 1e-15, 'batch sigmoid');
  assert.ok(out[2] instanceof ActdError);
  assert.equal(out[2].code, status.NOT_FOUND);
});

test('unknown activation is NOT_FOUND', async () => {
  await assert.rejects(client.forward('softmax', new Float32Array(3)),
    (e) => e instanceof ActdError && e.code === status.NOT_FOUND && e.details.includes('softmax'));
});

test('out-of-range parameter is INVALID_ARGUMENT', async () => {
  await assert.rejects(client.forward('leaky_relu', new Float32Array(3), { params: { alpha: 2 } }),
    (e) => e.code === status.INVALID_ARGUMENT && e.codeName === 'INVALID_ARGUMENT' && e.details.includes('alpha'));
});

test('grad_output of another shape is INVALID_ARGUMENT', async () => {
  await assert.rejects(client.backward('tanh', { data: new Float64Array(6), shape: [2, 3] },
    { dy: { data: new Float64Array(6), shape: [3, 2] } }),
  (e) => e.code === status.INVALID_ARGUMENT);
});

test('raw_data is little-endian and row-major', async () => {
  const x = { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
  const y = await client.forward('identity', x);
  assert.deepEqual(y.shape, [2, 3]);
  assert.deepEqual(Array.from(y.data), [1, 2, 3, 4, 5, 6]);
  const s = await client.forward('relu', -2.5);
  assert.deepEqual(s.shape, []);
  assert.deepEqual(Array.from(s.data), [0]);
});
