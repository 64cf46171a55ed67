/**
 * The layout's rules that a file-level check cannot see: no import cycle between folders.
 * (File-level cycles and the layering rules are `npm run check:arch`, dependency-cruiser.)
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

/** Folders whose files import each other, one cycle per entry (Tarjan's strongly connected components). */
function folderCycles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

describe('architecture', () => {
  it('no two folders of server/ import each other, directly or around a circle', function () {
    this.timeout(60_000);
    // The CLI, as `npm run check:arch` runs it (its API misbehaves under the tsx loader).
    const json = execFileSync(process.execPath, ['node_modules/dependency-cruiser/bin/dependency-cruise.mjs', 'server', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const output = JSON.parse(json);
    const edges = new Map<string, Set<string>>();
    let arrows = 0;
    for (const m of output.modules as { source: string; dependencies: { resolved: string }[] }[]) {
      if (!m.source.startsWith('server/')) continue;
      const from = path.dirname(m.source);
      for (const d of m.dependencies) {
        if (!d.resolved.startsWith('server/')) continue;
        const to = path.dirname(d.resolved);
        if (to === from) continue;
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from)!.add(to);
        arrows++;
      }
    }
    assert.ok(arrows > 50, `the cruise found the imports (${arrows} arrows between folders)`);
    assert.deepEqual(folderCycles(edges), []);
  });
});
