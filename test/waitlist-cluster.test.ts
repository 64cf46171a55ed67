/**
 * The waitlist across server processes: 200 waiters with mixed priorities (granted by admins on
 * either node), then spaces freed concurrently through two nodes and a third that is killed
 * (SIGKILL) right after its freeing commits, before it emits anything. Checked against an exact
 * oracle computed from the entries (priority desc, then arrival): the offers went to exactly the
 * first K, in that order, one per freed space, the window is never overbooked, none is lost to
 * the dead node, and every waiter's last waitlist_updated says their final status and position.
 */
import assert from 'node:assert/strict';
import { closeAll, connect, newUserId, record } from './helpers/clients.js';
import { freePort } from './helpers/env.js';
import { createLot } from './helpers/fixtures.js';
import { requireRedis, testEnv } from './helpers/global-setup.js';
import { request } from './helpers/http.js';
import { waitUntil } from './helpers/measure.js';
import { type Cluster, type ClusterNode, startCluster, startServerProcess } from './helpers/processes.js';
import { TEST_SECRET, TEST_WEBHOOK_SECRET } from './helpers/server.js';
import { seeded } from './fuzz/rng.js';

const WAITERS = 200;
const CAPACITY = 30;
/** Cancelled through A and B at once; one more through the node that dies. */
const FREED_LIVE = 16;
const PRIORITIZED = 40;
const OPEN_LIMITS = {
  RATE_LIMIT_SOCKET_EVENTS: '100000/1',
  RATE_LIMIT_USER_EVENTS: '100000/1',
  RATE_LIMIT_BOOKINGS: '100000/1',
  RATE_LIMIT_HTTP: '100000/1',
  RATE_LIMIT_CONNECTIONS: '100000/1',
  SOCKET_MAX_PER_USER: '100000',
  WAITLIST_OFFER_SECONDS: '600',
  // Each freed space renumbers up to 200 waiters (one waitlist_updated each) under the lot lock,
  // and the racing cancellations queue behind it: on a shared 2-core machine that can take
  // longer than the default 10 s statement timeout.
  DATABASE_QUERY_TIMEOUT_MS: '120000',
};

async function pool<T>(items: T[], concurrency: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

describe('waitlist across nodes: 200 waiters, spaces freed concurrently, a node killed mid-offer', function () {
  this.timeout(300_000);
  let cluster: Cluster | undefined;
  const seed = Number(process.env.WAITLIST_SEED ?? Date.now() % 1_000_000);

  before(async function () {
    this.timeout(180_000);
    cluster = await startCluster({ nodes: 2, redisUrl: requireRedis(this), env: OPEN_LIMITS });
  });
  after(async function () {
    this.timeout(60_000);
    closeAll();
    await cluster?.stopAll();
  });

  it('offers go strictly by priority then arrival, one per freed space, none lost, positions live', async () => {
    console.log(`      waitlist seed ${seed} (WAITLIST_SEED=${seed} replays it)`);
    const random = seeded(seed);
    const c = cluster!;
    const [A, B] = c.nodes as [ClusterNode, ClusterNode];
    const nodeFor = (i: number) => (i % 2 === 0 ? A : B);
    const lot = await createLot(c.db, { total: CAPACITY });

    // The lot full for the next hour.
    const holders: { id: string; token: string }[] = [];
    await pool(Array.from({ length: CAPACITY }, (_, i) => i), 6, async (i) => {
      const token = c.mintToken(newUserId());
      const res = await request(nodeFor(i), 'POST', '/bookings', { token, body: { parking_lot_id: lot, duration_minutes: 60 } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      holders.push({ id: res.body.data.booking.id, token });
    });
    const window = { starts_at: new Date(Date.now() + 5 * 60_000).toISOString(), ends_at: new Date(Date.now() + 35 * 60_000).toISOString() };

    // An admin on B sees every change of the queue; a sample of waiters watch their own stream on A.
    const admin = c.mintToken(newUserId(), 'admin');
    const { socket: adminSocket } = await connect(B.url, admin);
    const adminSeen = record(adminSocket, 'waitlist_updated');

    const waiters: { userId: string; token: string; entryId?: string; seen?: any[]; offers?: any[] }[] = [];
    for (let i = 0; i < WAITERS; i++) {
      const userId = newUserId();
      waiters.push({ userId, token: c.mintToken(userId) });
    }
    const watched = waiters.filter((_, i) => i % 4 === 0);
    for (const w of watched) {
      const { socket } = await connect(A.url, w.token);
      w.seen = record(socket, 'waitlist_updated');
      w.offers = record(socket, 'booking_updated');
    }

    await pool(waiters, 10, async (w, i) => {
      const res = await request(nodeFor(i), 'POST', '/waitlist', { token: w.token, body: { parking_lot_id: lot, ...window } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      w.entryId = res.body.data.entry.id;
    });

    // Admins grant priorities 1–3 to a random subset, through both nodes at once.
    const chosen = [...waiters].sort(() => random() - 0.5).slice(0, PRIORITIZED);
    await pool(chosen, 8, async (w, i) => {
      const priority = 1 + Math.floor(random() * 3);
      const res = await request(nodeFor(i), 'PUT', `/admin/waitlist/${w.entryId}/priority`, { token: admin, body: { priority } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });

    // The node that dies: its first freeing commits (with its offer), then it is killed before emitting.
    const port = await freePort();
    const doomed = startServerProcess({
      ...OPEN_LIMITS,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ID: 'node-doomed',
      DATABASE_URL: testEnv().databaseUrl,
      // One of the cluster: what its relay sends reaches the other nodes' clients.
      REDIS_URL: c.redisUrl,
      REDIS_ADAPTER_KEY: c.adapterKey,
      JOBS_QUEUE_NAME: c.queueName,
      JOBS_PREFIX: c.jobsPrefix,
      OUTBOX_SWEEP_INTERVAL_MS: '200',
      OUTBOX_SWEEP_GRACE_MS: '500',
      JWT_SECRET: TEST_SECRET,
      PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      SEED_DEMO_DATA: 'false',
      BOOKING_MAX_PENDING_PER_USER: '100000',
      FAULT_INJECTION: 'exit-after-commit',
      LOG_LEVEL: 'warn',
    });
    await waitUntil(
      async () => {
        if (doomed.child.exitCode !== null) throw new Error(`doomed node exited early:\n${doomed.output()}`);
        return fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false);
      },
      90_000,
      'the doomed node to be ready',
    );

    // Spaces freed at once: through A and B, and one through the doomed node.
    const live = holders.slice(0, FREED_LIVE);
    const viaDoomed = holders[FREED_LIVE]!;
    const died = new Promise((r) => doomed.child.once('exit', (_code, signal) => r(signal)));
    const [answers, doomedAnswer] = await Promise.all([
      Promise.all(live.map((h, i) => request(nodeFor(i), 'POST', `/bookings/${h.id}/cancel`, { token: h.token, body: {} }))),
      request(`http://127.0.0.1:${port}`, 'POST', `/bookings/${viaDoomed.id}/cancel`, { token: viaDoomed.token, body: {} }),
    ]);
    assert.deepEqual(answers.map((a) => a.status), live.map(() => 200), JSON.stringify(answers.map((a) => a.body)) + A.output().slice(-3000));
    assert.equal(doomedAnswer.status, 0, 'the doomed node died before answering');
    assert.equal(await died, 'SIGKILL');

    // What the database holds now.
    const { rows: cancelled } = await c.db.asSystem((tx) =>
      tx.query("select count(*)::int as n from public.bookings where id = any($1::uuid[]) and status = 'cancelled'", [holders.map((h) => h.id)]),
    );
    const freed = cancelled[0].n as number;
    assert.equal(freed, FREED_LIVE + 1, 'every cancellation committed, the doomed node’s too');
    const { rows: entries } = await c.db.asSystem((tx) =>
      tx.query(
        `select w.id, w.user_id, w.priority, w.arrival::float8 as arrival, w.status, w.position, w.offer_booking_id, b.created_at as offered_at, b.status as offer_status
           from public.waitlist_entries w left join public.bookings b on b.id = w.offer_booking_id
          where w.parking_lot_id = $1`,
        [lot],
      ),
    );
    assert.equal(entries.length, WAITERS);

    // The oracle: priority desc, then arrival; the first `freed` get offers, the rest wait in that order.
    const expected = [...entries].sort((x, y) => y.priority - x.priority || x.arrival - y.arrival);
    const offered = entries.filter((e) => e.status === 'offered').sort((x, y) => x.offered_at - y.offered_at);
    assert.deepEqual(offered.map((e) => e.id), expected.slice(0, freed).map((e) => e.id), 'offers in priority-then-arrival order');
    assert.equal(new Set(offered.map((e) => e.offer_booking_id)).size, freed, 'one booking per offer');
    assert.ok(offered.every((e) => e.offer_status === 'pending'));
    const waiting = expected.slice(freed);
    assert.deepEqual(waiting.map((e) => [e.status, e.position]), waiting.map((_, i) => ['waiting', i + 1]));
    const { rows: peak } = await c.db.asSystem((tx) =>
      tx.query('select public.lot_peak_holds($1, $2, $3) as n', [lot, window.starts_at, window.ends_at]),
    );
    assert.equal(peak[0].n, CAPACITY, 'exactly full: every freed space offered, none twice');

    // Live: each watched waiter's last waitlist_updated (by seq) says their final status and
    // position, and each offered one heard the offer; the admin's view agrees for all 200. The
    // doomed node's offer arrives through the relay of the surviving nodes.
    const byId = new Map(entries.map((e) => [e.id as string, e]));
    const last = (events: any[], entryId: string) =>
      events.filter((e) => e.entry_id === entryId).reduce((a: any, b: any) => (a === undefined || b.seq > a.seq ? b : a), undefined);
    const agrees = (ev: any, entryId: string) => {
      const e = byId.get(entryId)!;
      return ev !== undefined && ev.status === e.status && ev.position === e.position && ev.priority === e.priority;
    };
    await waitUntil(() => watched.every((w) => agrees(last(w.seen!, w.entryId!), w.entryId!)), 60_000, 'every watched waiter to hear their final place');
    await waitUntil(() => waiters.every((w) => agrees(last(adminSeen, w.entryId!), w.entryId!)), 60_000, 'the admin to see the final queue');
    for (const w of watched) {
      const e = byId.get(w.entryId!)!;
      if (e.status === 'offered') {
        await waitUntil(() => w.offers!.some((o) => o.action === 'offered' && o.booking_id === e.offer_booking_id), 30_000, 'the offer to reach its waiter');
      }
    }
  });
});
