/**
 * Dates a booking is given, over REST and the socket: windows already over are refused (and
 * nothing is charged), dates at the edges of what zod and Postgres accept are a clean
 * VALIDATION_ERROR (never a 5xx), and offsets both accept mean the instant they say.
 */
import assert from 'node:assert/strict';
import { call, closeAll, connect, newUserId } from './helpers/clients.js';
import { withClient } from './helpers/env.js';
import { createLot } from './helpers/fixtures.js';
import { testEnv } from './helpers/global-setup.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { request } from './helpers/http.js';

const minutesFromNow = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

/** An instant written in a given offset (minutes east of UTC), seconds precision. */
function inOffset(instant: Date, offsetMinutes: number): string {
  const local = new Date(instant.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const abs = Math.abs(offsetMinutes);
  return `${local}${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

describe('booking dates', () => {
  let server: TestServer;
  let lot: string;
  before(async () => {
    server = await startTestServer();
    lot = await createLot(server.db, { total: 50 });
  });
  after(() => server.stop());
  afterEach(closeAll);

  async function rowsOf(userId: string): Promise<{ bookings: number; events: number }> {
    const { rows } = await server.db.asSystem((tx) =>
      tx.query(
        `select (select count(*)::int from public.bookings where user_id = $1) as bookings,
                (select count(*)::int from public.event_log where stream = 'user:' || $1) as events`,
        [userId],
      ),
    );
    return rows[0];
  }

  /** The body over REST and over the socket; both refused with `code` and a message matching `message`; nothing written. */
  async function refusedBoth(body: Record<string, unknown>, message: RegExp, code = 'VALIDATION_ERROR') {
    const userId = newUserId();
    const token = server.token(userId);
    const res = await request(server, 'POST', '/bookings', { token, body: { parking_lot_id: lot, ...body } });
    assert.equal(res.status, 400, `REST ${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, code, JSON.stringify(res.body));
    assert.match(res.body.error.message, message);
    const { socket } = await connect(server.url, token);
    const ack = await call(socket, 'create_booking', { parking_lot_id: lot, ...body });
    assert.equal(ack.ok, false, `socket ${JSON.stringify(body)} was accepted`);
    assert.equal(ack.error.code, code);
    assert.match(ack.error.message, message);
    socket.close();
    assert.deepEqual(await rowsOf(userId), { bookings: 0, events: 0 }, 'nothing written');
  }

  describe('a window that is already over is refused, not charged', () => {
    const over = /window is already over/;

    it('ends_at in the past (start within the 5-minute grace)', async () => {
      await refusedBoth({ starts_at: minutesFromNow(-4), ends_at: minutesFromNow(-1) }, over);
    });

    it('ends_at in the past with no starts_at (the start would be now)', async () => {
      // The schema's "after starts_at" cannot see a start that defaults to now: the database refuses.
      await refusedBoth({ ends_at: minutesFromNow(-1) }, over);
    });

    it('a duration that ends before now', async () => {
      await refusedBoth({ starts_at: minutesFromNow(-4), duration_minutes: 2 }, over);
    });

    it('called directly in SQL (as supabase-js rpc would), the function refuses it too', async () => {
      const userId = newUserId();
      const claims = JSON.stringify({ sub: userId, role: 'authenticated', app_metadata: { role: 'user' } });
      await withClient(testEnv().databaseUrl, async (c) => {
        await c.query('begin');
        await c.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [claims]);
        await assert.rejects(
          c.query('select public.create_booking($1, $2, $3)', [lot, minutesFromNow(-4), minutesFromNow(-3)]),
          (err: { code?: string; hint?: string }) => err.code === '22023' && err.hint === 'VALIDATION_ERROR',
        );
        await c.query('rollback');
      });
      assert.deepEqual(await rowsOf(userId), { bookings: 0, events: 0 });
    });

    it('a window that started within the grace and ends later is still accepted', async () => {
      const res = await request(server, 'POST', '/bookings', {
        token: server.token(newUserId()),
        body: { parking_lot_id: lot, starts_at: minutesFromNow(-4), ends_at: minutesFromNow(30) },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    });

    it('an idempotent retry after the window ended returns the booking it made, not an error', async () => {
      const token = server.token(newUserId());
      const body = { parking_lot_id: lot, starts_at: minutesFromNow(-4), ends_at: new Date(Date.now() + 1500).toISOString(), idempotency_key: 'late-retry' };
      const first = await request(server, 'POST', '/bookings', { token, body });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      await new Promise((r) => setTimeout(r, 1600));
      const again = await request(server, 'POST', '/bookings', { token, body });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.data.replayed, true);
      assert.equal(again.body.data.booking.id, first.body.data.booking.id);
    });
  });

  describe('dates at the edges of zod and Postgres', () => {
    // zod's ISO check accepts these; Postgres refuses them (SQLSTATE class 22): a clean 400.
    it('year 0000 (no such year in Postgres, 22008) is VALIDATION_ERROR over REST and socket, as start and as end', async () => {
      await refusedBoth({ starts_at: '0000-01-01T00:00:00Z', duration_minutes: 60 }, /outside the range/);
      await refusedBoth({ ends_at: '0000-12-31T23:59:59.999Z' }, /outside the range/);
    });

    it('an offset past ±15:59 (zod accepts up to ±23:59, Postgres refuses, 22009) is VALIDATION_ERROR', async () => {
      await refusedBoth({ starts_at: inOffset(new Date(Date.now() + 3_600_000), 16 * 60), duration_minutes: 60 }, /time zone offset/);
      await refusedBoth({ starts_at: inOffset(new Date(Date.now() + 3_600_000), -(23 * 60 + 59)), duration_minutes: 60 }, /time zone offset/);
    });

    // Both accept these; the booking rules refuse them.
    const ruled: [string, Record<string, unknown>, RegExp][] = [
      ['year 0001', { starts_at: '0001-01-01T00:00:00Z', duration_minutes: 60 }, /in the past/],
      ['Feb 29 of a leap year long gone', { starts_at: '2000-02-29T00:00:00Z', duration_minutes: 60 }, /in the past/],
      ['9999-12-31T23:59:59.999999Z', { starts_at: '9999-12-31T23:59:59.999999Z', duration_minutes: 60 }, /days ahead/],
      ['seven fractional digits that round into year 10000', { starts_at: '9999-12-31T23:59:59.9999999Z', duration_minutes: 60 }, /days ahead/],
      ['an end in year 9999 (a window too long)', { ends_at: '9999-12-31T23:59:59-15:59' }, /at most \d+ hours/],
      ['an end in year 0001', { ends_at: '0001-01-01T00:00:00+15:59' }, /window is already over/],
    ];
    for (const [what, body, message] of ruled) {
      it(`${what}: VALIDATION_ERROR from the booking rules`, async () => {
        await refusedBoth(body, message);
      });
    }

    // zod refuses these before the database sees them.
    const malformed = [
      '+275760-09-13T00:00:00Z', '294276-12-31T23:59:59Z', '+294277-01-01T00:00:00Z', '-4713-11-24T00:00:00Z', '4713-11-24T00:00:00Z BC',
      '2016-12-31T23:59:60Z', '2023-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '2030-04-31T00:00:00Z', '2030-01-01T24:00:00Z',
      '2030-01-01T00:00:00+99:00', '2030-01-01T00:00:00', 'infinity', 'epoch', 'now',
    ];
    for (const date of malformed) {
      it(`${date}: refused by the schema as not an ISO 8601 date-time`, async () => {
        await refusedBoth({ starts_at: date, duration_minutes: 60 }, /ISO 8601/);
      });
    }

    it('the same instant written with +14:00, -12:00 or ±15:59 is accepted and means that instant', async () => {
      const instant = new Date(Date.now() + 2 * 3_600_000);
      instant.setUTCMilliseconds(0);
      for (const offset of [14 * 60, -12 * 60, 15 * 60 + 59, -(15 * 60 + 59)]) {
        const res = await request(server, 'POST', '/bookings', {
          token: server.token(newUserId()),
          body: { parking_lot_id: lot, starts_at: inOffset(instant, offset), duration_minutes: 30 },
        });
        assert.equal(res.status, 201, `${inOffset(instant, offset)}: ${JSON.stringify(res.body)}`);
        assert.equal(Date.parse(res.body.data.booking.starts_at), instant.getTime(), inOffset(instant, offset));
      }
    });
  });
});
