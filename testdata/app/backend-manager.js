'use strict';
// BackendServiceManager: starts, watches and stops the app's Python backend.
//
//   development (app.isPackaged === false): <python> <appDir>/backend/main.py --port N
//   production  (app.isPackaged === true):  <resourcesPath>/backend/peft_engine[.exe] --port N
//     onefile: resources/backend/peft_engine            (the executable itself)
//     onedir:  resources/backend/peft_engine/peft_engine (a folder with the executable + _internal/)
//
// Everything the manager touches from the outside world (Electron's app state, the file
// system, child_process, HTTP, timers, logging, port probing) is injected, with real
// defaults, so the whole life cycle is testable on plain node without Electron.

const childProcess = require('child_process');
const nodeFs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { EventEmitter } = require('events');

const BACKEND_NAME = 'peft_engine';
const DEFAULT_PORT_RANGE = Object.freeze([8000, 8010]);
const HEALTH_PATH = '/api/health';
const REINSTALL_HINT = 'Installation may be corrupted. Please reinstall.';
const PORT_IN_USE_RE = /address already in use|EADDRINUSE|Errno 98|Errno 48|WinError 10048|only one usage of each socket address/i;

/** The executable's file name on a platform (process.platform spelling). */
function executableName(platform, base = BACKEND_NAME) {
  return platform === 'win32' ? `${base}.exe` : base;
}

/** path.win32 for Windows, path.posix elsewhere, so paths look right for the target platform. */
function pathFor(platform) {
  return platform === 'win32' ? path.win32 : path.posix;
}

/**
 * Finds a Python 3 interpreter for development mode: $PEFT_PYTHON, then python3 and python on
 * PATH, then the `py -3` launcher on Windows. Returns { command, args, version } or null.
 */
function findPythonExecutable({ platform = process.platform, spawnSync = childProcess.spawnSync, env = process.env } = {}) {
  const candidates = [];
  if (env && env.PEFT_PYTHON) candidates.push({ command: env.PEFT_PYTHON, args: [] });
  candidates.push({ command: 'python3', args: [] }, { command: 'python', args: [] });
  if (platform === 'win32') candidates.push({ command: 'py', args: ['-3'] });
  for (const c of candidates) {
    let r;
    try {
      r = spawnSync(c.command, [...c.args, '--version'], { encoding: 'utf8', timeout: 5000, windowsHide: true });
    } catch (_) {
      continue;
    }
    if (!r || r.error || r.status !== 0) continue;
    const out = `${r.stdout || ''}${r.stderr || ''}`.trim();
    // The Windows Store "python" alias prints nothing useful and exits non-zero; Python 2 says "Python 2.x".
    if (!/^Python 3\.\d+/m.test(out)) continue;
    return { command: c.command, args: c.args, version: out };
  }
  return null;
}

/** Real port probe: can we listen on host:port right now? */
function isPortFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Minimal GET returning { status, body }; no keep-alive, so no socket outlives the call. */
function httpGet(url, { timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        if (body.length < 65536) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** Adapts a WHATWG fetch (global fetch, Electron's net.fetch) to the httpGet shape. */
function fetchAdapter(fetchFn) {
  return async (url, { timeoutMs = 2000 } = {}) => {
    const res = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  };
}

/** Kills a process and everything it started (PyInstaller onefile = bootloader + child). */
function killProcessTree(child, signal, hostPlatform = process.platform) {
  if (!child || !child.pid) return false;
  if (hostPlatform === 'win32') {
    // No graceful signal exists for a window-less process on Windows: terminate the tree.
    try {
      childProcess.spawnSync('taskkill', ['/pid', String(child.pid), '/T', '/F'], { windowsHide: true, timeout: 5000 });
    } catch (_) { /* fall through to child.kill */ }
    try { return child.kill(); } catch (_) { return false; }
  }
  try {
    process.kill(-child.pid, signal); // the child leads its own process group (spawned detached)
    return true;
  } catch (_) {
    try { return child.kill(signal); } catch (__) { return false; }
  }
}

class BackendError extends Error {
  /**
   * @param {string} code  machine-readable kind (EXECUTABLE_MISSING, PERMISSION_DENIED, PORTS_BUSY, ...)
   * @param {string} summary  what went wrong
   * @param {{mode:string, platform:string, path:string}} ctx  always named in the message
   * @param {{hint?:string, lastOutput?:string[], port?:number, exitCode?:number, signal?:string, cause?:Error}} extra
   */
  constructor(code, summary, ctx, extra = {}) {
    const lastOutput = extra.lastOutput || [];
    let message = `${summary} (mode=${ctx.mode}, platform=${ctx.platform}, path=${ctx.path})`;
    if (extra.hint) message += `. ${extra.hint}`;
    if (lastOutput.length) message += `\nlast output:\n  ${lastOutput.join('\n  ')}`;
    super(message);
    this.name = 'BackendError';
    this.code = code;
    this.summary = summary;
    this.mode = ctx.mode;
    this.platform = ctx.platform;
    this.path = ctx.path;
    this.hint = extra.hint || null;
    this.lastOutput = lastOutput;
    if (extra.port !== undefined) this.port = extra.port;
    if (extra.exitCode !== undefined) this.exitCode = extra.exitCode;
    if (extra.signal !== undefined) this.signal = extra.signal;
    if (extra.cause) this.cause = extra.cause;
  }
}

function defaultLog(record) {
  const line = JSON.stringify(record);
  if (record.level === 'error' || record.level === 'warn') console.error(line);
  else console.log(line);
}

class BackendServiceManager extends EventEmitter {
  /**
   * @param {object} o
   * @param {boolean} o.isPackaged        Electron's app.isPackaged
   * @param {string}  o.resourcesPath     Electron's process.resourcesPath (production)
   * @param {string}  o.appDir            folder holding backend/main.py (development)
   * @param {string}  [o.backendSourceDir]  development: folder holding main.py instead of <appDir>/backend
   * @param {string}  [o.platform]        process.platform spelling; names and paths follow it
   * @param {Function}[o.spawn]           child_process.spawn
   * @param {object}  [o.fs]              { statSync, existsSync, chmodSync }
   * @param {Function}[o.httpGet]         (url, {timeoutMs}) => Promise<{status, body}>
   * @param {Function}[o.log]             (record) => void, record = structured log object
   * @param {Function}[o.findPython]      ({platform}) => {command, args, version} | null
   * @param {object}  [o.timers]          { setTimeout, clearTimeout, now }
   * @param {Function}[o.isPortFree]      (port, host) => Promise<boolean>
   * @param {Function}[o.killTree]        (child, signal) => void; default kills the process group
   *                                      when spawn is the real one, child.kill(signal) otherwise
   */
  constructor(o = {}) {
    super();
    this.isPackaged = !!o.isPackaged;
    this.resourcesPath = o.resourcesPath || process.resourcesPath || '';
    this.appDir = o.appDir || process.cwd();
    this.backendSourceDir = o.backendSourceDir || null; // development: folder with main.py (default <appDir>/backend)
    this.platform = o.platform || process.platform;
    this.hostPlatform = o.hostPlatform || process.platform; // how we spawn and signal
    this.spawnFn = o.spawn || childProcess.spawn;
    this.fs = o.fs || nodeFs;
    this.httpGet = o.httpGet || (o.fetch ? fetchAdapter(o.fetch) : httpGet);
    this.logFn = o.log || defaultLog;
    this.findPython = o.findPython || ((opts) => findPythonExecutable(opts));
    this.timers = {
      setTimeout: (o.timers && o.timers.setTimeout) || setTimeout,
      clearTimeout: (o.timers && o.timers.clearTimeout) || clearTimeout,
      now: (o.timers && o.timers.now) || Date.now,
    };
    this.isPortFree = o.isPortFree || isPortFree;
    const groupKill = o.processGroup !== undefined ? o.processGroup : !o.spawn;
    this.processGroup = groupKill && this.hostPlatform !== 'win32';
    this.killTree = o.killTree || (groupKill ? (c, s) => killProcessTree(c, s, this.hostPlatform) : (c, s) => c.kill(s));
    this.env = o.env || process.env;
    this.host = o.host || '127.0.0.1';
    this.portRange = o.portRange || DEFAULT_PORT_RANGE;
    this.healthTimeoutMs = o.healthTimeoutMs ?? 30000;
    this.healthIntervalMs = o.healthIntervalMs ?? 100;
    this.healthRequestTimeoutMs = o.healthRequestTimeoutMs ?? 2000;
    this.maxRestarts = o.maxRestarts ?? 3;
    this.restartBackoffMs = o.restartBackoffMs ?? 1000;
    this.maxBackoffMs = o.maxBackoffMs ?? 30000;
    this.stableMs = o.stableMs ?? 60000; // healthy this long → the restart budget is refilled
    this.killTimeoutMs = o.killTimeoutMs ?? 5000;
    this.outputTailLines = o.outputTailLines ?? 40;

    this.state = 'stopped';
    this.port = null;
    this.pid = null;
    this.restarts = 0;
    this.lastError = null;
    this.lastHealth = null;
    this.child = null;
    this._children = new Set();
    this._python = null;
    this._token = null;
    this._startPromise = null;
    this._stopPromise = null;
    this._stopSeq = 0;
    this._startSeq = -1;
    this._stopping = false;
    this._restartTimer = null;
    this._readyAt = 0;
    this._ctx = { mode: this.isPackaged ? 'production' : 'development', platform: this.platform, path: null };
  }

  // ---------------------------------------------------------------- logging & status

  _log(level, event, fields = {}) {
    const record = {
      ts: new Date(this.timers.now()).toISOString(),
      level,
      component: 'backend',
      event,
      mode: this._ctx.mode,
      platform: this._ctx.platform,
      path: this._ctx.path,
      ...fields,
    };
    try { this.logFn(record); } catch (_) { /* logging must never break the life cycle */ }
    this.emit('log', record);
    return record;
  }

  status() {
    return {
      state: this.state,
      mode: this._ctx.mode,
      platform: this._ctx.platform,
      path: this._ctx.path,
      port: this.port,
      pid: this.pid,
      restarts: this.restarts,
      health: this.lastHealth,
      error: this.lastError ? this.lastError.message : null,
    };
  }

  _setState(state, fields = {}) {
    this.state = state;
    this._log(state === 'failed' ? 'error' : 'info', 'backend.status', { state, port: this.port, pid: this.pid, ...fields });
    this.emit('status', this.status());
  }

  isRunning() {
    return this.state === 'running';
  }

  hasProcess() {
    return this._children.size > 0;
  }

  // ---------------------------------------------------------------- path resolution

  /** Development: Python found by findPython(), cached once found. */
  findPythonExecutable() {
    if (!this._python) this._python = this.findPython({ platform: this.platform, env: this.env }) || null;
    return this._python;
  }

  _stat(p) {
    try { return this.fs.statSync(p); } catch (_) { return null; }
  }

  /**
   * Where the backend is and how to run it.
   * @returns {{mode:'development'|'production', command:string|null, args:string[], path:string,
   *            layout:'source'|'onefile'|'onedir'|'missing', platform:string, python?:object}}
   */
  getBackendPath() {
    const p = pathFor(this.platform);
    let r;
    if (!this.isPackaged) {
      const script = p.join(this.backendSourceDir || p.join(this.appDir, 'backend'), 'main.py');
      const py = this.findPythonExecutable();
      r = {
        mode: 'development',
        command: py ? py.command : null,
        args: py ? [...py.args, script] : [script],
        path: script,
        layout: 'source',
        python: py,
      };
    } else {
      const exe = executableName(this.platform);
      const backendDir = p.join(this.resourcesPath, 'backend');
      const onefile = p.join(backendDir, exe);
      const folder = p.join(backendDir, BACKEND_NAME);
      const st = this._stat(onefile);
      const fst = onefile === folder ? st : this._stat(folder);
      let exePath = onefile;
      let layout = 'missing';
      if (st && !st.isDirectory()) layout = 'onefile';
      else if (fst && fst.isDirectory()) {
        exePath = p.join(folder, exe);
        layout = 'onedir';
      }
      r = { mode: 'production', command: exePath, args: [], path: exePath, layout, candidates: [onefile, p.join(folder, exe)] };
    }
    r.platform = this.platform;
    this._ctx = { mode: r.mode, platform: this.platform, path: r.path };
    this._log('info', 'backend.path', { layout: r.layout, command: r.command, args: r.args });
    return r;
  }

  // ---------------------------------------------------------------- start

  /**
   * Starts the backend (or joins a start in progress). Resolves with status() once healthy.
   * A stop() called after start() wins: that start rejects with code ABORTED. A start() called
   * after stop() waits for the stop to finish, then starts afresh.
   */
  start() {
    const seq = this._stopSeq;
    if (this._startPromise && this._startSeq === seq) return this._startPromise;
    if (this.state === 'running' && this.child && !this._stopping) return Promise.resolve(this.status());
    const prev = this._startPromise; // a start cancelled by a stop() since: let it unwind first
    const p = (async () => {
      if (prev) await prev.catch(() => {});
      while (this._stopPromise) await this._stopPromise;
      if (this._stopSeq !== seq) throw this._err('ABORTED', 'Backend start cancelled because the backend is being stopped');
      this._stopping = false;
      if (this._restartTimer) {
        this.timers.clearTimeout(this._restartTimer);
        this._restartTimer = null;
      }
      this.restarts = 0;
      this.lastError = null;
      try {
        return await this._launch('start');
      } catch (err) {
        if (err.code !== 'ABORTED') {
          this.lastError = err;
          this._setState('failed', { code: err.code, error: err.message });
        }
        throw err;
      }
    })();
    this._startPromise = p;
    this._startSeq = seq;
    p.then(() => {}, () => {}).then(() => { if (this._startPromise === p) this._startPromise = null; });
    return p;
  }

  _err(code, summary, extra) {
    return new BackendError(code, summary, this._ctx, extra);
  }

  async _launch(reason) {
    const token = {};
    this._token = token;
    const live = () => this._token === token && !this._stopping;
    const aborted = () => this._err('ABORTED', 'Backend start cancelled because the backend is being stopped');

    const r = this.getBackendPath();
    this.port = null;
    this.pid = null;
    this._setState('starting', { reason, layout: r.layout });
    const t0 = this.timers.now();

    if (r.mode === 'development' && !r.command) {
      const tried = this.platform === 'win32' ? 'python3, python, py -3' : 'python3, python';
      throw this._err('PYTHON_NOT_FOUND', `No Python 3 interpreter found to run the backend (tried ${tried})`, {
        hint: 'Install Python 3.10+ and put it on PATH, or set PEFT_PYTHON to its path',
      });
    }
    if (!this.fs.existsSync(r.path)) {
      if (r.mode === 'production') {
        throw this._err('EXECUTABLE_MISSING', `Backend executable not found: ${r.candidates.join(' or ')}`, { hint: REINSTALL_HINT });
      }
      throw this._err('SOURCE_MISSING', `Backend source not found: ${r.path}`, {
        hint: 'Run the app from a checkout that has backend/main.py next to main.js',
      });
    }

    const avoid = new Set();
    const rangeSize = this.portRange[1] - this.portRange[0] + 1;
    for (let attempt = 1; ; attempt++) {
      const port = await this._pickPort(avoid);
      if (!live()) throw aborted();
      const child = await this._spawnWithChmodRetry(r, port, live, aborted);
      if (!live()) {
        await this._terminate(child);
        throw aborted();
      }
      try {
        const health = await this._waitHealthy(child, port, live);
        this.lastHealth = health;
        child.__peftHealthy = true;
        this._readyAt = this.timers.now();
        this._setState('running', { startup_ms: this._readyAt - t0, reason });
        const st = this.status();
        this.emit('ready', st);
        return st;
      } catch (err) {
        await this._terminate(child);
        this.port = null;
        if (!live()) throw aborted();
        const inUse = err.code === 'EXITED_DURING_STARTUP' && err.lastOutput.some((l) => PORT_IN_USE_RE.test(l));
        if (inUse && attempt < rangeSize) {
          // Someone took the port between our probe and the backend's bind: try the next one.
          avoid.add(port);
          this._log('warn', 'backend.port_taken', { port, attempt });
          continue;
        }
        throw err;
      }
    }
  }

  async _pickPort(avoid) {
    const [lo, hi] = this.portRange;
    for (let port = lo; port <= hi; port++) {
      if (avoid.has(port)) continue;
      let free = false;
      try { free = await this.isPortFree(port, this.host); } catch (_) { free = false; }
      if (free) {
        if (port !== lo) this._log('info', 'backend.port_fallback', { port, busy_from: lo });
        return port;
      }
    }
    throw this._err('PORTS_BUSY', `No free port for the backend: every port in ${lo}-${hi} on ${this.host} is in use`, {
      hint: 'Close the programs using them (another copy of the app?) and start again',
    });
  }

  _spawnOptions(r, port) {
    const p = pathFor(this.platform);
    return {
      cwd: p.dirname(r.path),
      env: { ...this.env, APP_PORT: String(port), APP_HOST: this.host, PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
      // POSIX: own process group, so stop() reaches everything the backend started
      // (a PyInstaller onefile bootloader runs the app as its child).
      detached: this.processGroup,
    };
  }

  async _spawnWithChmodRetry(r, port, live = () => true, aborted = null) {
    let chmodTried = false;
    for (;;) {
      if (!live()) throw aborted();
      try {
        return await this._spawnOnce(r, port);
      } catch (err) {
        if (err instanceof BackendError) throw err;
        const code = err && err.code;
        if (code === 'EACCES' && r.mode === 'development') {
          throw this._err('PERMISSION_DENIED', `Permission denied running the Python interpreter "${r.command}" for ${r.path}`, {
            hint: 'Point PEFT_PYTHON at a Python 3 you can run, or fix PATH',
            cause: err,
          });
        }
        if (code === 'EACCES' && this.platform !== 'win32') {
          if (!chmodTried) {
            chmodTried = true;
            try {
              this.fs.chmodSync(r.path, 0o755);
              this._log('warn', 'backend.chmod', { result: 'applied', mode_set: '0755' });
              continue;
            } catch (chmodErr) {
              this._log('error', 'backend.chmod', { result: 'failed', error: chmodErr.code || chmodErr.message });
              throw this._err('PERMISSION_DENIED', `Backend is not executable (EACCES): ${r.path}`, {
                hint: `Automatic chmod failed (${chmodErr.code || chmodErr.message}). Fix it with: chmod +x "${r.path}"`,
                cause: err,
              });
            }
          }
          throw this._err('PERMISSION_DENIED', `Backend is not executable (EACCES) even after chmod 0755: ${r.path}`, {
            hint: `Check that its file system is not mounted noexec, then fix it with: chmod +x "${r.path}"`,
            cause: err,
          });
        }
        if (code === 'EACCES') {
          throw this._err('PERMISSION_DENIED', `Permission denied running the backend: ${r.path}`, {
            hint: 'Check that antivirus software has not blocked or quarantined it, or reinstall the app',
            cause: err,
          });
        }
        if (code === 'ENOENT') {
          if (r.mode === 'production') {
            throw this._err('EXECUTABLE_MISSING', `Backend executable not found: ${r.path}`, { hint: REINSTALL_HINT, cause: err });
          }
          throw this._err('PYTHON_NOT_FOUND', `Python interpreter "${r.command}" disappeared`, {
            hint: 'Install Python 3.10+ and put it on PATH, or set PEFT_PYTHON to its path',
            cause: err,
          });
        }
        throw this._err('SPAWN_FAILED', `Could not start the backend: ${code || ''} ${(err && err.message) || err}`.replace(/\s+/g, ' ').trim(), { cause: err });
      }
    }
  }

  _spawnOnce(r, port) {
    const args = [...r.args, '--port', String(port)];
    this._log('info', 'backend.spawn', { command: r.command, args, port });
    return new Promise((resolve, reject) => {
      let child;
      try {
        child = this.spawnFn(r.command, args, this._spawnOptions(r, port));
      } catch (err) {
        reject(err);
        return;
      }
      const tail = [];
      child.__peftTail = tail;
      child.__peftExited = false;
      child.__peftPort = port;
      this._children.add(child);
      this.child = child;
      let spawned = false;

      const capture = (stream, name) => {
        if (!stream) return;
        let partial = '';
        stream.setEncoding && stream.setEncoding('utf8');
        const emitLine = (line) => {
          line = line.replace(/\r$/, '');
          if (!line) return;
          tail.push(line);
          if (tail.length > this.outputTailLines) tail.shift();
          this._log(name === 'stderr' ? 'warn' : 'info', 'backend.output', { stream: name, pid: child.pid, line });
          this.emit('output', { stream: name, line, pid: child.pid });
        };
        stream.on('data', (d) => {
          const lines = (partial + d).split('\n');
          partial = lines.pop();
          lines.forEach(emitLine);
        });
        stream.on('end', () => {
          if (partial) emitLine(partial);
          partial = '';
        });
        stream.on('error', () => {});
      };
      capture(child.stdout, 'stdout');
      capture(child.stderr, 'stderr');

      child.__peftClosed = new Promise((res) => child.once('close', res));
      child.__peftExit = new Promise((res) => {
        child.once('exit', (code, signal) => {
          child.__peftExited = true;
          child.__peftExitInfo = { code, signal };
          this._children.delete(child);
          // The backend is gone; anything it left in its process group (a onefile bootloader's
          // child after a crash) goes too. The group id cannot be reused while members remain.
          this._sweep(child);
          if (this.child === child) {
            this.child = null;
            this.pid = null;
          }
          if (spawned) this._log('info', 'backend.exit', { pid: child.pid, exit_code: code, signal });
          res({ code, signal });
          this._onExit(child, code, signal);
        });
      });
      child.on('error', (err) => {
        if (!spawned) {
          this._children.delete(child);
          if (this.child === child) this.child = null;
          reject(err);
        } else {
          this._log('error', 'backend.process_error', { pid: child.pid, error: err.message });
        }
      });
      child.once('spawn', () => {
        spawned = true;
        this.pid = child.pid;
        this._log('info', 'backend.spawned', { pid: child.pid, port });
        resolve(child);
      });
    });
  }

  async _lastOutput(child) {
    // 'exit' can come before the last stdout/stderr chunks: give the pipes a moment to drain.
    let timer;
    await Promise.race([child.__peftClosed, new Promise((res) => { timer = this.timers.setTimeout(res, 200); })]);
    this.timers.clearTimeout(timer);
    return child.__peftTail.slice(-10);
  }

  _sleep(ms) {
    let timer;
    const p = new Promise((res) => { timer = this.timers.setTimeout(res, ms); });
    p.cancel = () => this.timers.clearTimeout(timer);
    return p;
  }

  async _waitHealthy(child, port, live) {
    const url = `http://${this.host}:${port}${HEALTH_PATH}`;
    const deadline = this.timers.now() + this.healthTimeoutMs;
    let last = 'no answer yet';
    this.port = port;
    for (;;) {
      if (!live()) throw this._err('ABORTED', 'Backend start cancelled because the backend is being stopped');
      if (child.__peftExited) {
        const { code, signal } = child.__peftExitInfo;
        const lastOutput = await this._lastOutput(child);
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        throw this._err('EXITED_DURING_STARTUP', `Backend ${how} during start-up, before ${url} answered`, {
          lastOutput, port, exitCode: code, signal: signal || undefined,
        });
      }
      const remaining = deadline - this.timers.now();
      try {
        const res = await this.httpGet(url, { timeoutMs: Math.max(50, Math.min(this.healthRequestTimeoutMs, remaining)) });
        if (res.status === 200) {
          let body = res.body;
          try { body = JSON.parse(res.body); } catch (_) { /* keep text */ }
          return body;
        }
        last = `HTTP ${res.status}`;
      } catch (e) {
        last = e.code || e.message;
      }
      if (child.__peftExited) continue; // report the exit, not the refused connection
      if (this.timers.now() >= deadline) {
        throw this._err('HEALTH_TIMEOUT', `Backend did not answer GET ${url} with 200 within ${this.healthTimeoutMs} ms (last: ${last})`, {
          lastOutput: child.__peftTail.slice(-10), port,
        });
      }
      const nap = this._sleep(this.healthIntervalMs);
      await Promise.race([nap, child.__peftExit]);
      nap.cancel();
    }
  }

  /** GET /api/health of the running backend → parsed body; rejects with a BackendError otherwise. */
  async checkHealth() {
    if (!this.port || !this.child) throw this._err('NOT_RUNNING', 'Backend is not running');
    const url = `http://${this.host}:${this.port}${HEALTH_PATH}`;
    let res;
    try {
      res = await this.httpGet(url, { timeoutMs: this.healthRequestTimeoutMs });
    } catch (e) {
      throw this._err('HEALTH_FAILED', `GET ${url} failed: ${e.code || e.message}`, { port: this.port, cause: e });
    }
    if (res.status !== 200) throw this._err('HEALTH_FAILED', `GET ${url} answered HTTP ${res.status}`, { port: this.port });
    let body = res.body;
    try { body = JSON.parse(res.body); } catch (_) { /* keep text */ }
    this.lastHealth = body;
    return body;
  }

  // ---------------------------------------------------------------- crash recovery

  _onExit(child, code, signal) {
    if (!child.__peftHealthy || this._stopping || this._token === null) return;
    if (this.state !== 'running') return; // a launch in progress handles its own child
    // Unexpected exit after the backend was healthy: a crash.
    const token = this._token;
    this._lastOutput(child).then((lastOutput) => {
      if (this._stopping || this._token !== token) return;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const err = this._err('CRASHED', `Backend ${how} unexpectedly`, { lastOutput, exitCode: code, signal: signal || undefined });
      this._log('error', 'backend.crash', { exit_code: code, signal, error: err.message });
      this.emit('crash', err);
      if (this.timers.now() - this._readyAt >= this.stableMs) this.restarts = 0;
      this._scheduleRestart(err);
    });
  }

  _scheduleRestart(lastErr) {
    if (this._stopping) return;
    if (this.restarts >= this.maxRestarts) {
      this._giveUp(lastErr);
      return;
    }
    this.restarts += 1;
    const delay = Math.min(this.restartBackoffMs * 2 ** (this.restarts - 1), this.maxBackoffMs);
    this.port = null;
    this._setState('restarting', { attempt: this.restarts, max_restarts: this.maxRestarts, delay_ms: delay });
    this._token = {}; // nothing in flight; stop() clears it
    this._restartTimer = this.timers.setTimeout(() => {
      this._restartTimer = null;
      if (this._stopping) return;
      this._launch(`restart ${this.restarts}/${this.maxRestarts}`).then(
        (st) => this.emit('restarted', st),
        (err) => {
          if (err.code === 'ABORTED' || this._stopping) return;
          this._log('error', 'backend.restart_failed', { attempt: this.restarts, code: err.code, error: err.message });
          this._scheduleRestart(err);
        },
      );
    }, delay);
  }

  _giveUp(lastErr) {
    const n = this.maxRestarts;
    const err = this._err('CRASH_LIMIT', `Backend stopped unexpectedly and ${n} restart attempt(s) did not keep it running; giving up`, {
      lastOutput: (lastErr && lastErr.lastOutput) || [],
      hint: lastErr ? `last failure: ${lastErr.summary || lastErr.message}` : undefined,
      cause: lastErr,
    });
    this.lastError = err;
    this.port = null;
    this._setState('failed', { code: err.code, error: err.message });
    this.emit('failed', err);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  // ---------------------------------------------------------------- stop

  /**
   * SIGTERM, then SIGKILL after killTimeoutMs; resolves once every backend process has exited.
   * Cancels any start or restart in progress; never restarts while stopping. Idempotent.
   */
  stop() {
    this._stopSeq += 1; // cancels every start() issued before this call
    this._stopping = true;
    this._token = null;
    if (this._restartTimer) {
      this.timers.clearTimeout(this._restartTimer);
      this._restartTimer = null;
    }
    if (this._stopPromise) return this._stopPromise;
    const children = [...this._children];
    const p = (async () => {
      if (children.length) this._setState('stopping');
      await Promise.all(children.map((c) => this._terminate(c)));
      // Belt and braces: nothing can spawn while _stopping, but never leave one behind.
      while (this._children.size) await Promise.all([...this._children].map((c) => this._terminate(c)));
      this.port = null;
      this.pid = null;
      if (this.state !== 'stopped') this._setState('stopped');
      this._stopPromise = null;
    })();
    this._stopPromise = p;
    return p;
  }

  _signal(child, sig) {
    try { this.killTree(child, sig); } catch (e) { this._log('warn', 'backend.signal_failed', { pid: child.pid, signal: sig, error: e.message }); }
  }

  _sweep(child) {
    // Whatever the backend left behind in its process group (onefile bootloader's child...).
    if (this.processGroup && child.pid) {
      try { process.kill(-child.pid, 'SIGKILL'); } catch (_) { /* group already empty */ }
    }
  }

  _terminate(child) {
    if (child.__peftExited) {
      this._sweep(child);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let killTimer = null;
      let capTimer = null;
      const done = () => {
        this.timers.clearTimeout(killTimer);
        this.timers.clearTimeout(capTimer);
        this._sweep(child);
        resolve();
      };
      child.__peftExit.then(done);
      this._log('info', 'backend.signal', { pid: child.pid, signal: 'SIGTERM' });
      this._signal(child, 'SIGTERM');
      killTimer = this.timers.setTimeout(() => {
        if (child.__peftExited) return;
        this._log('warn', 'backend.signal', { pid: child.pid, signal: 'SIGKILL', after_ms: this.killTimeoutMs });
        this._signal(child, 'SIGKILL');
        capTimer = this.timers.setTimeout(() => {
          if (child.__peftExited) return;
          this._log('error', 'backend.unkillable', { pid: child.pid });
          this._children.delete(child);
          resolve();
        }, 2000);
      }, this.killTimeoutMs);
    });
  }

  /** Last resort for process.on('exit'): SIGKILL every backend process synchronously. */
  killSync() {
    for (const child of this._children) {
      this._signal(child, 'SIGKILL');
      this._sweep(child);
    }
  }
}

module.exports = {
  BackendServiceManager,
  BackendError,
  findPythonExecutable,
  executableName,
  isPortFree,
  httpGet,
  killProcessTree,
  BACKEND_NAME,
  DEFAULT_PORT_RANGE,
  REINSTALL_HINT,
};
