/**
 * Runs a Dockerfile's steps without a container engine: each stage in a folder of its own under
 * a temporary directory, its COPY from the build context (or another stage), its RUN through
 * `sh -c` with the stage's ENV, its WORKDIR as a subfolder; the last stage's WORKDIR, ENV and CMD
 * are returned to start the image's process. The Dockerfile stays the one source of truth: an
 * instruction this runner does not know fails the run instead of being skipped.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Image {
  /** The final stage's working directory on this machine. */
  cwd: string;
  /** ENV of the final stage (ARGs substituted). */
  env: Record<string, string>;
  cmd: string[];
  user: string | undefined;
  expose: string[];
  /** Each stage's root folder, by name. */
  stages: Record<string, string>;
  /** Every RUN command as it ran, with its stage: [stage, command]. */
  runs: [string, string][];
}

/** Instructions with continuation lines joined; comments and parser directives dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1).trim()} ${lines[++i]!.trim()}`;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot read "${line}"`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!, line: start + 1 });
  }
  return out;
}

function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');
}

function run(command: string, cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`RUN ${command} failed (${err.message}):\n${`${stdout}\n${stderr}`.slice(-4000)}`));
      else resolve();
    });
  });
}

/**
 * Builds the image's stages in `workDir` from the build context `context`. `hostEnv` is what
 * every RUN gets besides the stage's ENV (PATH, HOME and the npm cache, as the builder's would).
 */
export async function buildImage(opts: { dockerfile: string; context: string; workDir: string; hostEnv: Record<string, string> }): Promise<Image> {
  const instructions = parseDockerfile(readFileSync(opts.dockerfile, 'utf8'));
  const stages: Record<string, string> = {};
  const runs: [string, string][] = [];
  const globalArgs: Record<string, string> = {};
  let stage: { name: string; root: string; cwd: string; env: Record<string, string>; args: Record<string, string> } | undefined;
  let cmd: string[] = [];
  let user: string | undefined;
  const expose: string[] = [];
  const at = (i: Instruction) => `Dockerfile line ${i.line} (${i.op})`;

  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^\S+(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`${at(ins)}: FROM <image> [AS <name>] expected`);
      const name = m[1] ?? String(Object.keys(stages).length);
      const root = path.join(opts.workDir, name);
      mkdirSync(root, { recursive: true });
      stages[name] = root;
      stage = { name, root, cwd: root, env: {}, args: { ...globalArgs } };
      cmd = [];
      user = undefined;
      continue;
    }
    if (ins.op === 'ARG') {
      const [name, value = ''] = ins.args.split('=', 2) as [string, string?];
      (stage ? stage.args : globalArgs)[name.trim()] = value;
      continue;
    }
    if (!stage) throw new Error(`${at(ins)}: before any FROM`);
    const vars = { ...stage.args, ...stage.env };
    switch (ins.op) {
      case 'ENV': {
        const m = /^(\w+)=(.*)$/.exec(ins.args);
        if (!m) throw new Error(`${at(ins)}: ENV KEY=value expected (one per line)`);
        stage.env[m[1]!] = substitute(m[2]!, vars);
        break;
      }
      case 'WORKDIR':
        stage.cwd = path.join(stage.root, substitute(ins.args, vars));
        mkdirSync(stage.cwd, { recursive: true });
        break;
      case 'COPY': {
        const words = ins.args.split(/\s+/);
        const from = words[0]?.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
        if (words.some((w) => w.startsWith('--'))) throw new Error(`${at(ins)}: only --from is supported`);
        const dest = words.pop()!;
        const base = from === undefined ? opts.context : stages[from];
        if (!base) throw new Error(`${at(ins)}: no stage ${from}`);
        const target = path.resolve(stage.cwd, dest.startsWith('/') ? path.join(stage.root, dest) : dest);
        for (const src of words) {
          const source = path.join(base, src);
          if (!existsSync(source)) throw new Error(`${at(ins)}: ${src} does not exist`);
          const into = statSync(source).isDirectory() || !(dest.endsWith('/') || words.length > 1) ? target : path.join(target, path.basename(src));
          cpSync(source, into, { recursive: true });
        }
        break;
      }
      case 'RUN': {
        // Cache mounts only keep the package cache out of the image layer; the host's cache stands in.
        const command = ins.args.replace(/^(--mount=\S+\s+)+/, '');
        if (command.startsWith('--') || command.startsWith('[')) throw new Error(`${at(ins)}: only shell-form RUN with --mount options is supported`);
        runs.push([stage.name, command]);
        await run(substitute(command, vars), stage.cwd, { ...opts.hostEnv, ...stage.env });
        break;
      }
      case 'CMD':
        cmd = JSON.parse(ins.args) as string[];
        break;
      case 'USER':
        user = ins.args;
        break;
      case 'EXPOSE':
        expose.push(...ins.args.split(/\s+/));
        break;
      default:
        throw new Error(`${at(ins)}: this runner does not know ${ins.op}; teach it in test/helpers/dockerfile.ts`);
    }
  }
  if (!stage) throw new Error('the Dockerfile has no FROM');
  if (cmd.length === 0) throw new Error('the final stage has no CMD (exec form)');
  return { cwd: stage.cwd, env: stage.env, cmd, user, expose, stages, runs };
}
