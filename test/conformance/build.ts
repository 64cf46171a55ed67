/**
 * Builds the document's frontend code the way a React app's bundler would: its `RealtimeService`
 * class block (with the `export default` a module needs) and its `useRealtime` hook block are
 * modules of the app in app/, so their relative imports ('./AuthContext', './RealtimeService')
 * resolve to the app's files there, and `process.env.REACT_APP_BACKEND_URL` is replaced at build
 * time, as Create React App does.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { block, HERE } from './document.js';

const APP_DIR = path.join(HERE, 'app');
const NAMESPACE = 'reference';

/** `reference:RealtimeService` and `reference:useRealtime`: the document's blocks, as written. */
function referenceModules(): Plugin {
  const sources: Record<string, string> = {
    RealtimeService: `${block('Basic Setup').code}\nexport default RealtimeService;\n`,
    useRealtime: block('React Hook Example').code,
  };
  return {
    name: 'reference-document',
    setup(b) {
      b.onResolve({ filter: /^reference:/ }, (args) => ({ path: args.path.slice(`${NAMESPACE}:`.length), namespace: NAMESPACE }));
      b.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => {
        const contents = sources[args.path];
        if (contents === undefined) return { errors: [{ text: `the document has no module "${args.path}"` }] };
        return { contents, loader: 'js', resolveDir: APP_DIR };
      });
    },
  };
}

/** The file URL of a package's ESM entry for Node (its `exports['.'].import.node`, else `.import.default`). */
function nodeEsmEntry(name: string): string {
  const pkgFile = createRequire(path.join(APP_DIR, 'x.js')).resolve(`${name}/package.json`);
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: { '.': { import: { node?: string; default: string } } } };
  const entry = pkg.exports['.'].import;
  return pathToFileURL(path.join(path.dirname(pkgFile), entry.node ?? entry.default)).href;
}

/** Bare imports left to Node, by absolute URL, so that the bundle can be imported from a data: URL. */
function nodeExternals(names: string[]): Plugin {
  return {
    name: 'node-externals',
    setup(b) {
      for (const name of names) b.onResolve({ filter: new RegExp(`^${name}$`) }, () => ({ path: nodeEsmEntry(name), external: true }));
    },
  };
}

async function bundle(entry: string, platform: 'node' | 'browser', backendUrl: string, plugins: Plugin[]): Promise<string> {
  const result = await build({
    entryPoints: [path.join(APP_DIR, entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform,
    target: platform === 'node' ? 'node20' : 'chrome120',
    define: {
      'process.env.REACT_APP_BACKEND_URL': JSON.stringify(backendUrl),
      ...(platform === 'browser' ? { 'process.env.NODE_ENV': '"development"' } : {}),
    },
    plugins: [referenceModules(), ...plugins],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

export interface RecordingModule {
  /** The app's RealtimeService: the document's class with the app's UI methods recording. */
  default: new (token: string) => RecordingService;
  services: RecordingService[];
  strays: unknown[];
}

export interface UiCall {
  method: string;
  data: any;
}

export interface Received {
  event: string;
  data: any;
  transport: string;
}

export interface RecordingService {
  socket: import('socket.io-client').Socket;
  token: string;
  ui: UiCall[];
  received: Received[];
  subscribeToParkingLot(id: string): void;
  getParkingAvailability(id?: string | null): void;
}

/** The app's RealtimeService for Node, talking to `backendUrl`. */
export async function loadRealtimeService(backendUrl: string): Promise<RecordingModule> {
  const code = await bundle('RealtimeService.js', 'node', backendUrl, [nodeExternals(['socket.io-client'])]);
  // A module of its own per load: the same text (a port used again) would be Node's cached module.
  const unique = `// load ${randomUUID()}\n${code}`;
  return (await import(`data:text/javascript;base64,${Buffer.from(unique).toString('base64')}`)) as RecordingModule;
}

/** The browser page's script: React, the document's hook and class, the app's harness. */
export function browserBundle(backendUrl: string): Promise<string> {
  return bundle('main.js', 'browser', backendUrl, []);
}
