/**
 * Scenario 9: many nodes (issue 16 §5). The city workload (city.ts) on four spotcast nodes, with
 * REDIS_ADAPTER=classic (one channel: every node receives every broadcast) and =sharded (Redis 7
 * sharded pub/sub, a channel per room: a node receives the rooms it has sockets in), one cluster
 * after the other. Per node: the messages and bytes its adapter's
 * subscriber connection received from Redis during a run (counted in the node: the `smessage` /
 * `message` events, and the connection's bytesRead); and the delivery latency, three quarters of
 * which crosses nodes (changes are sent to each node in turn, sockets are spread over all four).
 */
import { CITY_POOL, interleave, ownDatabase, setUpDeployment, stopDeployment, type CityRun, type Deployment } from './city.js';
import { startSpotcast, type BenchContext, type Fleet, type Server } from './lib/harness.js';
import type { Options } from './lib/options.js';

export const NODES = 4;
export const MODES = ['classic', 'sharded'] as const;
export const modeName = (mode: (typeof MODES)[number]) => `${NODES} nodes, REDIS_ADAPTER=${mode}`;

export interface CityNodesResults {
  nodes: number;
  lots: number;
  clients: number;
  rate: number;
  bookings: number;
  seconds: number;
  runs: Map<string, CityRun[]>;
}

export async function cityNodesScenario(ctx: BenchContext, fleet: Fleet, o: Options): Promise<CityNodesResults> {
  const results: CityNodesResults = { nodes: NODES, lots: o.cityLots, clients: o.cityClients, rate: o.cityRate, bookings: o.cityBookings, seconds: o.citySeconds, runs: new Map() };
  // One cluster at a time: eight nodes at once would not fit in Postgres's max_connections beside
  // the rest. What a node receives from Redis depends on the rooms, not on the machine's load.
  for (const mode of MODES) {
    const servers: Server[] = [];
    let d: Deployment | undefined;
    try {
      const own = await ownDatabase(ctx, `nodes_${mode}`);
      const env = { REDIS_ADAPTER: mode, DATABASE_POOL_MAX: String(CITY_POOL) };
      // one after the other: four nodes starting at once on a busy machine overrun the ready timeout
      for (let i = 0; i < NODES; i++) servers.push(await startSpotcast(own, `${mode}-${i + 1}`, { redis: true, cluster: `city-${mode}`, env }));
      d = await setUpDeployment(own, fleet, o, modeName(mode), 'spotcast', servers);
      await interleave(ctx, fleet, o, [d], results.runs);
    } finally {
      if (d) await stopDeployment(fleet, d);
      await Promise.all(servers.map((s) => s.child.stop()));
    }
  }
  return results;
}
