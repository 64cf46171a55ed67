/**
 * Where a server's heap goes, by constructor: a V8 heap snapshot summed per (node type, name),
 * count and self size. Two censuses (with N sockets and with none) subtracted and divided by N
 * say what each socket costs and in which objects (closures, contexts, Maps, strings, …).
 */
import { readFileSync } from 'node:fs';

export interface CensusRow {
  type: string;
  name: string;
  count: number;
  bytes: number;
}

/** Sums a .heapsnapshot file's nodes by type and name (names of strings and code are folded by type). */
export function census(file: string): Map<string, CensusRow> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const rows = new Map<string, CensusRow>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? '?';
    // A string's or a code object's name is its content: fold them by type.
    const raw = snap.strings[snap.nodes[i + nameAt]!] ?? '';
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'code' ? '' : raw.slice(0, 80);
    const key = `${type}\u0000${name}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { type, name, count: 0, bytes: 0 }));
    row.count++;
    row.bytes += snap.nodes[i + sizeAt]!;
  }
  return rows;
}

/** (after − before) / per, largest first: what each socket adds, by constructor. */
export function perUnit(before: Map<string, CensusRow>, after: Map<string, CensusRow>, per: number): CensusRow[] {
  const out: CensusRow[] = [];
  for (const [key, a] of after) {
    const b = before.get(key);
    out.push({ type: a.type, name: a.name, count: (a.count - (b?.count ?? 0)) / per, bytes: (a.bytes - (b?.bytes ?? 0)) / per });
  }
  return out.sort((x, y) => y.bytes - x.bytes);
}
