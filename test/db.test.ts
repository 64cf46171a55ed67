/**
 * The data layer's one-round-trip statements (Db.statementAsUser / statementAsSystem): the user's
 * role and claims, the statement and its commit travel as one simple query. These check what that
 * must never get wrong: whose rights the statement has, that a failure commits nothing and leaves
 * the pooled connection clean, and that values stay data.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Principal } from '../server/platform/auth/principal.js';
import { Db } from '../server/platform/db/db.js';
import { inlineParams } from '../server/platform/db/inline-params.js';
import { ForbiddenError, ValidationError } from '../server/platform/errors.js';
import { testEnv } from './helpers/global-setup.js';

function principal(userId = randomUUID(), role: 'user' | 'admin' = 'user'): Principal {
  return {
    userId,
    role,
    orgId: null,
    claims: { sub: userId, role: 'authenticated', app_metadata: { role } },
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    token: 'not used by the direct path',
  };
}

describe('Db: a statement and its transaction in one round trip (real Postgres)', () => {
  let db: Db;

  // One connection, so every check below runs on the connection the statement before it used.
  before(() => {
    db = new Db({ url: testEnv().databaseUrl, poolMax: 1, queryTimeoutMs: 5000, roleClaimPath: ['app_metadata', 'role'], logger: pino({ level: 'silent' }), nodeId: null });
  });
  after(() => db.close());

  /** What the pooled connection carries now, outside any transaction. */
  async function connectionState() {
    const { rows } = await db.query<{ role: string; claims: string | null; timeout: string }>(
      `select current_user as role, nullif(current_setting('request.jwt.claims', true), '') as claims, current_setting('statement_timeout') as timeout`,
    );
    return rows[0]!;
  }

  it("runs as the user: the authenticated role, the user's claims, RLS's statement timeout", async () => {
    const p = principal();
    const { rows } = await db.statementAsUser<{ role: string; uid: string; admin: boolean; timeout: string }>(
      p,
      `select current_user as role, auth.uid()::text as uid, public.is_admin() as admin, current_setting('statement_timeout') as timeout`,
    );
    assert.deepEqual(rows[0], { role: 'authenticated', uid: p.userId, admin: false, timeout: '4500ms' });
    const { rows: adminRows } = await db.statementAsUser<{ admin: boolean }>(principal(randomUUID(), 'admin'), 'select public.is_admin() as admin');
    assert.equal(adminRows[0]!.admin, true);
  });

  it('leaves no role, claims or open transaction behind on the pooled connection', async () => {
    await db.statementAsUser(principal(), 'select 1');
    assert.deepEqual(await connectionState(), { role: 'postgres', claims: null, timeout: '0' });
    // SAVEPOINT exists only inside a transaction block: refused here means none was left open.
    await assert.rejects(db.query('savepoint probe'), /transaction block/);
  });

  it('commits what the statement wrote', async () => {
    const id = randomUUID();
    await db.statementAsSystem(`insert into public.parking_lots (id, name, total_spaces) values ($1, $2, $3)`, [id, 'one-trip lot', 3]);
    const { rows } = await db.query('select name, total_spaces from public.parking_lots where id = $1', [id]);
    assert.deepEqual(rows, [{ name: 'one-trip lot', total_spaces: 3 }]);
  });

  it('a failing statement commits nothing and the connection serves the next one', async () => {
    const id = randomUUID();
    await assert.rejects(
      db.statementAsSystem(
        `with inserted as (insert into public.parking_lots (id, name, total_spaces) values ($1, 'doomed', 1) returning 1)
         select 1 / (count(*) - 1) from inserted`,
        [id],
      ),
      // Division by zero is a data exception (SQLSTATE class 22): the caller's VALIDATION_ERROR.
      (err: Error & { code?: string }) => err.code === 'VALIDATION_ERROR',
    );
    const { rows } = await db.query('select count(*)::int as n from public.parking_lots where id = $1', [id]);
    assert.equal(rows[0]!.n, 0, 'the insert was rolled back with the statement');
    assert.deepEqual(await connectionState(), { role: 'postgres', claims: null, timeout: '0' });
  });

  it("refuses what RLS refuses, as the user, and maps it to the client's error", async () => {
    await assert.rejects(
      db.statementAsUser(principal(), `insert into public.parking_lots (id, name, total_spaces) values ($1, 'not mine', 1)`, [randomUUID()]),
      (err: unknown) => err instanceof ForbiddenError && err.code === 'FORBIDDEN',
    );
    assert.equal((await connectionState()).role, 'postgres');
  });

  it('keeps values as data: quotes, backslashes, semicolons, "$2" and unicode come back unchanged', async () => {
    const hostile = [`x'); drop table public.parking_lots; --`, 'back\\slash \\\' quote', '$2 and $1', 'Straße 🚗 "quoted"', ''];
    for (const name of hostile) {
      const { rows } = await db.statementAsSystem<{ name: string; other: string }>('select $1::text as name, $2::text as other', [name, 'second']);
      assert.deepEqual(rows[0], { name, other: 'second' });
    }
    const { rows } = await db.query('select count(*)::int as n from public.parking_lots');
    assert.ok(rows[0]!.n >= 1, 'the table is still there');
  });
});

describe('inlineParams: values written as literals', () => {
  const escape = (s: string) => `'${s.replace(/'/g, "''")}'`;

  it('writes each kind of scalar as a quoted literal, and null as null', () => {
    const at = new Date('2026-11-29T10:00:00.000Z');
    assert.equal(
      inlineParams('f($1, $2, $3, $4, $5, $6, $7)', ['a', 5, true, null, undefined, at, { k: "it's" }], escape),
      `f('a', '5', 'true', null, null, '2026-11-29T10:00:00.000Z', '{"k":"it''s"}')`,
    );
  });

  it('replaces $10 as the tenth value, not the first followed by 0', () => {
    const values = Array.from({ length: 10 }, (_, i) => `v${i + 1}`);
    assert.equal(inlineParams('$1 $10', values, escape), `'v1' 'v10'`);
  });

  it('refuses what it cannot write faithfully: arrays, NaN, Infinity, a missing value', () => {
    assert.throws(() => inlineParams('$1', [[1, 2]], escape), /arrays/);
    assert.throws(() => inlineParams('$1', [Number.NaN], escape), /NaN/);
    assert.throws(() => inlineParams('$1', [Number.POSITIVE_INFINITY], escape), /Infinity/);
    assert.throws(() => inlineParams('$1, $2', ['only one'], escape), /\$2 but 1 values/);
  });

  it("refuses text with NUL as the client's VALIDATION_ERROR (it would cut the query text short)", () => {
    assert.throws(() => inlineParams('$1', ['a\u0000b'], escape), (err: unknown) => err instanceof ValidationError && err.code === 'VALIDATION_ERROR');
  });
});
