// End-to-end tests of the Node.js client (client/node) against a real actd process.
// The package is packed (`npm pack`) and installed into a scratch folder, then loaded
// from there, outside the repository. Every activation the server lists
// (ListActivations) is checked forward and backward in both dtypes against a float64
// reference from REFERENCE, the one table of references: a listed activation without
// an entry fails 'every listed activation has a reference entry', naming it. actd is
// started through the shared Python launcher (tests/clients/actd_serve.py ->
// tests/server/actd_harness.py).
// Usage: ACTD=path/to/actd node --test tests/clients/node_client.test.js
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ACTD = process.env.ACTD;
const PYTHON = process.env.ACTD_PYTHON || '/usr/bin/python3';
const REPO = path.join(__dirname, '..', '..');
const PACKAGE_SRC = path.join(REPO, 'client', 'node');
const SCRATCH = fs.mkdtempSync(path.join(os.tmpdir(), 'actclient-node-'));
const NPM = process.env.NPM || 'npm';

// Pack and install the package before anything else needs it: `npm pack` runs the
// package's prepare script, which copies the proto and service config into it.
function installPackage() {
  const tarball = execFileSync(NPM, ['pack', '--silent', '--pack-destination', SCRATCH],
    { cwd: PACKAGE_SRC, encoding: 'utf8' }).trim().split('\n').pop();
  fs.writeFileSync(path.join(SCRATCH, 'package.json'), '{"name": "scratch", "private": true}\n');
  execFileSync(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent',
    path.join(SCRATCH, tarball)], { cwd: SCRATCH, stdio: ['ignore', 'ignore', 'inherit'] });
  return path.join(SCRATCH, 'node_modules', 'actclient');
}
const INSTALLED = installPackage();
const actclient = require(INSTALLED);
const {
  Client, ActdError, status, toBfloat16Bits, fromBfloat16Bits, toFloat16Bits, fromFloat16Bits,
} = actclient;

let launcher;
let server;  // { port, metrics_port }
let client;
let SERVED = [];

/** Starts actd through the shared launcher; resolves to { proc, port, metrics_port }. */
function startServer(...flags) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, [path.join(__dirname, 'actd_serve.py'), ACTD, ...flags],
      { stdio: ['pipe', 'pipe', 'inherit'] });
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`actd launcher exited with ${code}`)));
    readline.createInterface({ input: proc.stdout }).once('line', (line) => {
      resolve({ proc, ...JSON.parse(line) });
    });
  });
}

function stopServer(s) {
  return new Promise((resolve) => {
    s.proc.removeAllListeners('exit');
    s.proc.on('exit', resolve);
    s.proc.stdin.end();  // the launcher stops actd when its stdin closes
  });
}

before(async () => {
  assert.ok(ACTD, 'set ACTD to the actd binary');
  launcher = await startServer();
  server = launcher;
  client = new Client(`127.0.0.1:${server.port}`, { timeout: 10 });
  SERVED = (await client.listActivations()).map((a) => a.name);
});

after(async () => {
  client.close();
  await stopServer(launcher);
  fs.rmSync(SCRATCH, { recursive: true, force: true });
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
const geluNone = (x) => 0.5 * x * erfc(-x / Math.SQRT2);
const dgeluNone = (x) => 0.5 * erfc(-x / Math.SQRT2) + (x * Math.exp(-x * x / 2)) / Math.sqrt(2 * Math.PI);
const relu = (x) => Math.max(x, 0);
const step = (x) => (x > 0 ? 1 : 0);  // d/dx at 0 is the negative side's slope (docs/SPEC.md)
const softplus = (b) => (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(b * x))) / b;
const hardsigmoid = (x) => Math.min(Math.max(x + 3, 0), 6) / 6;
const dhardsigmoid = (x) => (x > -3 && x < 3 ? 1 / 6 : 0);

// THE reference table: name -> { kind, cases: [[label, params, f, f']] } for element-wise
// ('elementwise') and gated units ('gated': y = a·g(b) over the halves a, b along axis,
// with f, f' = g, g'), or { kind: 'special' } for those with their own tests below.
// Entries of activations the server does not list are unused.
const one = (kind, params, f, df) => ({ kind, cases: [['', params, f, df]] });
const REFERENCE = {
  identity: one('elementwise', {}, (x) => x, () => 1),
  sigmoid: one('elementwise', {}, sig, (x) => sig(x) * sig(-x)),
  tanh: one('elementwise', {}, Math.tanh, (x) => 4 * sig(2 * x) * sig(-2 * x)),
  relu: one('elementwise', {}, relu, step),
  elu: one('elementwise', { alpha: 0.7 }, (x) => (x > 0 ? x : 0.7 * Math.expm1(x)),
    (x) => (x > 0 ? 1 : 0.7 * Math.exp(x))),
  selu: one('elementwise', {}, (x) => SELU_L * (x > 0 ? x : SELU_A * Math.expm1(x)),
    (x) => SELU_L * (x > 0 ? 1 : SELU_A * Math.exp(x))),
  leaky_relu: one('elementwise', { alpha: 0.1 }, (x) => (x > 0 ? x : 0.1 * x), (x) => (x > 0 ? 1 : 0.1)),
  gelu: {
    kind: 'elementwise',
    cases: [
      ['default', {}, geluNone, dgeluNone],
      ['none', { approximate: 'none' }, geluNone, dgeluNone],
      ['tanh', { approximate: 'tanh' }, (x) => x * sig(2 * K * (x + 0.044715 * x ** 3)), (x) => {
        const u2 = 2 * K * (x + 0.044715 * x ** 3);
        return sig(u2) + x * sig(u2) * sig(-u2) * 2 * K * (1 + 0.134145 * x * x);
      }],
      ['sigmoid', { approximate: 'sigmoid' }, swish(1.702), dswish(1.702)],
    ],
  },
  swish: { kind: 'elementwise', cases: [['default', {}, swish(1), dswish(1)], ['beta', { beta: 1.5 }, swish(1.5), dswish(1.5)]] },
  silu: one('elementwise', {}, swish(1), dswish(1)),  // alias of swish with beta 1
  mish: one('elementwise', {}, (x) => x * mishT(x), (x) => mishT(x) + x * sig(x) * (1 - mishT(x) ** 2)),
  softplus: {
    kind: 'elementwise',
    cases: [['default', {}, softplus(1), sig], ['beta', { beta: 2.5 }, softplus(2.5), (x) => sig(2.5 * x)]],
  },
  relu6: one('elementwise', {}, (x) => Math.min(Math.max(x, 0), 6), (x) => (x > 0 && x < 6 ? 1 : 0)),
  hardsigmoid: one('elementwise', {}, hardsigmoid, dhardsigmoid),
  hardswish: one('elementwise', {}, (x) => x * hardsigmoid(x), (x) => hardsigmoid(x) + x * dhardsigmoid(x)),
  glu: one('gated', {}, sig, (x) => sig(x) * sig(-x)),
  swiglu: { kind: 'gated', cases: [['default', {}, swish(1), dswish(1)], ['beta', { beta: 1.5 }, swish(1.5), dswish(1.5)]] },
  geglu: one('gated', {}, geluNone, dgeluNone),
  reglu: one('gated', {}, relu, step),
  prelu: { kind: 'special' },
  maxout: { kind: 'special' },
  dice: { kind: 'special' },
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

/** [name, entry] of the listed activations whose reference is of `kind`. */
const served = (kind) => SERVED.filter((n) => REFERENCE[n] && REFERENCE[n].kind === kind)
  .map((n) => [n, REFERENCE[n]]);

// ---- the table against the server -------------------------------------------------

test('every listed activation has a reference entry', () => {
  assert.ok(SERVED.length > 0, 'ListActivations returned nothing');
  const missing = SERVED.filter((n) => !(n in REFERENCE));
  assert.deepEqual(missing, [], `no reference entry for ${missing.join(', ')} in REFERENCE `
    + '(tests/clients/node_client.test.js): add one');
});

test('server info has a version and limits', async () => {
  const info = await client.serverInfo();
  assert.ok(info.version.length > 0);
  assert.ok(info.max_elements > 0);
});

async function checkElementwise(name, [label, params, f, df], Type) {
  const what = `${name}${label ? `/${label}` : ''} ${Type.name}`;
  const t = TOL[Type.name];
  const shape = [2, 3, 4, 5];
  const x = inputs(120, Type, 7);
  const dy = inputs(120, Type, 8).map((v) => v / 6);
  const y = await client.forward(name, { data: x, shape }, { params });
  assert.ok(y.data instanceof Type, what);
  assert.deepEqual(y.shape, shape);
  assertClose(y.data, Array.from(x, f),
    (i) => t.fwd * Math.max(Math.abs(f(x[i])), Math.abs(x[i] * df(x[i])) / 8) + t.fwdAbs,
    `${what} forward`);
  const { gradInput } = await client.backward(name, { data: x, shape }, { dy: { data: dy, shape }, params });
  assert.ok(gradInput.data instanceof Type);
  assert.deepEqual(gradInput.shape, shape);
  assertClose(gradInput.data, Array.from(x, (v, i) => dy[i] * df(v)),
    (i) => t.bwd * Math.max(Math.abs(dy[i] * df(x[i])), Math.abs(dy[i] * x[i] * d2(df, x[i])) / 8)
      + t.bwdAbs * Math.abs(dy[i]),
    `${what} backward`);
}

// Splits a row-major [outer, 2h, inner] view into the halves along the middle axis.
function halves(x, outer, len, inner) {
  const h = len / 2;
  const a = [];
  const b = [];
  for (let o = 0; o < outer; o += 1) {
    for (let j = 0; j < len; j += 1) {
      for (let k = 0; k < inner; k += 1) (j < h ? a : b).push(x[(o * len + j) * inner + k]);
    }
  }
  return [a, b];
}

async function checkGated(name, [label, params, g, dg], Type, shape, axis) {
  const what = `${name}${label ? `/${label}` : ''} ${Type.name} [${shape}] axis ${axis}`;
  const t = TOL[Type.name];
  const ax = axis === undefined ? shape.length - 1 : (axis + shape.length) % shape.length;
  const outer = shape.slice(0, ax).reduce((p, q) => p * q, 1);
  const inner = shape.slice(ax + 1).reduce((p, q) => p * q, 1);
  const n = shape.reduce((p, q) => p * q, 1);
  const x = inputs(n, Type, 31);
  const [a, b] = halves(x, outer, shape[ax], inner);
  const p = axis === undefined ? params : { ...params, axis };
  const y = await client.forward(name, { data: x, shape }, { params: p });
  const yshape = shape.slice();
  yshape[ax] /= 2;
  assert.deepEqual(y.shape, yshape, what);
  assert.ok(y.data instanceof Type, what);
  assertClose(y.data, a.map((v, i) => v * g(b[i])),
    (i) => t.fwd * Math.max(Math.abs(a[i] * g(b[i])), Math.abs(a[i] * b[i] * dg(b[i])) / 8) + t.fwdAbs,
    `${what} forward`);
  const dy = inputs(n / 2, Type, 32).map((v) => v / 6);
  const { gradInput } = await client.backward(name, { data: x, shape }, { dy: { data: dy, shape: yshape }, params: p });
  assert.deepEqual(gradInput.shape, shape, what);
  const [da, db] = halves(gradInput.data, outer, shape[ax], inner);
  assertClose(da, a.map((v, i) => dy[i] * g(b[i])),
    (i) => t.bwd * Math.max(Math.abs(dy[i] * g(b[i])), Math.abs(dy[i] * b[i] * dg(b[i])) / 8)
      + t.bwdAbs * Math.abs(dy[i]), `${what} backward (first half)`);
  assertClose(db, a.map((v, i) => dy[i] * v * dg(b[i])),
    (i) => t.bwd * Math.max(Math.abs(dy[i] * a[i] * dg(b[i])), Math.abs(dy[i] * a[i] * b[i] * d2(dg, b[i])) / 8)
      + t.bwdAbs * Math.abs(dy[i] * a[i]), `${what} backward (second half)`);
}

for (const Type of [Float32Array, Float64Array]) {
  const t = TOL[Type.name];

  test(`every listed element-wise activation, ${Type.name}, forward and backward`, async () => {
    for (const [name, ref] of served('elementwise')) {
      for (const c of ref.cases) await checkElementwise(name, c, Type);
    }
  });

  test(`every listed gated unit, ${Type.name}, forward and backward`, async () => {
    for (const [name, ref] of served('gated')) {
      for (const c of ref.cases) {
        for (const [shape, axis] of [[[8], undefined], [[3, 6], undefined], [[2, 3, 4], -1],
          [[4, 3], 0], [[2, 6, 5], 1]]) {
          await checkGated(name, c, Type, shape, axis);
        }
      }
    }
  });

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


test('gated units name the axis when its length is odd', async () => {
  for (const [name] of served('gated')) {
    await assert.rejects(client.forward(name, { data: new Float32Array(10), shape: [2, 5] }),
      (e) => e.code === status.INVALID_ARGUMENT && e.details.includes('axis') && e.details.includes('5'));
  }
});

test('batch: good items answer, a bad item fails only itself', async () => {
  const x = new Float64Array([-1, 0.5, 2]);
  const out = await client.batch([
    { op: 'forward', name: 'relu', x },
    { op: 'backward', name: 'sigmoid', x },
    { op: 'forward', name: 'softmax', x },
    { op: 'forward', name: 'elu', x, alpha: 0.5 },
  ], { timeout: 5 });
  assert.deepEqual(Array.from(out[0].data), [0, 0.5, 2]);
  assertClose(out[1].gradInput.data, Array.from(x, (v) => sig(v) * sig(-v)), 1e-15, 'batch sigmoid');
  assert.ok(out[2] instanceof ActdError);
  assert.equal(out[2].code, status.NOT_FOUND);
  assertClose(out[3].data, [0.5 * Math.expm1(-1), 0.5, 2], 1e-15, 'batch elu alpha 0.5');
  await assert.rejects(client.batch([{ op: 'forwrd', name: 'relu', x }]), /op must be 'forward' or 'backward', got forwrd/);
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
  assert.equal(y.dtype, 'float32');
  assert.deepEqual(Array.from(y.data), [1, 2, 3, 4, 5, 6]);
  const s = await client.forward('relu', -2.5);
  assert.deepEqual(s.shape, []);
  assert.deepEqual(Array.from(s.data), [0]);
});

// ---- the options object -----------------------------------------------------------

test('parameters in the options object are honoured', async () => {
  const x = new Float64Array([-1, 1]);
  const want = [0.5 * Math.expm1(-1), 1];
  assertClose((await client.forward('elu', x, { alpha: 0.5 })).data, want, 1e-15, 'elu { alpha }');
  assertClose((await client.forward('elu', x, { params: { alpha: 0.5 } })).data, want, 1e-15, 'elu { params }');
  const g = await client.backward('swish', x, { beta: 1.5, dy: [1, 1] });
  assertClose(g.gradInput.data, Array.from(x, dswish(1.5)), 1e-15, 'swish { beta }');
  assert.deepEqual(Object.keys(g.gradParams), ['beta']);
  const tanh = await client.forward('gelu', x, { approximate: 'tanh', timeout: 5 });
  assertClose(tanh.data, Array.from(x, REFERENCE.gelu.cases[2][2]), 1e-15, 'gelu { approximate }');
});

test('wrong options are errors that name the problem', async () => {
  const x = new Float32Array([1]);
  // A misspelt option is taken as a parameter, and the server names it.
  await assert.rejects(client.forward('relu', x, { timout: 5 }),
    (e) => e.code === status.INVALID_ARGUMENT && e.details.includes('timout'));
  const cases = [
    [{ foo: {} }, /unknown option 'foo'/],
    [{ alpha: 0.5, params: { alpha: 0.7 } }, /parameter 'alpha' is given twice/],
    [{ dy: x }, /option 'dy' belongs to backward\(\)/],
    [{ weights: 5 }, /option 'weights' must be an object/],
    [{ params: [1] }, /options.params must be an object/],
    [{ timeout: -1 }, /option 'timeout' is -1/],
    [{ timeout: '5' }, /option 'timeout' is 5; expected seconds/],
    [{ dtype: 'int8' }, /dtype 'int8': expected one of float32, float64, bfloat16, float16/],
    [{ params: { alpha: [0.5] } }, /parameter 'alpha' is an array/],
    ['fast', /options must be an object/],
  ];
  for (const [opts, message] of cases) {
    await assert.rejects(client.forward('elu', x, opts), (e) => e instanceof TypeError && message.test(e.message),
      `${JSON.stringify(opts)} should fail with ${message}`);
  }
  assert.throws(() => new Client('127.0.0.1:1', { timout: 5 }), /unknown Client option 'timout'/);
});

test('inputs that are not tensors are TypeErrors that name the problem', async () => {
  const cases = [
    ['abc', /^x is a string; expected a Float32Array/],
    [null, /^x is null; expected/],
    [undefined, /^x is a undefined; expected/],
    [[1, 'a'], /^x\[1\] is a string \(a\); expected numbers/],
    [[[1, 2]], /^x\[0\] is an array/],
    [new Int32Array(2), /^x is an Int32Array; expected/],
    [{ data: [1, 2], shape: [3] }, /shape \[3\] holds 3 elements, data has 2/],
    [{ data: [1, 2], shape: [2, -1] }, /x.shape\[1\] is -1/],
    [{ shape: [2] }, /without data/],
    [new Uint16Array(2), /Uint16Array: pass dtype 'bfloat16' or 'float16'/],
  ];
  for (const [x, message] of cases) {
    await assert.rejects(client.forward('relu', x), (e) => (e instanceof TypeError || e instanceof RangeError) && message.test(e.message),
      `${String(x)} should fail with ${message}`);
  }
  await assert.rejects(client.backward('relu', [1, 2], { dy: 'ones' }), /^TypeError: dy is a string/);
  await assert.rejects(client.forward(null, [1]), /activation name must be a non-empty string, got null/);
});

test('a per-call timeout is the deadline of that call', async () => {
  const net = require('node:net');
  const sockets = [];
  const silent = net.createServer((sock) => sockets.push(sock));  // never speaks HTTP/2
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const c = new Client(`127.0.0.1:${silent.address().port}`);
  const start = Date.now();
  await assert.rejects(c.forward('relu', [1], { timeout: 0.3 }), (e) => e.code === status.DEADLINE_EXCEEDED);
  assert.ok(Date.now() - start < 5000);
  c.close();
  sockets.forEach((sock) => sock.destroy());
  await new Promise((r) => silent.close(r));
});

test('bearer token and per-call metadata reach the server', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'actd-token-'));
  const file = path.join(dir, 'token');
  fs.writeFileSync(file, 's3cret-token\n');
  const s = await startServer('--auth_token_file', file);
  const target = `127.0.0.1:${s.port}`;
  try {
    const good = new Client(target, { timeout: 10, token: 's3cret-token' });
    assert.deepEqual(Array.from((await good.forward('relu', [-1, 2])).data), [0, 2]);
    good.close();
    const none = new Client(target, { timeout: 10 });
    await assert.rejects(none.forward('relu', [1]), (e) => e.code === status.UNAUTHENTICATED);
    const y = await none.forward('relu', [-1, 2], { metadata: { authorization: 'Bearer s3cret-token' } });
    assert.deepEqual(Array.from(y.data), [0, 2]);
    none.close();
  } finally {
    await stopServer(s);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- bfloat16 / float16 conversions (no server involved) ----------------------------

const bf16Value = (b) => fromBfloat16Bits([b])[0];
const f16Value = (b) => fromFloat16Bits([b])[0];

function checkMidpoints(lastFinite, value, toBits, name) {
  // For every pair of adjacent finite values (both signs): the midpoint goes to the even
  // neighbour; a hair either side of it to the nearer one. Midpoints are exact doubles.
  for (const sign of [0, 0x8000]) {
    for (let lo = 0; lo < lastFinite; lo += 1) {
      const a = value(lo | sign);
      const b = value((lo + 1) | sign);
      const mid = (a + b) / 2;
      const even = (lo % 2 === 0 ? lo : lo + 1) | sign;
      const eps = Math.abs(b - a) * 2 ** -20;
      const got = toBits([mid, mid - Math.sign(b - a) * eps, mid + Math.sign(b - a) * eps]);
      if (got[0] !== even || got[1] !== (lo | sign) || got[2] !== ((lo + 1) | sign)) {
        assert.fail(`${name}: around the midpoint of 0x${(lo | sign).toString(16)} and its successor: got ${Array.from(got, (v) => v.toString(16))}`);
      }
    }
  }
}

test('float16: every bit pattern round-trips; NaN stays NaN; every midpoint ties to even', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const values = fromFloat16Bits(all);
  const back = toFloat16Bits(values);
  for (let i = 0; i < 65536; i += 1) {
    if (Number.isNaN(values[i])) {
      assert.ok((back[i] & 0x7c00) === 0x7c00 && (back[i] & 0x3ff) !== 0 && (back[i] & 0x200), `NaN 0x${i.toString(16)}`);
    } else if (back[i] !== i) {
      assert.fail(`0x${i.toString(16)} -> ${values[i]} -> 0x${back[i].toString(16)}`);
    }
  }
  assert.equal(values[1], 2 ** -24);  // the smallest subnormal
  assert.equal(values[0x3ff], 1023 * 2 ** -24);
  assert.equal(values[0x7bff], 65504);
  checkMidpoints(0x7bff, f16Value, toFloat16Bits, 'float16');
  assert.deepEqual(Array.from(toFloat16Bits([65519.99, 65520, 1e6, -Infinity, 2 ** -25, 2 ** -25 * 1.001, -0])),
    [0x7bff, 0x7c00, 0x7c00, 0xfc00, 0, 1, 0x8000]);
});

test('bfloat16: every bit pattern round-trips; NaN stays NaN; every midpoint ties to even', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const values = fromBfloat16Bits(all);
  const back = toBfloat16Bits(values);
  for (let i = 0; i < 65536; i += 1) {
    if (Number.isNaN(values[i])) assert.ok((back[i] & 0x7fc0) === 0x7fc0, `NaN 0x${i.toString(16)} -> ${back[i].toString(16)}`);
    else if (back[i] !== i) assert.fail(`0x${i.toString(16)} -> ${values[i]} -> 0x${back[i].toString(16)}`);
  }
  checkMidpoints(0x7f7f, bf16Value, toBfloat16Bits, 'bfloat16');
  // 1 + 2^-8 + 2^-30 as a double: through float32 it would tie and round to 1.0.
  assert.deepEqual(Array.from(toBfloat16Bits([1 + 2 ** -8 + 2 ** -30, 1 + 2 ** -8, 3.4e38])), [0x3f81, 0x3f80, 0x7f80]);
  assert.deepEqual(Array.from(toFloat16Bits([1 + 2 ** -11 + 2 ** -40])), [0x3c01]);
});

// ---- bfloat16 / float16 end to end (needs a server with 16-bit kernels) ------------

function within1Ulp(got, want, value, toBits, what) {
  // got: 16-bit results as bits; want: float64 references. One ulp of the type at most.
  const wantBits = toBits(want);
  for (let i = 0; i < want.length; i += 1) {
    const ulp = Math.abs(value(wantBits[i] + 1) - value(wantBits[i]));
    if (!(Math.abs(value(got[i]) - value(wantBits[i])) <= ulp)) {
      assert.fail(`${what}[${i}]: got ${value(got[i])}, want ${want[i]} (1 ulp = ${ulp})`);
    }
  }
}

for (const [dtype, toBits, value] of [['bfloat16', toBfloat16Bits, bf16Value], ['float16', toFloat16Bits, f16Value]]) {
  test(`${dtype}: Uint16Array bit patterns in, bit patterns out, within one ulp`, async () => {
    const x64 = Array.from(inputs(64, Float64Array, 5), (v) => value(toBits([v])[0]));
    const bits = toBits(x64);
    for (const name of ['relu', 'sigmoid', 'gelu']) {
      const [, params, f, df] = REFERENCE[name].cases[0];
      const y = await client.forward(name, bits, { dtype, params });
      assert.ok(y.data instanceof Uint16Array, `${name} ${dtype}`);
      assert.equal(y.dtype, dtype);
      within1Ulp(y.data, x64.map(f), value, toBits, `${name} ${dtype} forward`);
      const g = await client.backward(name, bits, { dtype, params, dy: toBits(x64.map(() => 0.5)) });
      assert.ok(g.gradInput.data instanceof Uint16Array);
      within1Ulp(g.gradInput.data, x64.map((v) => 0.5 * df(v)), value, toBits, `${name} ${dtype} backward`);
    }
    const r = await client.forward('relu', bits, { dtype });
    assertClose(Array.from(r.data, value), x64.map(relu), 0, `relu ${dtype}`);  // exact
  });

  test(`${dtype}: Float32Array sent as ${dtype} comes back as Float32Array`, async () => {
    const x = Float32Array.from(inputs(32, Float64Array, 6), (v) => value(toBits([v])[0]));
    const y = await client.forward('tanh', x, { dtype });
    assert.ok(y.data instanceof Float32Array);
    within1Ulp(toBits(y.data), Array.from(x, Math.tanh), value, toBits, `tanh ${dtype}`);
  });
}

// ---- the package ------------------------------------------------------------------

test('the installed package carries its protocol files and is loaded from outside the repository', () => {
  assert.ok(!require.resolve(INSTALLED).startsWith(REPO), require.resolve(INSTALLED));
  for (const [packaged, source] of [
    ['proto/activation/v1/activation.proto', 'proto/activation/v1/activation.proto'],
    ['service_config.json', 'client/service_config.json'],
    ['index.d.ts', 'client/node/index.d.ts']]) {
    assert.equal(fs.readFileSync(path.join(INSTALLED, packaged), 'utf8'),
      fs.readFileSync(path.join(REPO, source), 'utf8'), packaged);
  }
  const config = JSON.parse(actclient.defaultServiceConfig());
  assert.deepEqual(config.loadBalancingConfig, [{ round_robin: {} }]);
  assert.deepEqual(config.methodConfig[0].retryPolicy.retryableStatusCodes, ['UNAVAILABLE']);
});

test('the example runs against the installed package', () => {
  const out = execFileSync(process.execPath, [path.join(INSTALLED, 'examples', 'example.js'),
    `127.0.0.1:${server.port}`], { cwd: SCRATCH, encoding: 'utf8' });
  assert.match(out, /elu\(x, alpha=0\.5\)/);
  assert.match(out, /NOT_FOUND/);
});

test('index.d.ts type-checks typical calls (tsc --strict)', () => {
  const tsc = path.join(PACKAGE_SRC, 'node_modules', '.bin', 'tsc');
  execFileSync(tsc, ['-p', path.join(PACKAGE_SRC, 'types-test')], { encoding: 'utf8' });
});
