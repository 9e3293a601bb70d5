import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, loadConfig } from './config.ts';

test('config - an unset or empty variable keeps the default', () => {
  assert.is(loadConfig({}).natsUrl, loadConfig({ SKIFF_NATS_URL: '' }).natsUrl);
  assert.is(loadConfig({ SKIFF_REQUEST_TIMEOUT_MS: '' }).requestTimeoutMs, loadConfig({}).requestTimeoutMs);
});

test('config - SKIFF_AUDIT_LOG= turns the audit log off, rather than meaning the default file', () => {
  assert.is(loadConfig({}).auditLog, '.skiff/audit.log');
  assert.is(loadConfig({ SKIFF_AUDIT_LOG: '' }).auditLog, '');
  assert.is(loadConfig({ SKIFF_AUDIT_LOG: '/var/log/skiff-audit.log' }).auditLog, '/var/log/skiff-audit.log');
});

test('config - a number that is not one is refused, naming the variable', () => {
  assert.throws(() => loadConfig({ SKIFF_REQUEST_TIMEOUT_MS: 'soon' }), (err: Error) => err instanceof ConfigError && err.message.includes('SKIFF_REQUEST_TIMEOUT_MS="soon"'));
});

test.run();
