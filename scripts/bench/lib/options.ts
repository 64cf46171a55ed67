/** Command-line options of `npm run bench`. */

export const SCENARIOS = ['fanout', 'log', 'booking', 'connections', 'nodes', 'expiry', 'bystander', 'external', 'capacity', 'storm', 'city', 'city-nodes'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Options {
  quick: boolean;
  /** Subscribers per lot room in the fan-out (and log-cost) measurements. */
  sizes: number[];
  /** Idle sockets at which memory is measured. */
  connSizes: number[];
  runs: number;
  /** Load-generating child processes. */
  clients: number;
  /** Events per latency measurement (one at a time), and per throughput burst (all at once). */
  events: number;
  burst: number;
  /** Bookings per run and mode, concurrent bookers, and the pool both paths use. */
  bookings: number;
  bookConcurrency: number;
  bookPool: number;
  /** Subscribers of the booked lot, and the steady booking rates for commit→parking_updated. */
  latSubscribers: number;
  latRates: number[];
  latCount: number;
  /** Holds per expiry run (one lot each), and the sockets watching them. */
  expiryLots: number;
  expiryWatchers: number;
  /** Length of each attack (and baseline) phase of the bystander scenario. */
  attackSeconds: number;
  /** Clients of the reconnect storm (one node; each is an open file there). */
  stormSizes: number[];
  /** The city workload (city.ts): lots, client sockets (per deployment compared), hardware changes/s, bookings/s, seconds per run. */
  cityLots: number;
  cityClients: number;
  cityRate: number;
  cityBookings: number;
  citySeconds: number;
  only: Set<Scenario>;
  /** `--soak`: only the long mixed-load run (issue 12), written to its own section. */
  soak: boolean;
  soakMinutes: number;
  soakClients: number;
  soakLots: number;
  profile: boolean;
  /** Where the results go (BENCHMARKS.md by default; none for --quick unless --out is given). */
  out: string | null;
  args: string[];
}

export const USAGE = `usage: npm run bench -- [options]
  --quick                 tiny sizes, 2 runs: checks that everything works (writes no file unless --out)
  --sizes 1000,5000       subscribers per room for the fan-out and log-cost measurements
  --conn-sizes 1000,5000,10000   idle sockets for the memory measurement
  --runs 3                runs per figure (the median is reported, with min–max)
  --clients 2             load-generating child processes
  --events 10 --burst 20  events per latency measurement / per throughput burst
  --bookings 2000         bookings per run and path;  --book-concurrency 50  --book-pool 10
  --lat-subscribers 1000 --lat-rate 20,40,60 --lat-count 100   commit→parking_updated measurement
                          (the external-writes scenario uses the first rate)
  --expiry-lots 20 --expiry-watchers 10
  --attack-seconds 12     each attack phase of the bystander scenario
  --city-lots 200 --city-clients 20000 --city-rate 20 --city-bookings 6 --city-seconds 15
                          city workload: lots, sockets, availability changes/s from hardware,
                          bookings/s (every other one cancelled 1 s later), seconds per run
  --storm-sizes 10000,30000   clients of the reconnect storm
  --only fanout,log,booking,connections,nodes,expiry,bystander,external,capacity,storm,city,city-nodes
  --soak                  only the soak: a long city-like mixed load on one node (heap, RSS, loop delay,
                          pool waits, lost/duplicated events); --soak-minutes 30 --soak-clients 2000 --soak-lots 50
  --no-profile            skip the CPU profile of the worst ratio
  --out FILE              write the results into FILE (between the bench markers)`;

const list = (v: string) =>
  v.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive integer: ${x}`);
    return n;
  });

const int = (v: string) => list(v)[0]!;

export function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    quick,
    sizes: quick ? [50, 200] : [1000, 5000],
    connSizes: quick ? [100, 300] : [1000, 5000, 10000],
    runs: quick ? 2 : 3,
    clients: 2,
    events: quick ? 5 : 10,
    burst: quick ? 5 : 20,
    bookings: quick ? 200 : 2000,
    bookConcurrency: quick ? 10 : 50,
    bookPool: 10,
    latSubscribers: quick ? 50 : 1000,
    latRates: quick ? [20] : [20, 40, 60],
    latCount: quick ? 30 : 100,
    expiryLots: quick ? 5 : 20,
    expiryWatchers: quick ? 3 : 10,
    attackSeconds: quick ? 4 : 12,
    stormSizes: quick ? [300] : [10000],
    cityLots: quick ? 20 : 200,
    cityClients: quick ? 400 : 20_000,
    cityRate: quick ? 10 : 20,
    cityBookings: quick ? 4 : 6,
    citySeconds: quick ? 4 : 15,
    only: new Set(SCENARIOS),
    soak: false,
    soakMinutes: quick ? 2 : 30,
    soakClients: quick ? 100 : 2000,
    soakLots: quick ? 10 : 50,
    profile: true,
    out: quick ? null : 'BENCHMARKS.md',
    args: argv,
  };
  let clientsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--quick':
        break;
      case '--sizes':
        o.sizes = list(value()).sort((x, y) => x - y);
        break;
      case '--conn-sizes':
        o.connSizes = list(value()).sort((x, y) => x - y);
        break;
      case '--runs':
        o.runs = int(value());
        break;
      case '--clients':
        o.clients = int(value());
        clientsGiven = true;
        break;
      case '--events':
        o.events = int(value());
        break;
      case '--burst':
        o.burst = int(value());
        break;
      case '--bookings':
        o.bookings = int(value());
        break;
      case '--book-concurrency':
        o.bookConcurrency = int(value());
        break;
      case '--book-pool':
        o.bookPool = int(value());
        break;
      case '--lat-subscribers':
        o.latSubscribers = int(value());
        break;
      case '--lat-rate':
        o.latRates = list(value()).sort((x, y) => x - y);
        break;
      case '--lat-count':
        o.latCount = int(value());
        break;
      case '--expiry-lots':
        o.expiryLots = int(value());
        break;
      case '--expiry-watchers':
        o.expiryWatchers = int(value());
        break;
      case '--attack-seconds':
        o.attackSeconds = int(value());
        break;
      case '--storm-sizes':
        o.stormSizes = list(value()).sort((x, y) => x - y);
        break;
      case '--city-lots':
        o.cityLots = int(value());
        break;
      case '--city-clients':
        o.cityClients = int(value());
        break;
      case '--city-rate':
        o.cityRate = int(value());
        break;
      case '--city-bookings':
        o.cityBookings = int(value());
        break;
      case '--city-seconds':
        o.citySeconds = int(value());
        break;
      case '--only': {
        const names = value().split(',').map((s) => s.trim());
        for (const n of names) if (!(SCENARIOS as readonly string[]).includes(n)) throw new Error(`unknown scenario ${n}`);
        o.only = new Set(names as Scenario[]);
        break;
      }
      case '--soak':
        o.soak = true;
        break;
      case '--soak-minutes':
        o.soakMinutes = int(value());
        break;
      case '--soak-clients':
        o.soakClients = int(value());
        break;
      case '--soak-lots':
        o.soakLots = int(value());
        break;
      case '--no-profile':
        o.profile = false;
        break;
      case '--out':
        o.out = value();
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  // The fan-out holds max(sizes) sockets on each of three servers at once: keep every load
  // process well under the open-files limit (20,000 here) and the memory scenario's largest size too.
  // The city holds cityClients sockets on each of four deployments at once (city.ts).
  const city = o.only.has('city') || o.only.has('city-nodes') ? Math.ceil((4 * o.cityClients) / 12_000) : 0;
  if (!clientsGiven) o.clients = Math.max(2, Math.ceil((3 * Math.max(...o.sizes)) / 12_000), Math.ceil(Math.max(...o.connSizes) / 12_000), city);
  return o;
}
