// Compile-only check of index.d.ts (`npm run typecheck`): typical calls must type-check,
// and the lines marked @ts-expect-error must not.
import {
  ActdError, Client, Tensor, fromBfloat16Bits, status, toBfloat16Bits, toFloat16Bits,
} from '..';

async function usage(): Promise<number> {
  const c = new Client('127.0.0.1:50051', { timeout: 5, serviceConfig: null });
  const x = new Float32Array([-1, 0, 1]);
  const y: Tensor = await c.forward('elu', x, { alpha: 0.5, timeout: 2 });
  const g = await c.backward('swish', { data: x, shape: [3] }, { dy: x, params: { beta: 1.5 } });
  const bits: Uint16Array = toBfloat16Bits(x);
  const h = await c.forward('relu', bits, { dtype: 'bfloat16', metadata: { 'x-trace': '1' } });
  const back: Float32Array = fromBfloat16Bits(h.data as Uint16Array);
  const out = await c.batch([{ op: 'forward', name: 'relu', x: [1, 2] },
    { op: 'backward', name: 'tanh', x, dy: x }], { timeout: 1 });
  if (out[0] instanceof ActdError && out[0].code === status.NOT_FOUND) return 0;
  const names: string[] = (await c.listActivations()).map((a) => a.name);
  // @ts-expect-error: dtype is one of four names
  await c.forward('relu', x, { dtype: 'int8' });
  // @ts-expect-error: x is not a string
  await c.forward('relu', 'abc');
  // @ts-expect-error: unknown Client option
  new Client('t', { timout: 5 });
  c.close();
  return y.data.length + g.gradInput.shape.length + back.length + names.length
    + toFloat16Bits([1]).length;
}

export default usage;
