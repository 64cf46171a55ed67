import { createHmac } from 'node:crypto';
import pg from 'pg';
import { testEnv } from '../helpers/global-setup.js';
import { TEST_SECRET } from '../helpers/server.js';

// ---- database ----------------------------------------------------------------------------------

export async function tableCounts(): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: testEnv().databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ tablename: string }>(`select tablename from pg_tables where schemaname = 'public' order by tablename`);
    const counts: Record<string, number> = {};
    for (const { tablename } of rows) {
      const res = await client.query<{ n: string }>(`select count(*) as n from public.${client.escapeIdentifier(tablename)}`);
      counts[tablename] = Number(res.rows[0]!.n);
    }
    return counts;
  } finally {
    await client.end();
  }
}

export function craftJwt(header: Record<string, unknown>, payload: Record<string, unknown>, secret = TEST_SECRET): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64(header)}.${b64(payload)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}
