/**
 * spotcast as a real process (`node --import tsx server/index.ts`), as `npm start` runs it: its
 * output so far, a wait for a line, and a stop that waits for the exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the output once it matches; rejects if the process exits first or the timeout passes. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, and the exit code once it is gone. */
  stop(): Promise<number | null>;
}

/** Starts the server with exactly `env` (plus PATH and HOME), from `cwd` (default: the project). */
export function startServerProcess(env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): ServerProcess {
  const entry = path.join(ROOT, 'server', 'index.ts');
  // tsx by its resolved URL: from a cwd outside the project the bare name would not resolve.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, entry], {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    async waitFor(pattern, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before ${pattern}; output:\n${text}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return text;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
