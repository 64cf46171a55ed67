/**
 * Row-Level Security checked in SQL, the way Supabase's REST layer runs a request: one
 * transaction with `role` and `request.jwt.claims` set locally. No server involved, so these
 * prove what the database itself refuses, whatever the server does.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { testEnv } from './helpers/global-setup.js';

type Claims = Record<string, unknown>;
type Role = 'authenticated' | 'anon' | 'service_role';

interface AsOptions {
  role?: Role;
  commit?: boolean;
  /** Sets `spotcast.role_claim_path` locally, as the server does for its own transactions. */
  roleClaimPath?: string;
  /**
   * The stored claim path (public.spotcast_settings), set in the same transaction. Default: the
   * default path, since a test server started with another JWT_ROLE_CLAIM may have stored its own.
   */
  storedClaimPath?: string;
}

const userClaims = (sub: string): Claims => ({ sub, role: 'authenticated', app_metadata: { role: 'user' } });
const adminClaims = (sub: string): Claims => ({ sub, role: 'authenticated', app_metadata: { role: 'admin' } });
const ANON: Claims = { role: 'anon' };
const SERVICE: Claims = { role: 'service_role' };

/** pg's error for "not allowed": missing privilege, or a row refused by a policy. */
const denied = (pattern: RegExp) => (err: unknown) => {
  const e = err as { code?: string; message?: string };
  assert.equal(e.code, '42501', `expected SQLSTATE 42501, got ${e.code}: ${e.message}`);
  assert.match(e.message ?? '', pattern);
  return true;
};
const permissionDenied = denied(/permission denied/);
const rlsViolation = denied(/violates row-level security policy/);

describe('Row-Level Security (SQL, as Supabase runs it)', () => {
  let db: pg.Client;
  const userA = randomUUID();
  const userB = randomUUID();
  const admin = randomUUID();
  const lotId = randomUUID();
  const nodeId = `rls-test-${randomBytes(4).toString('hex')}`;
  // A day of its own, long ago, so that no other suite's rows land in it.
  const statsDay = new Date(Date.UTC(2001, 0, 1) + Math.floor(Math.random() * 3000) * 86_400_000).toISOString().slice(0, 10);

  const notif: Record<'a1' | 'a2' | 'b1', string> = { a1: randomUUID(), a2: randomUUID(), b1: randomUUID() };
  const conn = { a: [] as number[], b: [] as number[], oldClosed: 0, oldOpen: 0, recentClosed: 0 };
  const events = { a: [] as number[], b: [] as number[], old: 0, recent: 0 };
  let seededAuditId = 0;

  /** BEGIN; role and claims set locally; fn; ROLLBACK (or COMMIT). Errors roll back and rethrow. */
  async function asClaims<T>(claims: Claims, fn: (c: pg.Client) => Promise<T>, opts: AsOptions = {}): Promise<T> {
    const role = opts.role ?? (claims.role as Role | undefined) ?? 'authenticated';
    await db.query('begin');
    try {
      await db.query('update public.spotcast_settings set role_claim_path = $1', [opts.storedClaimPath ?? 'app_metadata.role']);
      await db.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [role, JSON.stringify(claims)]);
      if (opts.roleClaimPath !== undefined) await db.query(`select set_config('spotcast.role_claim_path', $1, true)`, [opts.roleClaimPath]);
      const result = await fn(db);
      await db.query(opts.commit ? 'commit' : 'rollback');
      return result;
    } catch (err) {
      await db.query('rollback');
      throw err;
    }
  }

  const socketId = () => `s-${randomBytes(6).toString('hex')}`;
  async function insertConnection(userId: string, connectedAt: string, disconnectedAt: string | null): Promise<number> {
    const { rows } = await db.query<{ id: string }>(
      `insert into public.realtime_connection_log (node_id, socket_id, user_id, app_role, connected_at, disconnected_at, duration_ms)
       values ($1, $2, $3, 'user', $4::timestamptz, $5::timestamptz,
               (extract(epoch from ($5::timestamptz - $4::timestamptz)) * 1000)::bigint)
       returning id`,
      [nodeId, socketId(), userId, connectedAt, disconnectedAt],
    );
    return Number(rows[0]!.id);
  }
  async function insertEvent(userId: string, occurredAt: string, ok: boolean): Promise<number> {
    const { rows } = await db.query<{ id: string }>(
      `insert into public.realtime_event_log (occurred_at, node_id, socket_id, user_id, event, ok, error_code, duration_ms)
       values ($1::timestamptz, $2, $3, $4, 'get_parking_availability', $5, $6, 1.5) returning id`,
      [occurredAt, nodeId, socketId(), userId, ok, ok ? null : 'VALIDATION_ERROR'],
    );
    return Number(rows[0]!.id);
  }

  before(async () => {
    db = new pg.Client({ connectionString: testEnv().databaseUrl, application_name: 'spotcast-rls-test' });
    await db.connect();
    // Seeded as the superuser the tests connect as: no role set, RLS does not apply.
    await db.query(
      `insert into public.notifications (id, user_id, title, message, type) values
         ($1, $4, 'A first', 'for A', 'info'), ($2, $4, 'A second', 'for A', 'warning'), ($3, $5, 'B first', 'for B', 'info')`,
      [notif.a1, notif.a2, notif.b1, userA, userB],
    );
    const at = (time: string) => `${statsDay}T${time}Z`;
    conn.a.push(await insertConnection(userA, at('08:00:00'), at('08:10:00')));
    conn.a.push(await insertConnection(userA, at('09:00:00'), at('09:05:00')));
    conn.a.push(await insertConnection(userA, at('10:00:00'), null));
    conn.b.push(await insertConnection(userB, at('11:00:00'), at('11:30:00')));
    conn.b.push(await insertConnection(userB, at('12:00:00'), at('12:01:00')));
    events.a.push(await insertEvent(userA, at('08:01:00'), true));
    events.a.push(await insertEvent(userA, at('08:02:00'), false));
    for (const t of ['11:01:00', '11:02:00', '11:03:00', '11:04:00']) events.b.push(await insertEvent(userB, at(t), true));
    // For the retention clean-up: 40 days old (closed / still open), and recent.
    const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();
    conn.oldClosed = await insertConnection(userA, daysAgo(40), daysAgo(40 - 0.01));
    conn.oldOpen = await insertConnection(userA, daysAgo(40), null);
    conn.recentClosed = await insertConnection(userA, daysAgo(1), daysAgo(0.99));
    events.old = await insertEvent(userA, daysAgo(40), true);
    events.recent = await insertEvent(userA, daysAgo(0.01), true);
    conn.a.push(conn.oldClosed, conn.oldOpen, conn.recentClosed);
    events.a.push(events.old, events.recent);

    await db.query(`insert into public.parking_lots (id, name, total_spaces) values ($1, $2, 10)`, [lotId, `RLS lot ${lotId.slice(0, 8)}`]);
    const { rows } = await db.query<{ id: string }>(
      `insert into public.admin_audit_log (actor_id, action, target_type, target_id) values ($1, 'seed', 'parking_lot', $2) returning id`,
      [admin, lotId],
    );
    seededAuditId = Number(rows[0]!.id);
  });

  after(async () => {
    await db?.end();
  });

  describe('own rows only', () => {
    const ids = async (c: pg.Client, table: string) => {
      const { rows } = await c.query<{ id: string; user_id: string }>(`select id::text, user_id::text from public.${table}`);
      return rows;
    };

    it('user A sees only their own notifications, connection-log and event-log rows', async () => {
      await asClaims(userClaims(userA), async (c) => {
        const n = await ids(c, 'notifications');
        assert.deepEqual(n.map((r) => r.id).sort(), [notif.a1, notif.a2].sort());
        const cl = await ids(c, 'realtime_connection_log');
        assert.deepEqual(cl.map((r) => Number(r.id)).sort((x, y) => x - y), [...conn.a].sort((x, y) => x - y));
        const ev = await ids(c, 'realtime_event_log');
        assert.deepEqual(ev.map((r) => Number(r.id)).sort((x, y) => x - y), [...events.a].sort((x, y) => x - y));
        // Not even by asking for B's rows by id.
        const { rowCount } = await c.query('select 1 from public.notifications where id = $1', [notif.b1]);
        assert.equal(rowCount, 0);
      });
    });

    it('user B likewise sees only B’s rows', async () => {
      await asClaims(userClaims(userB), async (c) => {
        assert.deepEqual((await ids(c, 'notifications')).map((r) => r.id), [notif.b1]);
        assert.deepEqual((await ids(c, 'realtime_connection_log')).map((r) => Number(r.id)).sort((x, y) => x - y), conn.b);
        assert.deepEqual((await ids(c, 'realtime_event_log')).map((r) => Number(r.id)).sort((x, y) => x - y), events.b);
      });
    });

    it('an admin (app_metadata.role = admin) sees everyone’s rows', async () => {
      await asClaims(adminClaims(admin), async (c) => {
        const { rows: n } = await c.query('select id::text from public.notifications where user_id = any($1)', [[userA, userB]]);
        assert.equal(n.length, 3);
        const { rows: cl } = await c.query('select id from public.realtime_connection_log where user_id = any($1)', [[userA, userB]]);
        assert.equal(cl.length, conn.a.length + conn.b.length);
        const { rows: ev } = await c.query('select id from public.realtime_event_log where user_id = any($1)', [[userA, userB]]);
        assert.equal(ev.length, events.a.length + events.b.length);
      });
    });

    it('user_metadata.role = admin (which users can edit in Supabase) does not make an admin', async () => {
      const claims = { ...userClaims(userA), user_metadata: { role: 'admin' } };
      await asClaims(claims, async (c) => {
        const { rows } = await c.query('select user_id::text from public.notifications');
        assert.ok(rows.every((r) => r.user_id === userA));
        assert.equal((await c.query('select public.is_admin() as a')).rows[0].a, false);
      });
    });

    for (const table of ['notifications', 'realtime_connection_log', 'realtime_event_log', 'parking_lots', 'admin_audit_log', 'realtime_daily_stats']) {
      it(`anon gets permission denied on ${table} (no row leaks)`, async () => {
        await assert.rejects(asClaims(ANON, (c) => c.query(`select * from public.${table}`)), permissionDenied);
      });
    }

    it('anon cannot call lot_availability() nor set_lot_availability()', async () => {
      await assert.rejects(asClaims(ANON, (c) => c.query('select * from public.lot_availability()')), permissionDenied);
      await assert.rejects(asClaims(ANON, (c) => c.query('select * from public.set_lot_availability($1, 1)', [lotId])), permissionDenied);
    });
  });

  describe('notifications: changes', () => {
    it('user A can mark their own notification read', async () => {
      const updated = await asClaims(userClaims(userA), async (c) => {
        const res = await c.query('update public.notifications set read_at = now() where id = $1 returning read_at', [notif.a1]);
        return res.rowCount;
      }, { commit: true });
      assert.equal(updated, 1);
      const { rows } = await db.query('select read_at from public.notifications where id = $1', [notif.a1]);
      assert.ok(rows[0].read_at instanceof Date);
    });

    it('user A updating B’s notification changes 0 rows', async () => {
      const updated = await asClaims(userClaims(userA), async (c) => {
        return (await c.query('update public.notifications set read_at = now() where id = $1', [notif.b1])).rowCount;
      }, { commit: true });
      assert.equal(updated, 0);
      const { rows } = await db.query('select read_at from public.notifications where id = $1', [notif.b1]);
      assert.equal(rows[0].read_at, null);
    });

    it('user A cannot change the title of their own notification (column privilege)', async () => {
      await assert.rejects(
        asClaims(userClaims(userA), (c) => c.query(`update public.notifications set title = 'hacked' where id = $1`, [notif.a2])),
        permissionDenied,
      );
      const { rows } = await db.query('select title from public.notifications where id = $1', [notif.a2]);
      assert.equal(rows[0].title, 'A second');
    });

    it('user A cannot delete a notification', async () => {
      await assert.rejects(asClaims(userClaims(userA), (c) => c.query('delete from public.notifications where id = $1', [notif.a2])), permissionDenied);
    });

    it('user A cannot insert a notification (not even for themselves); an admin can', async () => {
      await assert.rejects(
        asClaims(userClaims(userA), (c) =>
          c.query(`insert into public.notifications (user_id, title, message) values ($1, 'self', 'x')`, [userA])),
        rlsViolation,
      );
      const id = randomUUID();
      await asClaims(adminClaims(admin), (c) =>
        c.query(`insert into public.notifications (id, user_id, title, message) values ($1, $2, 'From admin', 'hello')`, [id, userB]), { commit: true });
      const seen = await asClaims(userClaims(userB), (c) => c.query('select title from public.notifications where id = $1', [id]));
      assert.deepEqual(seen.rows, [{ title: 'From admin' }]);
    });
  });

  describe('parking lots and the admin audit log', () => {
    it('a user can read parking_lots but an update changes 0 rows, and capacity columns cannot be updated at all', async () => {
      await asClaims(userClaims(userA), async (c) => {
        const { rows } = await c.query('select id::text, total_spaces from public.parking_lots where id = $1', [lotId]);
        assert.deepEqual(rows, [{ id: lotId, total_spaces: 10 }]);
        const res = await c.query(`update public.parking_lots set name = 'mine' where id = $1`, [lotId]);
        assert.equal(res.rowCount, 0);
        const del = await c.query('delete from public.parking_lots where id = $1', [lotId]);
        assert.equal(del.rowCount, 0);
      }, { commit: true });
      // Capacity changes only through set_lot_availability (which checks holds and logs the event):
      // not even an admin may update those columns directly.
      for (const claims of [userClaims(userA), adminClaims(admin)]) {
        await assert.rejects(
          asClaims(claims, (c) => c.query('update public.parking_lots set is_open = false, total_spaces = 0 where id = $1', [lotId])),
          permissionDenied,
        );
      }
      const { rows } = await db.query('select is_open, total_spaces from public.parking_lots where id = $1', [lotId]);
      assert.deepEqual(rows, [{ is_open: true, total_spaces: 10 }]);
    });

    it('a user cannot insert a parking lot', async () => {
      await assert.rejects(
        asClaims(userClaims(userA), (c) => c.query(`insert into public.parking_lots (name, total_spaces) values ('mine', 5)`)),
        rlsViolation,
      );
    });

    it('a user calling set_lot_availability is refused with SQLSTATE 42501 and nothing changes', async () => {
      await assert.rejects(
        asClaims(userClaims(userA), (c) => c.query('select * from public.set_lot_availability($1, 0)', [lotId]), { commit: true }),
        (err: { code?: string; hint?: string }) => {
          assert.equal(err.code, '42501');
          assert.equal(err.hint, 'FORBIDDEN');
          return true;
        },
      );
      const { rows } = await db.query('select occupied_unbooked from public.parking_lots where id = $1', [lotId]);
      assert.equal(rows[0].occupied_unbooked, 0);
    });

    it('an admin calls set_lot_availability, and it writes an audit row with actor_id = the admin’s sub', async () => {
      const result = await asClaims(adminClaims(admin), (c) =>
        c.query(`select public.set_lot_availability($1, p_available_spaces => 7, p_out_of_service => 1, p_reason => 'staff count') as r`, [lotId]), { commit: true });
      const { lot, events } = result.rows[0].r;
      assert.equal(lot.available_spaces, 7);
      assert.equal(lot.out_of_service, 1);
      assert.equal(lot.occupied_unbooked, 2);
      // The change and its parking_updated event commit together (the event log is the outbox).
      assert.equal(events.length, 1);
      assert.equal(events[0].event, 'parking_updated');
      assert.equal(events[0].stream, `parking_lot:${lotId}`);
      assert.equal(events[0].payload.available_spaces, 7);
      const { rows } = await db.query(
        `select actor_id::text, target_type, target_id, details from public.admin_audit_log
          where action = 'set_lot_availability' and target_id = $1`, [lotId]);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].actor_id, admin);
      assert.equal(rows[0].target_type, 'parking_lot');
      assert.equal(rows[0].details.reason, 'staff count');
      assert.deepEqual(rows[0].details.after, { out_of_service: 1, occupied_unbooked: 2, is_open: true });
    });

    it('lot_availability() works for a user, returns aggregates only and reflects the admin’s count', async () => {
      const { rows } = await asClaims(userClaims(userB), (c) => c.query('select * from public.lot_availability($1)', [lotId]));
      assert.equal(rows.length, 1);
      assert.deepEqual(Object.keys(rows[0]).sort(), [
        'available_spaces', 'held', 'id', 'is_open', 'name', 'occupied_unbooked', 'out_of_service', 'parking_lot_id', 'total_spaces', 'updated_at',
      ]);
      assert.equal(rows[0].parking_lot_id, lotId);
      assert.equal(rows[0].id, lotId);
      assert.equal(rows[0].total_spaces, 10);
      assert.equal(rows[0].available_spaces, 7);
      // All lots: ours is among them.
      const all = await asClaims(userClaims(userB), (c) => c.query('select parking_lot_id from public.lot_availability()'));
      assert.ok(all.rows.some((r) => r.parking_lot_id === lotId));
    });

    it('a user reads 0 rows of admin_audit_log and cannot insert into it', async () => {
      await asClaims(userClaims(userA), async (c) => {
        const { rowCount } = await c.query('select * from public.admin_audit_log');
        assert.equal(rowCount, 0);
      });
      await assert.rejects(
        asClaims(userClaims(userA), (c) =>
          c.query(`insert into public.admin_audit_log (actor_id, action, target_type) values ($1, 'forged', 'x')`, [userA])),
        rlsViolation,
      );
    });

    it('an admin reads the audit log, may insert as themselves, but not with someone else’s actor_id', async () => {
      await asClaims(adminClaims(admin), async (c) => {
        const { rows } = await c.query('select id from public.admin_audit_log where id = $1', [seededAuditId]);
        assert.equal(rows.length, 1);
        const own = await c.query(`insert into public.admin_audit_log (actor_id, action, target_type) values ($1, 'note', 'x')`, [admin]);
        assert.equal(own.rowCount, 1);
      });
      await assert.rejects(
        asClaims(adminClaims(admin), (c) =>
          c.query(`insert into public.admin_audit_log (actor_id, action, target_type) values ($1, 'framed', 'x')`, [userB])),
        rlsViolation,
      );
      const { rowCount } = await db.query(`select 1 from public.admin_audit_log where action = 'framed' and actor_id = $1`, [userB]);
      assert.equal(rowCount, 0);
    });

    it('an admin cannot rewrite or delete audit rows (no privilege)', async () => {
      await assert.rejects(
        asClaims(adminClaims(admin), (c) => c.query(`update public.admin_audit_log set action = 'x' where id = $1`, [seededAuditId])),
        permissionDenied,
      );
      await assert.rejects(
        asClaims(adminClaims(admin), (c) => c.query('delete from public.admin_audit_log where id = $1', [seededAuditId])),
        permissionDenied,
      );
    });
  });

  describe('realtime_daily_stats view', () => {
    const dayRow = async (claims: Claims) => {
      const { rows } = await asClaims(claims, (c) =>
        c.query(`select connections::int, unique_users::int, open_connections::int, events::int, failed_events::int
                   from public.realtime_daily_stats where day = $1::date`, [statsDay]));
      return rows;
    };

    it('counts only user A’s rows for user A', async () => {
      assert.deepEqual(await dayRow(userClaims(userA)), [{ connections: 3, unique_users: 1, open_connections: 1, events: 2, failed_events: 1 }]);
    });

    it('counts only user B’s rows for user B', async () => {
      assert.deepEqual(await dayRow(userClaims(userB)), [{ connections: 2, unique_users: 1, open_connections: 0, events: 4, failed_events: 0 }]);
    });

    it('counts everyone’s rows for an admin', async () => {
      assert.deepEqual(await dayRow(adminClaims(admin)), [{ connections: 5, unique_users: 2, open_connections: 1, events: 6, failed_events: 1 }]);
    });

    it('shows a user without rows nothing for that day', async () => {
      assert.deepEqual(await dayRow(userClaims(randomUUID())), []);
    });
  });

  describe('cleanup_realtime_logs(interval)', () => {
    it('cannot be executed by authenticated, not even by an admin', async () => {
      await assert.rejects(asClaims(userClaims(userA), (c) => c.query(`select public.cleanup_realtime_logs('30 days')`)), permissionDenied);
      await assert.rejects(asClaims(adminClaims(admin), (c) => c.query(`select public.cleanup_realtime_logs('30 days')`)), permissionDenied);
    });

    it('as service_role deletes old closed connections and old events, keeps open and recent ones', async () => {
      // Rolled back at the end, so other suites sharing the database keep their rows.
      await asClaims(SERVICE, async (c) => {
        const { rows } = await c.query(`select public.cleanup_realtime_logs('30 days', 1) as r`);
        const r = rows[0].r;
        // Ours alone: 2 closed of A's and 2 of B's on the (years old) stats day, plus the 40-day-old
        // closed one; events: 6 on the stats day plus the 40-day-old one. Others' old rows may add.
        assert.ok(Number(r.realtime_connection_log) >= 5, JSON.stringify(r));
        assert.ok(Number(r.realtime_event_log) >= 7, JSON.stringify(r));
        const left = async (table: string, ids: number[]) =>
          (await c.query<{ id: string }>(`select id from public.${table} where id = any($1::bigint[]) order by id`, [ids])).rows.map((x) => Number(x.id));
        assert.deepEqual(await left('realtime_connection_log', [conn.oldClosed, conn.oldOpen, conn.recentClosed]), [conn.oldOpen, conn.recentClosed]);
        assert.deepEqual(await left('realtime_event_log', [events.old, events.recent]), [events.recent]);
        // The stats day is years old: its closed connections and all its events went too.
        assert.deepEqual(await left('realtime_connection_log', [...conn.b]), []);
        assert.deepEqual(await left('realtime_event_log', [...events.a.slice(0, 2), ...events.b]), []);
        assert.deepEqual(await left('realtime_connection_log', [conn.a[2]!]), [conn.a[2]!]);
      });
    });

    it('refuses an interval under 1 hour (and a null one)', async () => {
      const invalid = (err: { code?: string; hint?: string }) => {
        assert.equal(err.code, '22023');
        assert.equal(err.hint, 'VALIDATION_ERROR');
        return true;
      };
      await assert.rejects(asClaims(SERVICE, (c) => c.query(`select public.cleanup_realtime_logs('59 minutes')`)), invalid);
      await assert.rejects(asClaims(SERVICE, (c) => c.query(`select public.cleanup_realtime_logs('-30 days')`)), invalid);
      await assert.rejects(asClaims(SERVICE, (c) => c.query(`select public.cleanup_realtime_logs(null)`)), invalid);
      const { rows } = await db.query('select count(*)::int as n from public.realtime_connection_log where id = any($1::bigint[])', [conn.a]);
      assert.equal(rows[0].n, conn.a.length);
    });

    it('refuses a chunk size under 1 instead of looping forever', async () => {
      const invalid = (err: { code?: string }) => {
        assert.equal(err.code, '22023', `expected a validation error, got ${err.code}`);
        return true;
      };
      for (const chunk of ['0', 'null']) {
        await assert.rejects(
          asClaims(SERVICE, async (c) => {
            await c.query(`set local statement_timeout = '3s'`);
            return c.query(`select public.cleanup_realtime_logs('30 days', ${chunk})`);
          }),
          invalid,
        );
      }
    });
  });

  describe('the runner’s migrations table', () => {
    it('is not readable by authenticated, admin or anon', async () => {
      await assert.rejects(asClaims(userClaims(userA), (c) => c.query('select * from public.migrations')), permissionDenied);
      await assert.rejects(asClaims(adminClaims(admin), (c) => c.query('select * from public.migrations')), permissionDenied);
      await assert.rejects(asClaims(ANON, (c) => c.query('select * from public.migrations')), permissionDenied);
    });

    it('has RLS enabled, so a future grant alone would still expose no row', async () => {
      const { rows } = await db.query(`select relrowsecurity from pg_class where oid = 'public.migrations'::regclass`);
      assert.equal(rows[0].relrowsecurity, true);
    });
  });

  describe('public.is_admin()', () => {
    const isAdmin = async (claims: Claims, roleClaimPath?: string) => {
      const opts: AsOptions = roleClaimPath === undefined ? {} : { roleClaimPath };
      const { rows } = await asClaims(claims, (c) => c.query('select public.is_admin() as a'), opts);
      return rows[0].a as boolean;
    };

    it('defaults to app_metadata.role', async () => {
      assert.equal(await isAdmin(adminClaims(admin)), true);
      assert.equal(await isAdmin(userClaims(userA)), false);
      assert.equal(await isAdmin({ sub: userA, role: 'authenticated' }), false);
      assert.equal(await isAdmin({ sub: userA, role: 'authenticated', claims: { app_role: 'admin' } }), false);
      // An empty setting (what a rolled-back local setting leaves behind) means the default.
      assert.equal(await isAdmin(adminClaims(admin), ''), true);
    });

    it('honours spotcast.role_claim_path when set locally', async () => {
      const custom = { sub: admin, role: 'authenticated', claims: { app_role: 'admin' } };
      assert.equal(await isAdmin(custom, 'claims.app_role'), true);
      assert.equal(await isAdmin({ sub: userA, role: 'authenticated', claims: { app_role: 'user' } }, 'claims.app_role'), false);
      // With the custom path, app_metadata.role no longer counts.
      assert.equal(await isAdmin(adminClaims(admin), 'claims.app_role'), false);
      // The setting is local: the next transaction is back to the default.
      assert.equal(await isAdmin(custom), false);
    });

    it('without the per-transaction setting (PostgREST), follows the path the server stored at start', async () => {
      const custom = { sub: admin, role: 'authenticated', claims: { app_role: 'admin' } };
      const isAdminStored = async (claims: Claims, storedClaimPath: string) =>
        (await asClaims(claims, (c) => c.query('select public.is_admin() as a'), { storedClaimPath })).rows[0].a as boolean;
      assert.equal(await isAdminStored(custom, 'claims.app_role'), true);
      assert.equal(await isAdminStored(adminClaims(admin), 'claims.app_role'), false);
      assert.equal(await isAdminStored(custom, 'app_metadata.role'), false);
      // The per-transaction setting, when there is one, wins.
      const { rows } = await asClaims(custom, (c) => c.query('select public.is_admin() as a'), {
        storedClaimPath: 'app_metadata.role',
        roleClaimPath: 'claims.app_role',
      });
      assert.equal(rows[0].a, true);
    });

    it('only the service may store the claim path; a malformed path is refused', async () => {
      for (const claims of [userClaims(userA), adminClaims(admin)]) {
        await assert.rejects(asClaims(claims, (c) => c.query(`select public.configure_role_claim('claims.app_role')`)), permissionDenied);
        await assert.rejects(asClaims(claims, (c) => c.query(`update public.spotcast_settings set role_claim_path = 'x'`)), permissionDenied);
      }
      await assert.rejects(asClaims(ANON, (c) => c.query(`select public.configure_role_claim('x')`)), permissionDenied);
      await assert.rejects(asClaims(SERVICE, (c) => c.query(`select public.configure_role_claim('a..b')`)), (err: { code?: string }) => {
        assert.equal(err.code, '23514');
        return true;
      });
      const stored = await asClaims(SERVICE, async (c) => {
        await c.query(`select public.configure_role_claim('claims.app_role')`);
        return (await c.query('select role_claim_path from public.spotcast_settings')).rows;
      });
      assert.deepEqual(stored, [{ role_claim_path: 'claims.app_role' }]);
    });

    it('the custom path drives the policies too', async () => {
      const custom = { sub: admin, role: 'authenticated', claims: { app_role: 'admin' } };
      const { rows } = await asClaims(custom, (c) => c.query('select id::text from public.notifications where user_id = $1', [userB]), {
        roleClaimPath: 'claims.app_role',
      });
      assert.ok(rows.some((r) => r.id === notif.b1));
    });
  });
});
