'use strict';

// Jest global setup: a LIVE `gateway dev` (gateway + mock upstream + webhook inbox) on free
// loopback ports, with a known client key, unless GATEWAY_URL and GATEWAY_KEY point at one
// already running. The gateway's log goes to the temporary data directory.

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..', '..');
// The test platform's callback URL (createAppTester); allowed without resolving it.
const TEST_CALLBACK_HOST = 'auth-json-server.zapier-staging.com';

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const healthy = async (url) => {
  try {
    return (await fetch(`${url}/healthz`)).status === 200;
  } catch (e) {
    return false;
  }
};

module.exports = async () => {
  if (process.env.GATEWAY_URL && process.env.GATEWAY_KEY) {
    return;
  }
  const [port, mockPort] = [await freePort(), await freePort()];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zapier-gateway-'));
  const key = `gw_zapier_test_${crypto.randomBytes(12).toString('hex')}`;
  const log = fs.openSync(path.join(dataDir, 'gateway.log'), 'a');
  const command = (process.env.GATEWAY_COMMAND || 'uv run gateway').split(' ');
  const child = spawn(
    command[0],
    [...command.slice(1), 'dev', '--port', `${port}`, '--mock-port', `${mockPort}`, '--data-dir', dataDir],
    {
      cwd: REPO,
      env: {
        ...process.env,
        GATEWAY_CLIENT_API_KEY: key,
        GATEWAY_CALLBACK_ALLOWLIST: TEST_CALLBACK_HOST,
      },
      stdio: ['ignore', log, log],
    },
  );
  globalThis.__GATEWAY_PROCESS__ = child;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  while (!(await healthy(url))) {
    if (child.exitCode !== null) {
      throw new Error(`gateway dev exited (${child.exitCode}); see ${dataDir}/gateway.log`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`gateway dev did not start in 60 s; see ${dataDir}/gateway.log`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.env.GATEWAY_URL = url;
  process.env.GATEWAY_KEY = key;
};
