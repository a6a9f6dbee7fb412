'use strict';
// main.js end to end under a stand-in Electron runtime, in the packaged layout electron-builder
// produces: <dist>/resources/app/<build.files only> + <dist>/resources/backend/peft_engine.
// Set PEFT_STAND_IN_ELECTRON=/path/to/stub-boot.js to boot with another stand-in (e.g. the one
// pybundle's packaging tests use) instead of fixtures/stand-in-electron.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFile } = require('child_process');
const { makeResources, isGone, portRange, tmpDir } = require('./fixtures/helpers');

const APP = path.join(__dirname, '..');
const PKG = JSON.parse(fs.readFileSync(path.join(APP, 'package.json'), 'utf8'));
const STUB = process.env.PEFT_STAND_IN_ELECTRON || path.join(__dirname, 'fixtures', 'stand-in-electron.js');
const RANGE = portRange(26000);
const POSIX = process.platform !== 'win32';

/** A packaged app: only the files electron-builder's `build.files` would put in the asar. */
function packagedApp(backend) {
  const { resources } = backend ? makeResources(backend) : { resources: path.join(tmpDir(), 'resources') };
  const dist = path.dirname(resources);
  fs.mkdirSync(path.join(resources, 'app'), { recursive: true });
  for (const f of PKG.build.files) fs.copyFileSync(path.join(APP, f), path.join(resources, 'app', f));
  fs.copyFileSync(STUB, path.join(dist, 'stub-boot.js'));
  return { dist, resources };
}

function boot(dist, env = {}) {
  const outFile = path.join(dist, 'selftest.out');
  const childEnv = { ...process.env, PEFT_SELFTEST: '1', PEFT_SELFTEST_OUT: outFile, PEFT_BACKEND_PORTS: `${RANGE[0]}-${RANGE[1]}`, ...env };
  delete childEnv.NODE_TEST_CONTEXT;
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(dist, 'stub-boot.js')], { env: childEnv, timeout: 20000 }, (err, stdout, stderr) => {
      const file = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
      resolve({ code: err ? err.code : 0, stdout, stderr, file });
    });
  });
}

function selftestLine(text) {
  const line = text.split('\n').find((l) => l.startsWith('PEFT_SELFTEST '));
  assert.ok(line, `no PEFT_SELFTEST line in:\n${text}`);
  return JSON.parse(line.slice('PEFT_SELFTEST '.length));
}

for (const layout of ['onefile', 'onedir']) {
  test(`PEFT_SELFTEST=1, ${layout} backend: BACKEND_READY, health printed, backend stopped, exit 0`, { skip: !POSIX }, async () => {
    const { dist } = packagedApp({ layout });
    const r = await boot(dist);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const port = Number((/^BACKEND_READY port=(\d+)$/m.exec(r.stdout) || [])[1]);
    assert.ok(port >= RANGE[0] && port <= RANGE[1], r.stdout);
    assert.match(r.stdout, /^PEFT_SELFTEST \{"ok":true,"health":\{.*\},"pid":\d+\}$/m);
    const st = selftestLine(r.stdout);
    assert.equal(st.health.status, 'ok');
    assert.equal(st.health.port, port);
    assert.ok(isGone(st.pid), `backend ${st.pid} left running`);
    assert.match(r.file, /^BACKEND_READY port=\d+$/m, 'PEFT_SELFTEST_OUT gets the lines too');
    assert.match(r.file, /^PEFT_SELFTEST \{"ok":true/m);
    // structured log lines name mode, platform and the packaged path
    const logs = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const p = logs.find((l) => l.event === 'backend.path');
    assert.equal(p.mode, 'production');
    assert.equal(p.layout, layout);
    assert.equal(p.platform, process.platform);
    assert.ok(p.path.endsWith(layout === 'onedir' ? '/backend/peft_engine/peft_engine' : '/backend/peft_engine'));
  });
}

test('PEFT_SELFTEST=1, backend missing: reinstall message, {"ok":false}, exit 2', async () => {
  const { dist } = packagedApp(null);
  const r = await boot(dist);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /^BACKEND_ERROR Backend executable not found: .*Installation may be corrupted\. Please reinstall\./m);
  const st = selftestLine(r.stdout);
  assert.equal(st.ok, false);
  assert.match(st.error, /mode=production, platform=/);
  assert.match(r.stderr, /Please reinstall/);
});

test('PEFT_SELFTEST=1, backend dies on start: its last output reaches the report, exit 2', { skip: !POSIX }, async () => {
  const { dist } = packagedApp({ flags: ['--exit-immediately'] });
  const r = await boot(dist);
  assert.equal(r.code, 2);
  const st = selftestLine(r.stdout);
  assert.match(st.error, /exited with code 3 during start-up/);
  assert.match(st.error, /database schema version 7/);
});

test('without PEFT_SELFTEST a window shows the backend status (stand-in window, then killed)', { skip: !POSIX || !!process.env.PEFT_STAND_IN_ELECTRON }, async () => {
  const { dist } = packagedApp({});
  const outFile = path.join(dist, 'selftest.out');
  const env = { ...process.env, STAND_IN_SHOW_URL: '1', PEFT_SELFTEST_OUT: outFile, PEFT_BACKEND_PORTS: `${RANGE[0]}-${RANGE[1]}` };
  delete env.PEFT_SELFTEST;
  delete env.NODE_TEST_CONTEXT;
  const { spawn } = require('child_process');
  const child = spawn(process.execPath, [path.join(dist, 'stub-boot.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  const windowUrl = () => (stdout.split('\n').filter((l) => l.startsWith('WINDOW_URL ')).map((l) => decodeURIComponent(l)).pop() || '');
  let backendPid = 0;
  try {
    for (let i = 0; i < 200 && !/backend: <b[^>]*>running/.test(windowUrl()); i++) await new Promise((r) => setTimeout(r, 25));
    backendPid = Number((/"event":"backend\.spawned".*?"pid":(\d+)/.exec(stdout) || [])[1]);
    assert.match(windowUrl(), /^WINDOW_URL data:text\/html.*backend: <b[^>]*>running<\/b>\s+on port \d+ \(production, /s);
  } finally {
    child.kill('SIGTERM'); // main.js: stop the backend, then exit
  }
  const ex = await exited;
  assert.equal(ex.code, 0);
  assert.ok(backendPid > 0 && isGone(backendPid), `backend ${backendPid} outlived the app`);
});
