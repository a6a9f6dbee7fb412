'use strict';
// package.json's electron-builder config, and the afterPack hook that checks the backend landed.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const afterPack = require('../scripts/after-pack');
const { tmpDir } = require('./fixtures/helpers');

const APP = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(APP, 'package.json'), 'utf8'));
const b = pkg.build;

test('package.json: identity, entry, test script, exact pins', () => {
  assert.equal(pkg.name, 'peft-desktop');
  assert.equal(pkg.version, '0.1.0');
  assert.equal(pkg.main, 'main.js');
  for (const k of ['author', 'homepage', 'license']) assert.ok(pkg[k], `${k} (electron-builder needs it)`);
  assert.equal(pkg.scripts.test, 'node --test test/');
  assert.equal(pkg.devDependencies['electron-builder'], '26.17.0');
  assert.match(pkg.devDependencies.electron, /^\d+\.\d+\.\d+$/, 'electron pinned exactly');
  assert.equal(b.electronVersion, pkg.devDependencies.electron);
  assert.deepEqual(Object.keys(pkg.dependencies || {}), [], 'the app has no runtime dependencies');
});

test('build: ids, output, asar with only the app files (no backend source)', () => {
  assert.equal(b.appId, 'com.example.peftdesktop');
  assert.equal(b.productName, 'PeftDesktop');
  assert.equal(b.directories.output, 'dist');
  assert.equal(b.asar, true);
  assert.deepEqual(b.files, ['main.js', 'backend-manager.js', 'package.json']);
  for (const f of b.files) assert.ok(fs.existsSync(path.join(APP, f)), f);
  // everything main.js requires locally is in `files`
  const requires = [...fs.readFileSync(path.join(APP, 'main.js'), 'utf8').matchAll(/require\('(\.[^']+)'\)/g)].map((m) => m[1]);
  for (const r of requires) assert.ok(b.files.includes(path.normalize(r).replace(/\.js$/, '') + '.js'), `${r} not in build.files`);
});

test('build: extraResources put the backend at resources/backend/peft_engine[.exe] (onefile) or resources/backend/peft_engine/ (onedir)', () => {
  const unix = [{ from: 'backend/dist/peft_engine', to: 'backend/peft_engine' }];
  assert.deepEqual(b.linux.extraResources, unix);
  assert.deepEqual(b.mac.extraResources, unix);
  assert.deepEqual(b.win.extraResources, [
    { from: 'backend/dist/peft_engine.exe', to: 'backend/peft_engine.exe' },
    { from: 'backend/dist/peft_engine', to: 'backend/peft_engine' },
  ]);
  assert.equal(b.extraResources, undefined, 'no platform-independent copy that would ship the wrong OS binary');
});

test('build: targets and platform settings', () => {
  assert.deepEqual(b.win.target, ['nsis']);
  assert.equal(b.win.requestedExecutionLevel, 'asInvoker');
  assert.deepEqual(b.mac.target, ['dmg', 'zip']);
  assert.deepEqual(b.linux.target, ['dir', 'tar.gz', 'deb']);
  assert.ok(b.linux.category);
  assert.ok(b.linux.maintainer);
  assert.equal(b.linux.executableName, 'peft-desktop');
  assert.equal(b.afterPack, './scripts/after-pack.js');
});

const quiet = { log: { log() {}, warn() {} } };

function appOut(platform, layout, mode = 0o755) {
  const out = tmpDir('peft-afterpack-');
  const resources = platform === 'darwin' ? path.join(out, 'PeftDesktop.app', 'Contents', 'Resources') : path.join(out, 'resources');
  const exe = platform === 'win32' ? 'peft_engine.exe' : 'peft_engine';
  let file = null;
  if (layout === 'onefile') file = path.join(resources, 'backend', exe);
  if (layout === 'onedir') file = path.join(resources, 'backend', 'peft_engine', exe);
  if (file) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'stand-in executable');
    fs.chmodSync(file, mode);
  }
  const ctx = { appOutDir: out, electronPlatformName: platform, packager: { appInfo: { productFilename: 'PeftDesktop' } } };
  return { ctx, file };
}

for (const platform of ['linux', 'darwin', 'win32']) {
  for (const layout of ['onefile', 'onedir']) {
    test(`afterPack ${platform} ${layout}: found`, async () => {
      const { ctx, file } = appOut(platform, layout);
      const r = await afterPack(ctx, quiet);
      assert.deepEqual(r, { path: file, layout });
    });
  }
  test(`afterPack ${platform}: no backend → the build fails naming both places`, async () => {
    const { ctx } = appOut(platform, null);
    await assert.rejects(afterPack(ctx, quiet), /backend executable not packaged for .*backend.peft_engine.* nor .*peft_engine/);
  });
}

test('afterPack linux: a 0644 backend fails the build, naming the file and EACCES', { skip: process.platform === 'win32' }, async () => {
  const { ctx, file } = appOut('linux', 'onefile', 0o644);
  await assert.rejects(afterPack(ctx, quiet), /is not executable \(mode 644\).*EACCES/);
  assert.equal(fs.statSync(file).mode & 0o777, 0o644, 'left as it was: nothing is fixed silently');
});

test('afterPack exports what electron-builder looks for (module or .default)', () => {
  assert.equal(typeof afterPack, 'function');
  assert.equal(afterPack.default, afterPack);
});
