/** The Markdown of the city workload (city.ts) and of the four-node adapter comparison (nodes.ts). */
import { BARE_ONE, BARE_TWO, CITY_SEED, SPOT_ONE, SPOT_TWO, type CityResults, type CityRun } from './city.js';
import { lost, table, verdict } from './lib/markdown.js';
import { fmt, spread } from './lib/stats.js';
import { MODES, modeName, type CityNodesResults } from './nodes.js';

const each = (runs: CityRun[], f: (r: CityRun) => number) => runs.map(f);
const ratios = (a: number[], b: number[]) => a.map((x, i) => x / (b[i] ?? NaN));

function workload(x: { lots: number; clients: number; rate: number; bookings: number; seconds: number }): string {
  return (
    `${x.lots} lots, ${x.clients.toLocaleString('en-US')} sockets per deployment, each in 1–3 random lot rooms, 10 % also in \`parking_updates\` ` +
    `(seeded draw, seed ${CITY_SEED}, the same for every deployment). For ${x.seconds} s per run: ${x.rate} availability changes/s from hardware ` +
    `(\`set_parking_availability\` on an admin socket of each node in turn) and ${x.bookings} bookings/s (\`create_booking\` on random lots, every other one ` +
    'cancelled 1 s later); each change is one `parking_updated` to the lot room, `parking_updates` and `admin`. Deliveries owed = each committed change × ' +
    "the sockets in its lot room or in parking_updates (each once); latency from the event's `timestamp` (taken inside the committing transaction) to " +
    'each arrival; msgs/s from the first change sent to the last arrival; CPU = user + system time of all the deployment\'s server processes.'
  );
}

function row(name: string, runs: CityRun[], base?: CityRun[]): string[] {
  const rate = each(runs, (r) => r.msgsPerSec);
  return [
    name,
    fmt(each(runs, (r) => r.changes), 0),
    fmt(rate, 0),
    base ? fmt(ratios(rate, each(base, (r) => r.msgsPerSec)), 2) : '',
    fmt(each(runs, (r) => r.p50)),
    fmt(each(runs, (r) => r.p99)),
    fmt(each(runs, (r) => r.cpuMsPer1k)),
    base ? fmt(ratios(each(runs, (r) => r.cpuMsPer1k), each(base, (r) => r.cpuMsPer1k)), 2) : '',
    lost(each(runs, (r) => r.lost)),
    lost(each(runs, (r) => r.dups)),
  ];
}

export function renderCity(x: CityResults): string[] {
  const runs = (n: string) => x.runs.get(n) ?? [];
  const rows = [row(BARE_ONE, runs(BARE_ONE)), row(SPOT_ONE, runs(SPOT_ONE), runs(BARE_ONE))];
  if (x.runs.has(SPOT_TWO)) rows.push(row(BARE_TWO, runs(BARE_TWO)), row(SPOT_TWO, runs(SPOT_TWO), runs(BARE_TWO)));
  const refused = [...x.runs.entries()].flatMap(([n, rs]) => rs.flatMap((r) => Object.entries(r.refused).map(([k, v]) => `${n}: ${v}× ${k}`)));
  return [
    '### 8. A city: mixed workload, one node and two',
    '',
    workload(x),
    'The baseline is a bare Socket.IO server routing the same number of changes a second to the same rooms, each after a Postgres transaction of its own ' +
      '(a row lock and an insert, one round trip), with the classic Redis adapter on two nodes. All deployments hold their sockets throughout; runs interleaved.',
    '',
    table(['deployment', 'changes', 'delivered msgs/s', '÷ bare', 'p50 ms', 'p99 ms', 'CPU ms per 1,000', '÷ bare', 'lost', 'duplicates'], rows),
    '',
    ...(refused.length ? [`Refused: ${refused.join('; ')}.`, ''] : []),
  ];
}

export function renderCityNodes(x: CityNodesResults): string[] {
  const runs = (m: (typeof MODES)[number]) => x.runs.get(modeName(m)) ?? [];
  const perNode = (rs: CityRun[], f: (r: { messages: number; bytes: number }) => number) =>
    rs.map((r) => (r.redisIn.length ? r.redisIn.reduce((s, n) => s + f(n), 0) / r.redisIn.length / x.seconds : NaN));
  const cls = runs('classic');
  const shd = runs('sharded');
  const rowOf = (m: (typeof MODES)[number], rs: CityRun[]) => [
    `REDIS_ADAPTER=${m}`,
    fmt(perNode(rs, (n) => n.messages), 0),
    fmt(perNode(rs, (n) => n.bytes / 1024), 0),
    fmt(each(rs, (r) => r.msgsPerSec), 0),
    fmt(each(rs, (r) => r.p50)),
    fmt(each(rs, (r) => r.p99)),
    fmt(each(rs, (r) => r.cpuMsPer1k)),
    lost(each(rs, (r) => r.lost)),
    lost(each(rs, (r) => r.dups)),
  ];
  const msgRatio = spread(ratios(perNode(shd, (n) => n.messages), perNode(cls, (n) => n.messages))).median;
  const byteRatio = spread(ratios(perNode(shd, (n) => n.bytes), perNode(cls, (n) => n.bytes))).median;
  return [
    `### 9. Many nodes: the city on ${x.nodes} nodes, classic vs sharded Redis adapter`,
    '',
    workload(x),
    `The sockets are spread evenly over ${x.nodes} nodes (so ${Math.round(((x.nodes - 1) / x.nodes) * 100)} % of deliveries cross nodes); the two clusters ran one after the other. ` +
      "From Redis: what each node's adapter subscriber connection received during a run, per second of the run (messages: `message`/`smessage` events; " +
      'bytes: the connection\'s bytesRead), averaged over the nodes. `classic`: one channel, every node gets every broadcast. `sharded`: a channel per room ' +
      '(SSUBSCRIBE while the node has a socket in it); a broadcast to several rooms goes once per room, except those naming `parking_updates`, which every ' +
      'node of a city has sockets in and which go once on the main channel.',
    '',
    table(['adapter', 'msgs/s from Redis per node', 'KiB/s from Redis per node', 'delivered msgs/s', 'p50 ms', 'p99 ms', 'CPU ms per 1,000', 'lost', 'duplicates'], [
      rowOf('classic', cls),
      rowOf('sharded', shd),
    ]),
    '',
    Number.isFinite(msgRatio)
      ? `From Redis per node, sharded ÷ classic: ${msgRatio.toFixed(2)} of the messages, ${byteRatio.toFixed(2)} of the bytes (medians over runs). ` +
        (verdict([byteRatio], (m) => m < 0.8) === 'met' ? 'Sharded receives clearly less.' : 'No clear saving here: every node has sockets in nearly every room of this workload.')
      : '',
    '',
  ];
}
