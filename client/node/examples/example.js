// Calls a running actd from Node.js with the actclient package: forward with
// parameters, backward with parameter gradients, bfloat16, a batch, and an error.
// Usage: node examples/example.js [host:port]   (default 127.0.0.1:50051)
'use strict';

const { Client, ActdError, toBfloat16Bits } = require('..');

async function main() {
  const client = new Client(process.argv[2] || '127.0.0.1:50051', { timeout: 5 });
  try {
    const info = await client.serverInfo();
    console.log('actd', info.version, 'isa', info.isa);
    console.log('activations:', (await client.listActivations()).map((a) => a.name).join(', '));

    const x = new Float32Array([-3, -2, -1, 0, 1, 2, 3]);
    console.log('elu(x, alpha=0.5)', (await client.forward('elu', x, { alpha: 0.5 })).data);
    const gelu = await client.forward('gelu', x, { params: { approximate: 'tanh' }, timeout: 2 });
    console.log('gelu(x) tanh     ', gelu.data);
    const { gradInput, gradParams } = await client.backward('swish', x, { beta: 1.5 });
    console.log("swish'(x)        ", gradInput.data, 'dL/dbeta =', gradParams.beta.data[0]);

    const nchw = { data: new Float64Array(2 * 3 * 2 * 2).map((_, i) => i - 12), shape: [2, 3, 2, 2] };
    const p = await client.forward('prelu', nchw, { weights: { alpha: [0.1, 0.2, 0.3] } });
    console.log('prelu NCHW       ', p.shape, p.data.constructor.name);

    const bits = toBfloat16Bits(x);  // bfloat16 bit patterns in a Uint16Array
    console.log('bfloat16 bits    ', bits);

    const out = await client.batch([
      { op: 'forward', name: 'mish', x },
      { op: 'forward', name: 'softmax', x },
    ]);
    console.log('batch            ', out[0].data, out[1] instanceof ActdError ? out[1].message : out[1]);
  } catch (e) {
    console.error(e.message);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

main();
