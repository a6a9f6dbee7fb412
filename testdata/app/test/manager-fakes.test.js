'use strict';
// The manager with an injected fake spawn/fs/http: states, events, error kinds on platforms we
// cannot run here (win32, darwin), restart bookkeeping.
const test = require('node:test');
const assert = require('node:assert/strict');
const { BackendServiceManager } = require('../backend-manager');
const { fakeWorld, fakeFs, logSink, sleep } = require('./fixtures/helpers');

const RES = { linux: '/opt/PeftDesktop/resources', darwin: '/Applications/PeftDesktop.app/Contents/Resources', win32: 'C:\\PeftDesktop\\resources' };
const EXE = { linux: '/opt/PeftDesktop/resources/backend/peft_engine', darwin: '/Applications/PeftDesktop.app/Contents/Resources/backend/peft_engine', win32: 'C:\\PeftDesktop\\resources\\backend\\peft_engine.exe' };

function make({ platform = 'linux', plan, fsEntries, chmodError, ...opts } = {}) {
  const world = fakeWorld(plan);
  const log = logSink();
  const fs = fakeFs(fsEntries || { [EXE[platform]]: 'file' }, { chmodError });
  const m = new BackendServiceManager({
    platform, isPackaged: true, resourcesPath: RES[platform], appDir: '/src/app', spawn: world.spawn, httpGet: world.httpGet,
    isPortFree: world.isPortFree, fs, log, findPython: () => ({ command: 'python3', args: [] }),
    healthIntervalMs: 2, healthTimeoutMs: 300, killTimeoutMs: 30, restartBackoffMs: 5, ...opts,
  });
  return { m, world, log, fs };
}

test('status events: starting → running → stopping → stopped', async () => {
  const { m } = make({ plan: { healthyAfterMs: 5 } });
  const states = [];
  m.on('status', (s) => states.push(s.state));
  const st = await m.start();
  assert.equal(st.port, 8000);
  await m.stop();
  assert.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('spawn options: --port, APP_PORT, hidden window; no process group with an injected spawn', async () => {
  const { m, world } = make();
  await m.start();
  const { args, opts } = world.calls[0];
  assert.deepEqual(args, ['--port', '8000']);
  assert.equal(opts.env.APP_PORT, '8000');
  assert.equal(opts.windowsHide, true);
  assert.equal(opts.detached, false);
  assert.equal(opts.cwd, '/opt/PeftDesktop/resources/backend');
  await m.stop();
});

test('stop() after start() wins even while an earlier stop is still running (found by Property 3)', async () => {
  const { m, world } = make({ plan: { ignoreSigterm: true } }); // the first stop takes killTimeoutMs
  await m.start();
  const stop1 = m.stop();
  const start2 = m.start(); // waits for stop1
  const stop2 = m.stop(); // issued after start2: start2 must not run
  await Promise.all([stop1, stop2]);
  await assert.rejects(start2, (e) => e.code === 'ABORTED');
  assert.equal(m.state, 'stopped');
  assert.equal(world.calls.length, 1);
  // and a start() issued after the stop does start
  const st = await m.start();
  assert.equal(st.state, 'running');
  assert.equal(world.calls.length, 2);
  await m.stop();
  assert.equal(world.alive().length, 0);
});

test('stop with nothing running resolves at once', async () => {
  const { m } = make();
  await m.stop();
  assert.equal(m.state, 'stopped');
});

test('win32: EACCES → no chmod, message about antivirus / reinstall', async () => {
  const { m, fs } = make({ platform: 'win32', plan: { spawnError: 'EACCES' } });
  await assert.rejects(m.start(), (e) => {
    assert.equal(e.code, 'PERMISSION_DENIED');
    assert.match(e.message, /antivirus/);
    assert.doesNotMatch(e.message, /chmod/);
    assert.ok(e.message.includes(EXE.win32));
    assert.match(e.message, /mode=production, platform=win32/);
    return true;
  });
  assert.equal(fs.chmods.length, 0);
});

test('darwin: EACCES even after a successful chmod → noexec hint with chmod +x', async () => {
  const { m, fs, world } = make({ platform: 'darwin', plan: { spawnError: 'EACCES' } });
  await assert.rejects(m.start(), (e) => {
    assert.equal(e.code, 'PERMISSION_DENIED');
    assert.match(e.message, /even after chmod 0755/);
    assert.ok(e.message.includes(`chmod +x "${EXE.darwin}"`));
    return true;
  });
  assert.deepEqual(fs.chmods, [[EXE.darwin, 0o755]]);
  assert.equal(world.calls.length, 2, 'exactly one retry');
});

test('development: EACCES is about the interpreter, and nothing is chmod-ed', async () => {
  const { m, fs } = make({ isPackaged: false, fsEntries: { '/src/app/backend/main.py': 'file' }, plan: { spawnError: 'EACCES' } });
  await assert.rejects(m.start(), (e) => e.code === 'PERMISSION_DENIED' && /Python interpreter "python3"/.test(e.message));
  assert.equal(fs.chmods.length, 0);
});

test('ENOENT at spawn in production → reinstall message', async () => {
  const { m } = make({ plan: { spawnError: 'ENOENT' } });
  await assert.rejects(m.start(), (e) => e.code === 'EXECUTABLE_MISSING' && /Please reinstall\./.test(e.message));
});

test('other spawn errors → SPAWN_FAILED with the errno', async () => {
  const { m } = make({ plan: { spawnError: 'EMFILE' } });
  await assert.rejects(m.start(), (e) => e.code === 'SPAWN_FAILED' && /EMFILE/.test(e.message));
});

test('development: no Python → PYTHON_NOT_FOUND listing what was tried', async () => {
  const { m, world } = make({ platform: 'win32', isPackaged: false, findPython: () => null, appDir: 'C:\\src\\app' });
  await assert.rejects(m.start(), (e) => {
    assert.equal(e.code, 'PYTHON_NOT_FOUND');
    assert.match(e.message, /tried python3, python, py -3/);
    assert.match(e.message, /mode=development, platform=win32, path=C:\\src\\app\\backend\\main\.py/);
    return true;
  });
  assert.equal(world.calls.length, 0);
});

test('development: backend/main.py missing → SOURCE_MISSING', async () => {
  const { m } = make({ isPackaged: false, fsEntries: {} });
  await assert.rejects(m.start(), (e) => e.code === 'SOURCE_MISSING' && e.message.includes('/src/app/backend/main.py'));
});

test('give-up emits "failed" always and "error" only when someone listens', async () => {
  const { m } = make({ plan: { crashAfterMs: 5 }, maxRestarts: 1 });
  const failed = new Promise((res) => m.once('failed', res));
  await m.start(); // no 'error' listener: must not throw
  const e = await failed;
  assert.equal(e.code, 'CRASH_LIMIT');

  const b = make({ plan: { crashAfterMs: 5 }, maxRestarts: 0 });
  const viaError = new Promise((res) => b.m.once('error', res));
  await b.m.start();
  assert.equal((await viaError).code, 'CRASH_LIMIT');
  assert.equal(b.world.calls.length, 1, 'maxRestarts 0 → no restart');
});

test('restart attempts that fail during start-up count against the budget', async () => {
  // first run healthy then crashes; every later run dies before becoming healthy
  const { m, world } = make({ plan: (n) => (n === 0 ? { crashAfterMs: 5 } : { exitAfterMs: 2 }), maxRestarts: 3 });
  const failed = new Promise((res) => m.once('failed', res));
  await m.start();
  const e = await failed;
  assert.equal(world.calls.length, 4);
  assert.match(e.message, /last failure: Backend exited with code 3 during start-up/);
});

test('budget is refilled after the backend stayed healthy for stableMs', async () => {
  const { m, world } = make({ plan: { crashAfterMs: 30 }, maxRestarts: 1, stableMs: 20 });
  await m.start();
  await sleep(200);
  // every run was stable for ≥ stableMs before crashing, so it keeps being restarted
  assert.ok(world.calls.length >= 3, `${world.calls.length} spawns`);
  await m.stop();
  assert.equal(world.alive().length, 0);
});

test('stop while a crash is being handled → no restart', async () => {
  const { m, world } = make({ plan: { crashAfterMs: 10 }, restartBackoffMs: 1 });
  await m.start();
  await sleep(10);
  await m.stop();
  await sleep(50);
  const n = world.calls.length;
  await sleep(50);
  assert.equal(world.calls.length, n);
  assert.equal(world.alive().length, 0);
  assert.equal(m.state, 'stopped');
});

test('killSync SIGKILLs what is running (last resort on process exit)', async () => {
  const { m, world } = make({ plan: { ignoreSigterm: true } });
  await m.start();
  m.killSync();
  assert.deepEqual(world.children[0].signals, ['SIGKILL']);
  await m.stop();
  assert.equal(world.alive().length, 0);
});

test('fetch can be injected instead of httpGet', async () => {
  const world = fakeWorld({});
  let asked = null;
  const m = new BackendServiceManager({
    isPackaged: true, resourcesPath: RES.linux, platform: 'linux', spawn: world.spawn, isPortFree: world.isPortFree,
    fs: fakeFs({ [EXE.linux]: 'file' }), log: () => {}, healthIntervalMs: 2,
    fetch: async (url) => { asked = url; return { status: 200, text: async () => '{"status":"ok"}' }; },
  });
  const st = await m.start();
  assert.equal(asked, 'http://127.0.0.1:8000/api/health');
  assert.deepEqual(st.health, { status: 'ok' });
  await m.stop();
});

test('every log record is structured: ts, level, event, mode, platform, path', async () => {
  const { m, log } = make({ plan: { crashAfterMs: 5 }, maxRestarts: 1 });
  const failed = new Promise((res) => m.once('failed', res));
  await m.start();
  await failed;
  await m.stop();
  assert.ok(log.records.length > 5);
  for (const r of log.records) {
    assert.match(r.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['info', 'warn', 'error'].includes(r.level));
    assert.equal(r.mode, 'production');
    assert.equal(r.platform, 'linux');
    assert.equal(r.path, EXE.linux);
    assert.doesNotThrow(() => JSON.stringify(r));
  }
});
