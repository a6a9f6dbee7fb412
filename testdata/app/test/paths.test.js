'use strict';
// getBackendPath() and findPythonExecutable(): development vs packaged, linux/win32/darwin,
// onefile vs onedir — with an injected fake fs, no processes.
const test = require('node:test');
const assert = require('node:assert/strict');
const { BackendServiceManager, findPythonExecutable, executableName } = require('../backend-manager');
const { fakeFs, logSink } = require('./fixtures/helpers');

const RESOURCES = {
  linux: '/opt/PeftDesktop/resources',
  darwin: '/Applications/PeftDesktop.app/Contents/Resources',
  win32: 'C:\\Program Files\\PeftDesktop\\resources',
};
const APPDIR = {
  linux: '/home/dev/peft-desktop',
  darwin: '/Users/dev/peft-desktop',
  win32: 'C:\\Users\\dev\\peft-desktop',
};
const py = { command: 'python3', args: [], version: 'Python 3.13.5' };

function mgr(platform, isPackaged, entries, extra = {}) {
  const log = logSink();
  const m = new BackendServiceManager({
    platform, isPackaged, resourcesPath: RESOURCES[platform], appDir: APPDIR[platform],
    fs: fakeFs(entries), findPython: () => py, log, spawn: () => { throw new Error('no spawn here'); }, ...extra,
  });
  return { m, log };
}

test('executable name: .exe on win32 only', () => {
  assert.equal(executableName('win32'), 'peft_engine.exe');
  assert.equal(executableName('linux'), 'peft_engine');
  assert.equal(executableName('darwin'), 'peft_engine');
});

for (const platform of ['linux', 'darwin', 'win32']) {
  const sep = platform === 'win32' ? '\\' : '/';
  const exe = executableName(platform);
  const onefile = [RESOURCES[platform], 'backend', exe].join(sep);
  const folder = [RESOURCES[platform], 'backend', 'peft_engine'].join(sep);
  const inside = [folder, exe].join(sep);

  test(`${platform}: packaged onefile → resources/backend/${exe}`, () => {
    const { m, log } = mgr(platform, true, { [onefile]: 'file' });
    const r = m.getBackendPath();
    assert.deepEqual(
      { mode: r.mode, command: r.command, args: r.args, path: r.path, layout: r.layout },
      { mode: 'production', command: onefile, args: [], path: onefile, layout: 'onefile' },
    );
    const rec = log.records.find((x) => x.event === 'backend.path');
    assert.equal(rec.mode, 'production');
    assert.equal(rec.platform, platform);
    assert.equal(rec.path, onefile);
    assert.match(rec.ts, /^\d{4}-\d\d-\d\dT/);
  });

  test(`${platform}: packaged onedir → resources/backend/peft_engine/${exe}`, () => {
    const { m } = mgr(platform, true, { [folder]: 'dir', [inside]: 'file', [[folder, '_internal'].join(sep)]: 'dir' });
    const r = m.getBackendPath();
    assert.equal(r.mode, 'production');
    assert.equal(r.layout, 'onedir');
    assert.equal(r.path, inside);
    assert.equal(r.command, inside);
  });

  test(`${platform}: packaged, nothing there → onefile path reported as missing`, () => {
    const { m } = mgr(platform, true, {});
    const r = m.getBackendPath();
    assert.equal(r.layout, 'missing');
    assert.equal(r.path, onefile);
    assert.deepEqual(r.candidates, [onefile, inside]);
  });

  test(`${platform}: development → python running <appDir>/backend/main.py`, () => {
    const script = [APPDIR[platform], 'backend', 'main.py'].join(sep);
    const { m, log } = mgr(platform, false, { [script]: 'file' });
    const r = m.getBackendPath();
    assert.deepEqual(
      { mode: r.mode, command: r.command, args: r.args, path: r.path, layout: r.layout },
      { mode: 'development', command: 'python3', args: [script], path: script, layout: 'source' },
    );
    const rec = log.records.find((x) => x.event === 'backend.path');
    assert.deepEqual([rec.mode, rec.platform, rec.path], ['development', platform, script]);
  });
}

test('win32 packaged: a leftover onedir folder does not shadow a onefile peft_engine.exe', () => {
  const base = RESOURCES.win32 + '\\backend\\';
  const { m } = mgr('win32', true, { [base + 'peft_engine.exe']: 'file', [base + 'peft_engine']: 'dir' });
  assert.equal(m.getBackendPath().path, base + 'peft_engine.exe');
});

test('development: backendSourceDir overrides <appDir>/backend', () => {
  const { m } = mgr('linux', false, {}, { backendSourceDir: '/work/backend' });
  assert.equal(m.getBackendPath().path, '/work/backend/main.py');
});

test('development: `py -3` launcher args come before the script', () => {
  const { m } = mgr('win32', false, {}, { findPython: () => ({ command: 'py', args: ['-3'] }) });
  const r = m.getBackendPath();
  assert.equal(r.command, 'py');
  assert.deepEqual(r.args, ['-3', APPDIR.win32 + '\\backend\\main.py']);
});

test('development: no Python → command null (start() reports it)', () => {
  const { m } = mgr('linux', false, {}, { findPython: () => null });
  const r = m.getBackendPath();
  assert.equal(r.command, null);
  assert.equal(r.mode, 'development');
});

test('development: findPython is asked once and cached', () => {
  let calls = 0;
  const { m } = mgr('linux', false, {}, { findPython: () => (calls++, py) });
  m.getBackendPath();
  m.getBackendPath();
  assert.equal(calls, 1);
});

function fakeSpawnSync(available) {
  const tried = [];
  const fn = (cmd, args) => {
    tried.push([cmd, ...args].join(' '));
    const key = [cmd, ...args.slice(0, -1)].join(' ');
    if (!(key in available)) return { error: Object.assign(new Error('ENOENT'), { code: 'ENOENT' }), status: null };
    return { status: 0, stdout: available[key], stderr: '' };
  };
  fn.tried = tried;
  return fn;
}

test('findPythonExecutable: python3, then python, on POSIX; never py', () => {
  const s = fakeSpawnSync({ python: 'Python 3.12.1' });
  const r = findPythonExecutable({ platform: 'linux', spawnSync: s, env: {} });
  assert.deepEqual(r, { command: 'python', args: [], version: 'Python 3.12.1' });
  assert.deepEqual(s.tried, ['python3 --version', 'python --version']);
  const none = fakeSpawnSync({});
  assert.equal(findPythonExecutable({ platform: 'darwin', spawnSync: none, env: {} }), null);
  assert.deepEqual(none.tried, ['python3 --version', 'python --version']);
});

test('findPythonExecutable: win32 falls back to `py -3`; Python 2 is skipped', () => {
  const s = fakeSpawnSync({ python: 'Python 2.7.18', 'py -3': 'Python 3.11.9' });
  const r = findPythonExecutable({ platform: 'win32', spawnSync: s, env: {} });
  assert.deepEqual(r, { command: 'py', args: ['-3'], version: 'Python 3.11.9' });
  assert.deepEqual(s.tried, ['python3 --version', 'python --version', 'py -3 --version']);
});

test('findPythonExecutable: $PEFT_PYTHON wins', () => {
  const s = fakeSpawnSync({ '/opt/py/bin/python3.13': 'Python 3.13.5', python3: 'Python 3.11.2' });
  const r = findPythonExecutable({ platform: 'linux', spawnSync: s, env: { PEFT_PYTHON: '/opt/py/bin/python3.13' } });
  assert.equal(r.command, '/opt/py/bin/python3.13');
});

test('findPythonExecutable: default spawnSync runs for real without throwing', () => {
  const r = findPythonExecutable({ platform: process.platform });
  assert.ok(r === null || /^Python 3\./.test(r.version));
});
