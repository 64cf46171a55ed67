/**
 * @spotcast/client as a user gets it: `npm pack -w client` (which builds it), installed from the
 * tarball into a fresh project beside its peers; the examples (plain TypeScript, and React with
 * Supabase Auth) type-check against it with the project's tsc; its JavaScript runs in Node
 * against a real server. Also: the page's copy of the client is the one the build makes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PAGE_BUNDLE, pageBundle } from '../../client/scripts/build.js';
import { createLot } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
/** The peers and the example's own dependencies, at the versions this project tests with (so the npm cache has them). */
const PEERS = ['socket.io-client', 'react', 'react-dom', '@types/react', '@types/react-dom', '@supabase/supabase-js'].map(
  (name) => `${name}@${JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version}`,
);

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))]));
}

describe('client package: packed, installed into a fresh project, type-checked and run', function () {
  this.timeout(240_000);
  let app: string;
  let tarball: string;
  let packed: string[];

  before(async () => {
    app = mkdtempSync(path.join(tmpdir(), 'spotcast-client-app-'));
    const { stdout } = await run('npm', ['pack', '-w', 'client', '--pack-destination', app, '--json'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    // The prepack build prints a line first; the JSON report is the rest.
    const report = JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(app, report[0]!.filename);
    packed = report[0]!.files.map((f) => f.path).sort();
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'spotcast-example-app', private: true, type: 'module' }));
    await run('npm', ['install', tarball, ...PEERS, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
      cwd: app,
      maxBuffer: 16 * 1024 * 1024,
    });
  });
  after(() => app && rmSync(app, { recursive: true, force: true }));

  it('holds the built ES modules and declarations only: the contract as plain types, no server code, no zod', () => {
    assert.ok(packed.every((f) => f.startsWith('dist/') || f === 'package.json' || f === 'README.md'), packed.join('\n'));
    for (const f of ['dist/index.js', 'dist/react.js', 'dist/types/client/src/index.d.ts', 'dist/types/client/src/react.d.ts', 'dist/types/server/contract/events.d.ts']) {
      assert.ok(packed.includes(f), `${f} is in the package`);
    }
    const installed = path.join(app, 'node_modules/@spotcast/client');
    const contract = readdirSync(path.join(installed, 'dist/types/server/contract')).sort();
    assert.deepEqual(contract, ['errors.d.ts', 'events.d.ts', 'history.d.ts', 'payloads.d.ts', 'rooms.d.ts', 'statuses.d.ts', 'waitlist.d.ts'], 'no schemas, no index of them');
    for (const f of filesUnder(installed)) assert.doesNotMatch(readFileSync(path.join(installed, f), 'utf8'), /from ['"]zod['"]|require\(['"]zod/, f);
    const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
    assert.equal(pkg.dependencies, undefined, 'nothing to install beside the peers');
    assert.deepEqual(Object.keys(pkg.peerDependencies).sort(), ['react', 'socket.io-client']);
    assert.equal(existsSync(path.join(app, 'node_modules/zod')), false, 'zod is not installed along');
  });

  /** Runs the project's tsc on a tsconfig of the app; a failure shows what tsc said. */
  async function typecheck(config: string): Promise<void> {
    try {
      await run(process.execPath, [TSC, '-p', path.join(app, config)], { cwd: app });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      assert.fail(`tsc -p ${config} found errors:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }

  it('the examples type-check against it: a plain TypeScript client and a React + Supabase app', async () => {
    for (const f of readdirSync(path.join(ROOT, 'examples'))) cpSync(path.join(ROOT, 'examples', f), path.join(app, f));
    await typecheck('tsconfig.json');
  });

  it("the README's React + Supabase example is examples/react-supabase.tsx, the file type-checked above", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const example = readFileSync(path.join(ROOT, 'examples/react-supabase.tsx'), 'utf8');
    assert.ok(readme.includes(`\`\`\`tsx\n${example}\`\`\``), 'copy examples/react-supabase.tsx into the README block');
  });

  it('its declarations are sound on their own (checked, not skipped as a library)', async () => {
    const types = 'node_modules/@spotcast/client/dist/types/client/src';
    writeFileSync(
      path.join(app, 'tsconfig.declarations.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { skipLibCheck: false, types: [] }, include: [], files: [`${types}/index.d.ts`, `${types}/react.d.ts`] }),
    );
    await typecheck('tsconfig.declarations.json');
  });

  it('its JavaScript runs in Node against a real server: connects, holds a lot, sees a live change', async () => {
    let server: TestServer | undefined;
    try {
      server = await startTestServer();
      const lotId = await createLot(server.db, { total: 7 });
      const userId = randomUUID();
      writeFileSync(
        path.join(app, 'watch.mjs'),
        `import { createSpotcastClient, rooms } from '@spotcast/client';
import { SpotcastProvider, useLotAvailability } from '@spotcast/client/react';
const [url, token, lotId] = process.argv.slice(2);
const client = createSpotcastClient({ url, getToken: () => token, socketOptions: { transports: ['websocket'] } });
client.subscribe(rooms.lot(lotId));
client.lots.subscribe(() => {
  const lot = client.lots.get().get(lotId);
  if (!lot) return;
  console.log(JSON.stringify({ user: client.state.get().user?.id, free: lot.available_spaces, react: [typeof SpotcastProvider, typeof useLotAvailability] }));
  client.close();
});
client.connect();
`,
      );
      const { stdout } = await run(process.execPath, ['watch.mjs', server.url, server.token(userId), lotId], { cwd: app, timeout: 20_000 });
      assert.deepEqual(JSON.parse(stdout.trim()), { user: userId, free: 7, react: ['function', 'function'] });
    } finally {
      await server?.stop();
    }
  });

  it("the page's copy (public/js/spotcast-client.js) is what `npm run build -w client` writes", async () => {
    assert.equal(readFileSync(PAGE_BUNDLE, 'utf8'), await pageBundle(), 'run `npm run build -w client` and commit public/js/spotcast-client.js');
  });
});
