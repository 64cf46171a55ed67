/**
 * compose.yaml and deploy/nginx.conf, read as Docker Compose and nginx would read them: two nodes
 * that form one deployment (one JWT secret, one adapter key, distinct node ids) with a valid
 * production configuration, health checks on readiness, and nginx with the sticky and WebSocket
 * settings the README gives. (The image's steps themselves run in build-recipe.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CORE_SCHEMA, load, mergeTag } from 'js-yaml';
import { loadConfig } from '../server/config.js';
import { fromPackageRoot } from '../server/platform/package-root.js';
import { parseDockerfile } from './helpers/dockerfile.js';

const read = (...p: string[]) => readFileSync(fromPackageRoot(...p), 'utf8');
const yaml = (text: string) => load(text, { schema: CORE_SCHEMA.withTags(mergeTag) }) as any;

/** Compose's interpolation: ${VAR}, ${VAR:-default} (defaults may nest), ${VAR:?error}. */
function interpolate(text: string, vars: Record<string, string>): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '$' || text[i + 1] !== '{') {
      out += text[i];
      continue;
    }
    let depth = 0;
    let j = i + 1;
    for (; j < text.length; j++) {
      if (text[j] === '{') depth++;
      if (text[j] === '}' && --depth === 0) break;
    }
    const body = text.slice(i + 2, j);
    const m = /^(\w+)(?::([-?])([\s\S]*))?$/.exec(body);
    if (!m) throw new Error(`not a compose variable: \${${body}}`);
    const value = vars[m[1]!];
    if (m[2] === '?' && !value) throw new Error(`compose requires ${m[1]}: ${m[3]}`);
    out += value || (m[2] === '-' ? interpolate(m[3]!, vars) : '');
    i = j;
  }
  return out;
}

// ---- a small reader of nginx configuration: directives and blocks --------------------------------

interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

function parseNginx(text: string): Directive[] {
  const tokens = text.replace(/#[^\n]*/g, '').match(/"[^"]*"|'[^']*'|[{};]|[^\s{};]+/g) ?? [];
  let i = 0;
  const parseBlock = (): Directive[] => {
    const out: Directive[] = [];
    while (i < tokens.length && tokens[i] !== '}') {
      const words: string[] = [];
      while (i < tokens.length && !['{', ';', '}'].includes(tokens[i]!)) words.push(tokens[i++]!);
      const [name, ...args] = words;
      if (!name) throw new Error(`nginx: empty directive near token ${i}`);
      if (tokens[i] === '{') {
        i++;
        out.push({ name, args, block: parseBlock() });
        if (tokens[i++] !== '}') throw new Error(`nginx: unclosed block ${name}`);
      } else if (tokens[i++] !== ';') throw new Error(`nginx: ${name} without ;`);
      else out.push({ name, args });
    }
    return out;
  };
  const all = parseBlock();
  if (i !== tokens.length) throw new Error('nginx: unbalanced }');
  return all;
}

const find = (ds: Directive[], name: string, args?: string[]) => ds.find((d) => d.name === name && (!args || d.args.join(' ') === args.join(' ')));
const lines = (ds: Directive[] | undefined) => (ds ?? []).map((d) => `${d.name} ${d.args.join(' ')}`);

describe('deployment files', () => {
  const compose = yaml(read('compose.yaml'));
  const services: Record<string, any> = compose.services;
  const nodes = Object.entries(services).filter(([, s]) => s.build?.context === '.');
  const env = (s: any, vars: Record<string, string> = {}) =>
    Object.fromEntries(Object.entries(s.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v), vars)]));

  it('compose.yaml: two spotcast nodes built from this folder, one deployment (shared secret and adapter key), distinct NODE_IDs', () => {
    assert.deepEqual(nodes.map(([name]) => name), ['spotcast-a', 'spotcast-b']);
    const [a, b] = nodes.map(([, s]) => env(s, { JWT_SECRET: 'x'.repeat(40) }));
    assert.equal(a!.NODE_ID, 'spotcast-a');
    assert.equal(b!.NODE_ID, 'spotcast-b');
    const { NODE_ID: _a, ...restA } = a!;
    const { NODE_ID: _b, ...restB } = b!;
    assert.deepEqual(restA, restB, 'everything but NODE_ID is the same on both nodes');
    assert.equal(restA.JWT_SECRET, 'x'.repeat(40));
    assert.equal(restA.REDIS_ADAPTER_KEY, 'spotcast.io');
    assert.equal(restA.DATABASE_URL, 'postgres://postgres:spotcast@postgres:5432/spotcast');
    assert.equal(restA.REDIS_URL, 'redis://redis:6379');
    // Supabase and a managed Redis replace the local ones through the same variables.
    const managed = env(nodes[0]![1], { DATABASE_URL: 'postgres://u:p@db.example:5432/postgres', REDIS_URL: 'rediss://r.example:6380' });
    assert.deepEqual([managed.DATABASE_URL, managed.REDIS_URL], ['postgres://u:p@db.example:5432/postgres', 'rediss://r.example:6380']);
  });

  it("compose.yaml: each node's environment is a valid production configuration, with metrics on a port of their own", () => {
    const config = loadConfig(env(nodes[0]![1], { JWT_SECRET: 'x'.repeat(40) }));
    assert.equal(config.env, 'production');
    assert.equal(config.port, 5000);
    assert.equal(config.metrics.port, 9464);
    assert.equal(config.metrics.token, undefined);
    assert.equal(config.seedDemoData, false);
    assert.equal(config.database.kind, 'external');
    // Without a JWT key the node refuses to start, naming what to set.
    assert.throws(() => loadConfig(env(nodes[0]![1])), /In production a JWT key is required/);
    // The image listens where compose expects it.
    const expose = parseDockerfile(read('Dockerfile')).filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
    assert.deepEqual(expose, [String(config.port), String(config.metrics.port)]);
  });

  it('compose.yaml: nodes are checked on /health/ready, wait for healthy Postgres and Redis, and get longer than SHUTDOWN_TIMEOUT_MS to stop', () => {
    for (const [name, s] of nodes) {
      const [kind, ...command] = s.healthcheck.test as string[];
      assert.equal(kind, 'CMD', name);
      assert.match(command.join(' '), /\/health\/ready/, name);
      assert.deepEqual(s.depends_on, { postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } }, name);
      assert.ok(Number.parseInt(s.stop_grace_period, 10) * 1000 > loadConfig({}).shutdownTimeoutMs, `${name} stop_grace_period`);
    }
    assert.ok(services.postgres.healthcheck.test.includes('pg_isready'));
    assert.ok(services.redis.healthcheck.test.includes('ping'));
    assert.deepEqual(services.nginx.volumes, ['./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro']);
    assert.deepEqual(services.nginx.depends_on, ['spotcast-a', 'spotcast-b']);
  });

  it("deploy/nginx.conf: the README's settings (ip_hash, upgrade headers, read timeout), pointing at the compose nodes", () => {
    const conf = parseNginx(read('deploy', 'nginx.conf'));
    const readme = read('README.md');
    const snippet = /## Running several nodes[\s\S]*?```nginx\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(snippet, "the README's nginx snippet");
    const documented = parseNginx(snippet);

    for (const c of [conf, documented]) {
      const upstream = find(c, 'upstream', ['spotcast'])?.block;
      assert.ok(upstream && find(upstream, 'ip_hash'), 'sticky upstream');
    }
    const servers = find(conf, 'upstream', ['spotcast'])!.block!.filter((d) => d.name === 'server').map((d) => d.args[0]);
    assert.deepEqual(servers, nodes.map(([name, s]) => `${name}:${env(s).PORT}`));
    assert.deepEqual(lines(find(conf, 'map')?.block), lines(find(documented, 'map')?.block));
    const location = (c: Directive[]) => find(find(c, 'server')!.block!, 'location', ['/'])!.block;
    assert.deepEqual(lines(location(conf)), lines(location(documented)), 'the same location / as the README');
    const loc = location(conf)!;
    assert.ok(find(loc, 'proxy_set_header', ['Upgrade', '$http_upgrade']));
    assert.ok(find(loc, 'proxy_set_header', ['Connection', '$connection_upgrade']));
    assert.ok(find(loc, 'proxy_http_version', ['1.1']));
    assert.ok(Number.parseInt(find(loc, 'proxy_read_timeout')!.args[0]!, 10) > 25, "longer than Socket.IO's ping interval");
    assert.equal(services.nginx.ports.length, 1);
    assert.match(services.nginx.ports[0], /:80$/);
    assert.ok(find(find(conf, 'server')!.block!, 'listen', ['80']));
  });

  it('ops/prometheus.yml scrapes each compose node on its METRICS_PORT and loads the alert rules compose mounts', () => {
    const prometheus = yaml(read('ops', 'prometheus.yml'));
    const job = prometheus.scrape_configs.find((j: any) => j.job_name === 'spotcast');
    assert.deepEqual(job.static_configs[0].targets, nodes.map(([name, s]) => `${name}:${env(s).METRICS_PORT}`));
    const mounts: string[] = services.prometheus.volumes;
    assert.ok(mounts.includes('./ops/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
    const rules = mounts.find((m) => m.startsWith('./ops/alerts.yml:'))!.split(':')[1];
    assert.deepEqual(prometheus.rule_files, [rules]);
    assert.deepEqual(services.prometheus.profiles, ['monitoring']);
  });
});
