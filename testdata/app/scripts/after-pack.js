'use strict';
// electron-builder afterPack hook (runs once the app folder is laid out, before any target —
// tar.gz, deb, nsis, dmg — is made from it).
//
// electron-builder only *warns* ("file source doesn't exist") when an extraResources source is
// missing and goes on to build an app without its backend. This hook fails the build instead,
// and also fails it when the packaged executable is not executable on linux/macOS (a 0644
// source is copied as 0644 and fails at run time with `spawn ... EACCES`): the fix belongs in
// the build that produced it, not silently here.
//
// Accepted layouts (the same ones BackendServiceManager.getBackendPath() resolves):
//   onefile: <resources>/backend/peft_engine[.exe]
//   onedir:  <resources>/backend/peft_engine/peft_engine[.exe]  (+ _internal/)
const fs = require('fs');
const path = require('path');

function resourcesDir(context) {
  const platform = context.electronPlatformName;
  if (platform === 'darwin' || platform === 'mas') {
    const product = context.packager.appInfo.productFilename;
    return path.join(context.appOutDir, `${product}.app`, 'Contents', 'Resources');
  }
  return path.join(context.appOutDir, 'resources');
}

function findPackagedBackend(resources, platform) {
  const exe = platform === 'win32' ? 'peft_engine.exe' : 'peft_engine';
  const onefile = path.join(resources, 'backend', exe);
  const onedir = path.join(resources, 'backend', 'peft_engine', exe);
  const isFile = (p) => {
    try { return fs.statSync(p).isFile(); } catch (_) { return false; }
  };
  if (isFile(onefile)) return { path: onefile, layout: 'onefile' };
  if (isFile(onedir)) return { path: onedir, layout: 'onedir' };
  return { path: null, candidates: [onefile, onedir] };
}

async function afterPack(context, { log = console } = {}) {
  const platform = context.electronPlatformName;
  const resources = resourcesDir(context);
  const found = findPackagedBackend(resources, platform);
  if (!found.path) {
    throw new Error(
      `afterPack: backend executable not packaged for ${platform}: neither ${found.candidates.join(' nor ')} exists. ` +
        'Put the PyInstaller output at backend/dist/ (peft_engine[.exe] for onefile, peft_engine/ for onedir) before running electron-builder.',
    );
  }
  if (platform !== 'win32' && process.platform !== 'win32') {
    const mode = fs.statSync(found.path).mode & 0o777;
    if ((mode & 0o111) === 0) {
      throw new Error(
        `afterPack: backend ${found.path} is not executable (mode ${mode.toString(8)}): the app would fail with spawn EACCES; ` +
          'give the PyInstaller output mode 755 (chmod 755) before packaging.',
      );
    }
  }
  log.log(`afterPack: backend ${found.layout} at ${found.path}`);
  return found;
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.findPackagedBackend = findPackagedBackend;
module.exports.resourcesDir = resourcesDir;
