// STAND-IN Electron runtime (see ./electron): loads resources/app.asar (or resources/app) and
// runs its "main" with a minimal `electron` module: app (isPackaged, whenReady, on/once, quit,
// exit, getVersion, getPath), BrowserWindow (inert). Enough for a main process that spawns and
// supervises a backend; it renders nothing.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const Module = require('module');
const { EventEmitter } = require('events');

const resourcesPath = path.join(__dirname, 'resources');
Object.defineProperty(process, 'resourcesPath', { value: resourcesPath });

// app.asar: 4-byte 4, 4-byte header pickle size, then pickle (4-byte payload size, 4-byte JSON
// length, JSON). Files follow the header; "unpacked" entries live in app.asar.unpacked.
function extractAsar(asarFile, dest) {
  const fd = fs.openSync(asarFile, 'r');
  const head = Buffer.alloc(8);
  fs.readSync(fd, head, 0, 8, 0);
  const headerSize = head.readUInt32LE(4);
  const pickle = Buffer.alloc(headerSize);
  fs.readSync(fd, pickle, 0, headerSize, 8);
  const jsonLen = pickle.readUInt32LE(4);
  const header = JSON.parse(pickle.toString('utf8', 8, 8 + jsonLen));
  const base = 8 + headerSize;
  (function walk(node, rel) {
    for (const [name, e] of Object.entries(node.files || {})) {
      const p = path.join(dest, rel, name);
      if (e.files) {
        fs.mkdirSync(p, { recursive: true });
        walk(e, path.join(rel, name));
      } else if (e.unpacked) {
        fs.copyFileSync(path.join(asarFile + '.unpacked', rel, name), p);
      } else if (e.size !== undefined) {
        const buf = Buffer.alloc(e.size);
        fs.readSync(fd, buf, 0, e.size, base + Number(e.offset));
        fs.writeFileSync(p, buf, { mode: e.executable ? 0o755 : 0o644 });
      }
    }
  })(header, '');
  fs.closeSync(fd);
}

let appDir = path.join(resourcesPath, 'app');
let tmpDir = null;
if (fs.existsSync(path.join(resourcesPath, 'app.asar'))) {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'electron-stand-in-'));
  extractAsar(path.join(resourcesPath, 'app.asar'), tmpDir);
  appDir = tmpDir;
}
const cleanup = () => { if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true }); };
const pkg = JSON.parse(fs.readFileSync(path.join(appDir, 'package.json'), 'utf8'));

const app = new EventEmitter();
let resolveReady;
const ready = new Promise((r) => (resolveReady = r));
let quitting = false;
Object.assign(app, {
  isPackaged: true,
  getVersion: () => pkg.version,
  getName: () => pkg.productName || pkg.name,
  getPath: () => os.tmpdir(),
  whenReady: () => ready,
  isReady: () => true,
  // Electron order: before-quit, will-quit (handlers may preventDefault), quit, then exit.
  quit() {
    if (quitting) return;
    quitting = true;
    let prevented = false;
    const ev = { preventDefault: () => { prevented = true; } };
    app.emit('before-quit', ev);
    app.emit('will-quit', ev);
    if (!prevented) app.exit(0);
    else quitting = false;
  },
  exit(code) { app.emit('quit', {}, code || 0); cleanup(); process.exit(code || 0); },
});
class BrowserWindow extends EventEmitter {
  loadURL() { return Promise.resolve(); }
  loadFile() { return Promise.resolve(); }
  show() {}
  close() { this.emit('closed'); }
}
const electron = { app, BrowserWindow, ipcMain: new EventEmitter(), dialog: { showErrorBox: (t, c) => console.error(`${t}: ${c}`) } };

const resolve = Module._resolveFilename;
Module._resolveFilename = function (req, ...rest) { return req === 'electron' ? 'electron' : resolve.call(this, req, ...rest); };
require.cache.electron = { id: 'electron', filename: 'electron', loaded: true, exports: electron };
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => app.quit());

require(path.join(appDir, pkg.main || 'index.js'));
setImmediate(() => { app.emit('ready'); resolveReady(); });
