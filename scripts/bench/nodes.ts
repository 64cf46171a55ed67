/**
 * Scenario 9: many nodes (issue 16 §5). The city workload (city.ts) on four spotcast nodes, with
 * REDIS_ADAPTER=classic (one channel: every node receives every broadcast) and =sharded (Redis 7
 * sharded pub/sub, a channel per room: a node receives the rooms it has sockets in). Both clusters
 * are up at once and their runs interleaved. Per node: the messages and bytes its adapter's
 * subscriber connection received from Redis during a run (counted in the node: the `smessage` /
 * `message` events, and the connection's bytesRead); and the delivery latency, three quarters of
 * which crosses nodes (changes are sent to each node in turn, sockets are spread over all four).
 */
import { interleave, setUpDeployment, stopDeployment, type CityRun, type Deployment } from './city.js';
import { releaseBenchHolds } from './external.js';
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
  const servers: Server[] = [];
  const deployments: Deployment[] = [];
  try {
    for (const mode of MODES) {
      const nodes = await Promise.all(
        Array.from({ length: NODES }, (_, i) => startSpotcast(ctx, `${mode}-${i + 1}`, { redis: true, cluster: `city-${mode}`, env: { REDIS_ADAPTER: mode } })),
      );
      servers.push(...nodes);
      deployments.push(await setUpDeployment(ctx, fleet, o, modeName(mode), 'spotcast', nodes));
    }
    await interleave(ctx, fleet, o, deployments, results.runs);
  } finally {
    for (const d of deployments) await stopDeployment(fleet, d);
    await Promise.all(servers.map((s) => s.child.stop()));
    await releaseBenchHolds(ctx.databaseUrl);
  }
  return results;
}
