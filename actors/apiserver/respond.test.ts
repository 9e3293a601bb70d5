import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadRequest } from '../../protocol/errors.ts';
import { responseTooLarge } from './server.ts';

test('an answer NATS would refuse is replaced by an error that says how to ask for less', () => {
  assert.is(responseTooLarge(8 * 2 ** 20, 8 * 2 ** 20), undefined, 'exactly max_payload fits');
  assert.is(responseTooLarge(100, undefined), undefined, 'no figure from the server: sent as it is');
  const err = responseTooLarge(13 * 2 ** 20, 8 * 2 ** 20);
  assert.instance(err, BadRequest);
  assert.match(err!.message, /the answer is 13\.0 MiB, more than the 8\.0 MiB NATS carries in one message \(max_payload in infra\/nats\.conf\): ask for less, by namespace or with a label or field selector/);
});

test.run();
