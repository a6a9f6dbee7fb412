'use strict';
// PeftDesktop main process: starts the Python backend through BackendServiceManager and shows
// its health. Uses only app.isPackaged/whenReady/on/quit/exit/getVersion and BrowserWindow
// (constructor, loadURL, on), so it runs the same under real Electron and under the stand-in
// Electron runtime pybundle's tests use (plain node + a fake `electron` module).
//
//   PEFT_SELFTEST=1                 start the backend, GET /api/health, print one line
//                                   PEFT_SELFTEST {"ok":true,"health":{...},"pid":N}, stop it,
//                                   exit 0 (exit 2 and {"ok":false,"error":...} on any failure)
//   PEFT_SELFTEST_OUT=<file>        also append the BACKEND_* / PEFT_SELFTEST lines to <file>
//   PEFT_BACKEND_PORTS=9000-9010    port range to try instead of 8000-8010
//   PEFT_BACKEND_START_TIMEOUT_MS   how long to wait for /api/health (default 30000)
//   PEFT_BACKEND_SOURCE=<dir>       development only: run <dir>/main.py instead of ./backend/main.py
//   PEFT_PYTHON=<python>            development only: the interpreter to use

const { app, BrowserWindow } = require('electron');
const fs = require('fs');
const { BackendServiceManager } = require('./backend-manager');

const SELFTEST = !!process.env.PEFT_SELFTEST && !['0', 'false', 'no'].includes(process.env.PEFT_SELFTEST.toLowerCase());

function out(line) {
  console.log(line);
  const file = process.env.PEFT_SELFTEST_OUT;
  if (file) {
    try { fs.appendFileSync(file, line + '\n'); } catch (_) { /* best effort */ }
  }
}

function portRangeFromEnv(v) {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(v || '');
  return m && Number(m[1]) <= Number(m[2]) ? [Number(m[1]), Number(m[2])] : undefined;
}

const manager = new BackendServiceManager({
  isPackaged: app.isPackaged,
  resourcesPath: process.resourcesPath,
  appDir: __dirname,
  backendSourceDir: process.env.PEFT_BACKEND_SOURCE || undefined,
  portRange: portRangeFromEnv(process.env.PEFT_BACKEND_PORTS),
  healthTimeoutMs: Number(process.env.PEFT_BACKEND_START_TIMEOUT_MS) || undefined,
});

let mainWindow = null;

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function render(status) {
  if (!mainWindow) return;
  const color = status.state === 'running' ? '#1a7f37' : status.state === 'failed' ? '#cf222e' : '#9a6700';
  const html = `<!doctype html><meta charset="utf-8"><title>PeftDesktop</title>
<body style="font-family:sans-serif;margin:2em">
<h1>PeftDesktop <small>${escapeHtml(app.getVersion())}</small></h1>
<p>backend: <b style="color:${color}">${escapeHtml(status.state)}</b>
${status.port ? ` on port ${status.port}` : ''} (${escapeHtml(status.mode)}, ${escapeHtml(status.platform)})</p>
<pre>${escapeHtml(status.error || JSON.stringify(status.health, null, 2) || '')}</pre>
<p><small>${escapeHtml(status.path || '')}</small></p></body>`;
  try { mainWindow.loadURL('data:text/html;charset=utf-8,' + encodeURIComponent(html)); } catch (_) { /* window gone */ }
}

function createWindow(status) {
  mainWindow = new BrowserWindow({ width: 640, height: 420, show: true, webPreferences: { sandbox: true, contextIsolation: true } });
  mainWindow.on('closed', () => { mainWindow = null; });
  render(status);
}

async function selftest(status) {
  let code = 0;
  try {
    const health = await manager.checkHealth();
    out('PEFT_SELFTEST ' + JSON.stringify({ ok: true, health, pid: status.pid }));
  } catch (err) {
    out('PEFT_SELFTEST ' + JSON.stringify({ ok: false, error: err.message }));
    console.error(err.message);
    code = 2;
  }
  await manager.stop();
  app.exit(code);
}

async function onReady() {
  out(`PEFT_DESKTOP version=${app.getVersion()} packaged=${app.isPackaged} platform=${process.platform} arch=${process.arch}` +
    ` electron=${process.versions.electron || 'stand-in'} selftest=${SELFTEST}`);
  let status;
  try {
    status = await manager.start();
  } catch (err) {
    out('BACKEND_ERROR ' + err.message.split('\n').join(' | '));
    if (SELFTEST) {
      out('PEFT_SELFTEST ' + JSON.stringify({ ok: false, error: err.message }));
      console.error(err.message);
      await manager.stop();
      app.exit(2);
      return;
    }
    createWindow(manager.status());
    return;
  }
  out(`BACKEND_READY port=${status.port}`);
  if (SELFTEST) {
    await selftest(status);
    return;
  }
  createWindow(status);
}

manager.on('status', (s) => render(s));
manager.on('restarted', (s) => out(`BACKEND_READY port=${s.port} restarts=${s.restarts}`));
manager.on('failed', (err) => {
  out('BACKEND_FAILED ' + err.message.split('\n').join(' | '));
  if (SELFTEST) manager.stop().then(() => app.exit(2));
});

// Quit: stop the backend first. before-quit starts it; will-quit holds the quit until the
// backend has really exited (SIGTERM, then SIGKILL after 5 s), then quits again.
app.on('before-quit', () => { manager.stop(); });
app.on('will-quit', (event) => {
  if (!manager.hasProcess()) return;
  event.preventDefault();
  manager.stop().finally(() => app.quit());
});
app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { manager.stop().finally(() => app.exit(0)); });
}
// Last resort (app.exit, a crash in this file): never leave the backend running.
process.on('exit', () => manager.killSync());

app.whenReady().then(onReady).catch((err) => {
  out('BACKEND_ERROR ' + ((err && err.stack) || err));
  manager.stop().finally(() => app.exit(2));
});
