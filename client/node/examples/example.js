// Calls a running actd from Node.js: forward, backward with parameter gradients, a
// batch, and an error. Usage: node examples/example.js [host:port]
'use strict';

const { Client, ActdError } = require('..');

async function main() {
  const client = new Client(process.argv[2] || '127.0.0.1:50051', { timeout: 5 });
  try {
    const info = await client.serverInfo();
    console.log('actd', info.version, 'isa', info.isa);
    console.log('activations:', (await client.listActivations()).map((a) => a.name).join(', '));

    const x = new Float32Array([-3, -2, -1, 0, 1, 2, 3]);
    const y = await client.forward('gelu', x, { params: { approximate: 'tanh' } });
    console.log('gelu(x)  ', y.data);
    const { gradInput, gradParams } = await client.backward('swish', x, { params: { beta: 1.5 } });
    console.log("swish'(x)", gradInput.data, 'dL/dbeta =', gradParams.beta.data[0]);

    const nchw = { data: new Float64Array(2 * 3 * 2 * 2).map((_, i) => i - 12), shape: [2, 3, 2, 2] };
    const p = await client.forward('prelu', nchw, { weights: { alpha: [0.1, 0.2, 0.3] } });
    console.log('prelu    ', p.shape, p.data.constructor.name);

    const out = await client.batch([
      { op: 'forward', name: 'mish', x },
      { op: 'forward', name: 'softmax', x },
    ]);
    console.log('batch    ', out[0].data, out[1] instanceof ActdError ? out[1].message : out[1]);
  } catch (e) {
    console.error(e.message);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

main();
