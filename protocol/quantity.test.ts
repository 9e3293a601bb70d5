import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuMillis, formatCpu, formatMemory, memoryBytes, parseQuantity, QuantityError } from './quantity.ts';

const cpu: [string | number, number][] = [
  ['100m', 100], ['0.5', 500], ['2', 2000], ['1.5', 1500], ['.25', 250], ['0.1', 100], ['1m', 1], ['250m', 250],
  ['0.0001', 1], // rounds up to a whole millicore, as Kubernetes does
  [2, 2000], ['1e3', 1_000_000], ['1k', 1_000_000],
];
for (const [input, want] of cpu) {
  test(`quantity - cpu ${JSON.stringify(input)} is ${want} millicores`, () => assert.is(cpuMillis(input), want));
}

const memory: [string | number, number][] = [
  ['64Mi', 64 * 2 ** 20], ['1Gi', 2 ** 30], ['1G', 1e9], ['1e6', 1e6], ['128974848', 128974848], ['129M', 129e6],
  ['1Ki', 1024], ['0.5Gi', 2 ** 29], ['1.5Mi', 1.5 * 2 ** 20], ['100m', 1], ['1E', 1e18], ['1Ti', 2 ** 40],
];
for (const [input, want] of memory) {
  test(`quantity - memory ${JSON.stringify(input)} is ${want} bytes`, () => assert.is(memoryBytes(input), want));
}

test('quantity - exact for values floats get wrong', () => {
  assert.is(parseQuantity('0.3'), 300n);
  assert.is(parseQuantity('0.1') + parseQuantity('0.2'), parseQuantity('0.3'));
  assert.is(parseQuantity('123456789.123'), 123456789123n);
});

for (const bad of ['', 'abc', '1.2.3', '10 m', 'm', '1Mb', '--1', '1e', '5x', '0x10']) {
  test(`quantity - ${JSON.stringify(bad)} is refused with a hint`, () => {
    assert.throws(() => parseQuantity(bad), (e: Error) => e instanceof QuantityError && /is not a quantity/.test(e.message));
  });
}

test('quantity - formatting', () => {
  assert.is(formatCpu(1500), '1500m');
  assert.is(formatCpu(2000), '2');
  assert.is(formatMemory(64 * 2 ** 20), '64Mi');
  assert.is(formatMemory(1000), '1000');
});

test.run();
