'use strict';
// The manager against real child processes: the stand-in backend (fixtures/fake-backend.js)
// behind a packaged-app layout (resources/backend/peft_engine), real ports, real signals.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const childProcess = require('child_process');
const { BackendServiceManager } = require('../backend-manager');
const { FAKE_BACKEND, makeResources, tmpDir, isGone, groupMembers, occupy, close, portRange, logSink, sleep } = require('./fixtures/helpers');

const POSIX = process.platform !== 'win32';
const RANGE = portRange(20000);

/** Real spawn, recorded. */
function recordingSpawn() {
  const calls = [];
  const fn = (cmd, args, opts) => {
    const child = childProcess.spawn(cmd, args, opts);
    calls.push({ cmd, args, opts, child });
    return child;
  };
  fn.calls = calls;
  fn.pids = () => calls.map((c) => c.child.pid).filter(Boolean);
  return fn;
}

function make(opts = {}) {
  const log = logSink();
  const spawn = recordingSpawn();
  const m = new BackendServiceManager({
    isPackaged: true, spawn, processGroup: true, log, portRange: RANGE,
    healthIntervalMs: 20, healthTimeoutMs: 5000, killTimeoutMs: 1000, restartBackoffMs: 20, ...opts,
  });
  return { m, log, spawn };
}

function assertAllGone(spawn) {
  for (const pid of spawn.pids()) assert.ok(isGone(pid), `backend pid ${pid} still exists`);
}

test('packaged onefile: start → healthy on --port N with APP_PORT, output captured, stop → gone', { skip: !POSIX }, async () => {
  const { resources } = makeResources();
  const { m, log, spawn } = make({ resourcesPath: resources });
  const lines = [];
  m.on('output', (o) => lines.push(o.line));
  const st = await m.start();
  assert.equal(st.state, 'running');
  assert.equal(st.mode, 'production');
  assert.ok(st.port >= RANGE[0] && st.port <= RANGE[1]);
  assert.equal(st.health.status, 'ok');
  assert.equal(st.health.port, st.port);
  const call = spawn.calls[0];
  assert.equal(call.cmd, path.join(resources, 'backend', 'peft_engine'));
  assert.deepEqual(call.args, ['--port', String(st.port)]);
  assert.equal(call.opts.env.APP_PORT, String(st.port));
  assert.deepEqual(await m.checkHealth(), st.health);
  assert.ok(lines.some((l) => l.includes(`Uvicorn running on http://127.0.0.1:${st.port}`)));
  const out = log.records.find((r) => r.event === 'backend.output');
  assert.equal(out.mode, 'production');
  assert.equal(out.path, call.cmd);
  await m.stop();
  assert.equal(m.state, 'stopped');
  assertAllGone(spawn);
  assert.ok(!log.records.some((r) => r.event === 'backend.signal' && r.signal === 'SIGKILL'), 'graceful stop needs no SIGKILL');
});

test('packaged onedir: resources/backend/peft_engine/peft_engine is started', { skip: !POSIX }, async () => {
  const { resources, exe } = makeResources({ layout: 'onedir' });
  const { m, spawn } = make({ resourcesPath: resources });
  const st = await m.start();
  assert.equal(st.path, exe);
  assert.equal(spawn.calls[0].cmd, exe);
  await m.stop();
  assertAllGone(spawn);
});

test('development: python runs <appDir>/backend/main.py (node standing in for python)', { skip: !POSIX }, async () => {
  const appDir = tmpDir();
  fs.mkdirSync(path.join(appDir, 'backend'));
  fs.copyFileSync(FAKE_BACKEND, path.join(appDir, 'backend', 'main.py'));
  const { m, spawn } = make({ isPackaged: false, appDir, findPython: () => ({ command: process.execPath, args: [] }) });
  const st = await m.start();
  assert.equal(st.mode, 'development');
  assert.equal(spawn.calls[0].cmd, process.execPath);
  assert.deepEqual(spawn.calls[0].args, [path.join(appDir, 'backend', 'main.py'), '--port', String(st.port)]);
  assert.equal(spawn.calls[0].opts.cwd, path.join(appDir, 'backend'));
  await m.stop();
  assertAllGone(spawn);
});

test('port 8000 really taken → falls back to the next free port in 8000–8010', { skip: !POSIX }, async (t) => {
  const blocker = await occupy(8000);
  try {
    let spare = false;
    for (let p = 8001; p <= 8010 && !spare; p++) {
      const s = await occupy(p);
      if (s) { spare = true; await close(s); }
    }
    if (!spare) return t.skip('8001–8010 all taken on this machine; covered by the injected-range test');
    const { resources } = makeResources();
    const { m, log, spawn } = make({ resourcesPath: resources, portRange: undefined });
    const st = await m.start();
    assert.ok(st.port > 8000 && st.port <= 8010, `port ${st.port}`);
    assert.ok(log.records.some((r) => r.event === 'backend.port_fallback' && r.port === st.port));
    await m.stop();
    assertAllGone(spawn);
  } finally {
    await close(blocker);
  }
});

test('first ports of an injected range taken → next free one', { skip: !POSIX }, async () => {
  const servers = [await occupy(RANGE[0]), await occupy(RANGE[0] + 1)];
  try {
    const { resources } = makeResources();
    const { m, spawn } = make({ resourcesPath: resources });
    const st = await m.start();
    assert.ok(st.port >= RANGE[0] + 2, `port ${st.port}`);
    await m.stop();
    assertAllGone(spawn);
  } finally {
    for (const s of servers) await close(s);
  }
});

test('every port busy → clear error, nothing spawned', async () => {
  const range = [RANGE[0] + 5, RANGE[0] + 7];
  const servers = [];
  for (let p = range[0]; p <= range[1]; p++) servers.push(await occupy(p));
  try {
    const { resources } = makeResources();
    const { m, spawn } = make({ resourcesPath: resources, portRange: range });
    await assert.rejects(m.start(), (e) => {
      assert.equal(e.code, 'PORTS_BUSY');
      assert.match(e.message, new RegExp(`every port in ${range[0]}-${range[1]} on 127\\.0\\.0\\.1 is in use`));
      assert.match(e.message, /mode=production, platform=/);
      return true;
    });
    assert.equal(spawn.calls.length, 0);
    assert.equal(m.state, 'failed');
  } finally {
    for (const s of servers) await close(s);
  }
});

test('port taken between probe and bind → backend exits "address already in use" → next port', { skip: !POSIX }, async () => {
  const taken = await occupy(RANGE[0] + 8);
  try {
    const { resources } = makeResources();
    // The probe lies about RANGE[0]+8 (a race in real life): the backend then fails to bind it.
    const { m, spawn, log } = make({ resourcesPath: resources, portRange: [RANGE[0] + 8, RANGE[0] + 9], isPortFree: async () => true });
    const st = await m.start();
    assert.equal(st.port, RANGE[0] + 9);
    assert.equal(spawn.calls.length, 2);
    assert.ok(log.records.some((r) => r.event === 'backend.port_taken' && r.port === RANGE[0] + 8));
    await m.stop();
    assertAllGone(spawn);
  } finally {
    await close(taken);
  }
});

test('slow start-up: health is polled until 200', { skip: !POSIX }, async () => {
  const { resources } = makeResources({ flags: ['--startup-delay', '300'] });
  const { m, spawn } = make({ resourcesPath: resources });
  const t0 = Date.now();
  const st = await m.start();
  assert.ok(Date.now() - t0 >= 300);
  assert.equal(st.state, 'running');
  await m.stop();
  assertAllGone(spawn);
});

test('never healthy → HEALTH_TIMEOUT naming the URL, and the process is killed', { skip: !POSIX }, async () => {
  const { resources } = makeResources({ flags: ['--unhealthy'] });
  const { m, spawn } = make({ resourcesPath: resources, healthTimeoutMs: 400 });
  await assert.rejects(m.start(), (e) => {
    assert.equal(e.code, 'HEALTH_TIMEOUT');
    assert.match(e.message, /did not answer GET http:\/\/127\.0\.0\.1:\d+\/api\/health with 200 within 400 ms \(last: HTTP 503\)/);
    return true;
  });
  assertAllGone(spawn);
  assert.equal(m.hasProcess(), false);
});

test('backend exits before healthy → error with exit code and its last lines', { skip: !POSIX }, async () => {
  const { resources, exe } = makeResources({ flags: ['--exit-immediately'] });
  const { m, spawn } = make({ resourcesPath: resources });
  await assert.rejects(m.start(), (e) => {
    assert.equal(e.code, 'EXITED_DURING_STARTUP');
    assert.equal(e.exitCode, 3);
    assert.match(e.message, /exited with code 3 during start-up/);
    assert.match(e.message, /database schema version 7 is newer than this backend supports/);
    assert.ok(e.message.includes(exe));
    assert.ok(e.lastOutput.some((l) => l.startsWith('Traceback')));
    return true;
  });
  assertAllGone(spawn);
});

test('executable missing → "Installation may be corrupted. Please reinstall."', async () => {
  const resources = path.join(tmpDir(), 'resources');
  fs.mkdirSync(path.join(resources, 'backend'), { recursive: true });
  const { m, spawn } = make({ resourcesPath: resources });
  await assert.rejects(m.start(), (e) => {
    assert.equal(e.code, 'EXECUTABLE_MISSING');
    assert.match(e.message, /Installation may be corrupted\. Please reinstall\./);
    assert.ok(e.message.includes(path.join(resources, 'backend', process.platform === 'win32' ? 'peft_engine.exe' : 'peft_engine')));
    return true;
  });
  assert.equal(spawn.calls.length, 0);
});

test('EACCES: not executable → chmod 0755 once, then it starts', { skip: !POSIX }, async () => {
  const { resources, exe } = makeResources({ mode: 0o644 });
  const { m, log, spawn } = make({ resourcesPath: resources });
  const st = await m.start();
  assert.equal(st.state, 'running');
  assert.equal(fs.statSync(exe).mode & 0o777, 0o755);
  assert.ok(log.records.some((r) => r.event === 'backend.chmod' && r.result === 'applied'));
  assert.equal(spawn.calls.length, 2, 'one EACCES attempt, one retry');
  await m.stop();
  assertAllGone(spawn);
});

test('EACCES and chmod fails → message tells how to fix it (chmod +x <path>)', { skip: !POSIX }, async () => {
  const { resources, exe } = makeResources({ mode: 0o644 });
  const fsNoChmod = { ...fs, chmodSync: () => { throw Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' }); } };
  const { m, spawn } = make({ resourcesPath: resources, fs: fsNoChmod });
  await assert.rejects(m.start(), (e) => {
    assert.equal(e.code, 'PERMISSION_DENIED');
    assert.ok(e.message.includes(`chmod +x "${exe}"`), e.message);
    assert.match(e.message, /Automatic chmod failed \(EPERM\)/);
    return true;
  });
  assert.equal(fs.statSync(exe).mode & 0o777, 0o644);
  assert.equal(spawn.calls.length, 1);
});

test('crash after healthy → restarted with growing backoff, up to maxRestarts, then a failure event', { skip: !POSIX }, async () => {
  const { resources } = makeResources({ flags: ['--crash-after', '100'] });
  const { m, spawn, log } = make({ resourcesPath: resources, maxRestarts: 2, restartBackoffMs: 50 });
  const restarting = [];
  m.on('status', (s) => s.state === 'restarting' && restarting.push(Date.now()));
  const crashes = [];
  m.on('crash', (e) => crashes.push(e));
  const failed = new Promise((res) => m.once('failed', res));
  await m.start();
  const err = await failed;
  assert.equal(err.code, 'CRASH_LIMIT');
  assert.match(err.message, /2 restart attempt\(s\) did not keep it running; giving up/);
  assert.match(err.message, /simulated crash/);
  assert.equal(spawn.calls.length, 3, 'first start + 2 restarts');
  assert.equal(crashes.length, 3);
  assert.equal(restarting.length, 2);
  const delays = log.records.filter((r) => r.event === 'backend.status' && r.state === 'restarting').map((r) => [r.attempt, r.delay_ms]);
  assert.deepEqual(delays, [[1, 50], [2, 100]]);
  assert.equal(m.state, 'failed');
  await sleep(150);
  assert.equal(spawn.calls.length, 3, 'no restart after giving up');
  assertAllGone(spawn);
});

test('crash once → restarted on a healthy backend, new pid', { skip: !POSIX }, async () => {
  const countFile = path.join(tmpDir(), 'runs');
  const { resources } = makeResources({ flags: ['--crash-after', '80', '--crash-limit', '1', '--count-file', countFile] });
  const { m, spawn } = make({ resourcesPath: resources });
  const first = await m.start();
  const again = await new Promise((res) => m.once('restarted', res));
  assert.equal(again.state, 'running');
  assert.equal(again.restarts, 1);
  assert.notEqual(again.pid, first.pid);
  assert.equal((await m.checkHealth()).status, 'ok');
  await m.stop();
  assertAllGone(spawn);
});

test('stop: SIGTERM ignored → SIGKILL after killTimeoutMs; process really gone', { skip: !POSIX }, async () => {
  const { resources } = makeResources({ flags: ['--ignore-sigterm'] });
  const { m, log, spawn } = make({ resourcesPath: resources, killTimeoutMs: 300 });
  const st = await m.start();
  const t0 = Date.now();
  await m.stop();
  const took = Date.now() - t0;
  assert.ok(took >= 300 && took < 15000, `stop took ${took} ms`); // the upper bound holds on a loaded machine
  const sigs = log.records.filter((r) => r.event === 'backend.signal').map((r) => r.signal);
  assert.deepEqual(sigs, ['SIGTERM', 'SIGKILL']);
  assert.ok(isGone(st.pid));
  assert.equal(m.state, 'stopped');
});

test('stop: a onefile-like process tree (sh parent + grandchild) leaves nothing behind', { skip: process.platform !== 'linux' }, async () => {
  const { resources } = makeResources({ flags: ['--grandchild'], exec: false });
  const { m, spawn } = make({ resourcesPath: resources });
  const lines = [];
  m.on('output', (o) => lines.push(o.line));
  await m.start();
  const gc = Number((lines.find((l) => l.startsWith('GRANDCHILD pid=')) || '').split('=')[1]);
  assert.ok(gc > 0, 'grandchild pid printed');
  assert.ok(!isGone(gc));
  await m.stop();
  assertAllGone(spawn);
  // Generous: a loaded machine may take a while to deliver the kill (up to 10 s).
  for (let i = 0; i < 1000 && !isGone(gc, { zombieOk: true }); i++) await sleep(10);
  assert.ok(isGone(gc, { zombieOk: true }), `grandchild ${gc} survived stop()`);
});

test('crash of a onefile-like tree → what it left behind is killed, not orphaned', { skip: process.platform !== 'linux' }, async () => {
  const { resources } = makeResources({ flags: ['--grandchild', '--crash-after', '100'], exec: false });
  const { m, spawn } = make({ resourcesPath: resources, maxRestarts: 0 });
  const lines = [];
  m.on('output', (o) => lines.push(o.line));
  const failed = new Promise((res) => m.once('failed', res));
  await m.start();
  await failed;
  const gc = Number((lines.find((l) => l.startsWith('GRANDCHILD pid=')) || '').split('=')[1]);
  assert.ok(gc > 0);
  for (let i = 0; i < 1000 && !isGone(gc, { zombieOk: true }); i++) await sleep(10);
  assert.ok(isGone(gc, { zombieOk: true }), `grandchild ${gc} outlived the crashed backend`);
  assert.deepEqual(groupMembers(spawn.pids()[0]), []);
  assertAllGone(spawn);
});

test('stop during start-up → start() rejects ABORTED, nothing left, no restart', { skip: !POSIX }, async () => {
  const { resources } = makeResources({ flags: ['--startup-delay', '400'] });
  const { m, spawn } = make({ resourcesPath: resources });
  const started = m.start();
  await sleep(120);
  await m.stop();
  await assert.rejects(started, (e) => e.code === 'ABORTED');
  assertAllGone(spawn);
  await sleep(100);
  assert.equal(spawn.calls.length, 1);
  assert.equal(m.state, 'stopped');
});

test('stop during restart backoff → restart cancelled', { skip: !POSIX }, async () => {
  const { resources } = makeResources({ flags: ['--crash-after', '50'] });
  const { m, spawn } = make({ resourcesPath: resources, restartBackoffMs: 300 });
  const restarting = new Promise((res) => m.on('status', (s) => s.state === 'restarting' && res()));
  await m.start();
  await restarting;
  await m.stop();
  await sleep(400);
  assert.equal(spawn.calls.length, 1);
  assert.equal(m.state, 'stopped');
  assertAllGone(spawn);
});

test('start twice joins one start; stop twice is one stop; start after stop works', { skip: !POSIX }, async () => {
  const { resources } = makeResources();
  const { m, spawn } = make({ resourcesPath: resources });
  const [a, b] = await Promise.all([m.start(), m.start()]);
  assert.equal(a.pid, b.pid);
  assert.equal(spawn.calls.length, 1);
  await Promise.all([m.stop(), m.stop()]);
  const c = await m.start();
  assert.notEqual(c.pid, a.pid);
  await m.stop();
  assertAllGone(spawn);
});
