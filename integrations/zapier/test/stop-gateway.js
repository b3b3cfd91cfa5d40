'use strict';

// Jest global teardown: stop the gateway dev this run started (if it started one).
module.exports = async () => {
  const child = globalThis.__GATEWAY_PROCESS__;
  if (!child || child.exitCode !== null) {
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
  await exited;
  clearTimeout(timer);
};
