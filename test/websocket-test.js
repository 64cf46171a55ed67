#!/usr/bin/env node
// Smoke check against a running spotcast server. Plain Node, no build step:
//   node test/websocket-test.js
// Settings (all optional):
//   SPOTCAST_URL   server URL (default http://localhost:${PORT:-5000})
//   SPOTCAST_TOKEN a user token; else one is minted from JWT_SECRET, or from the development
//                  secret that `npm start` keeps in .data/dev-jwt-secret
// It connects, lists availability, subscribes to a lot, asks that lot's availability, prints
// what it got and exits non-zero on any failure.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const url = process.env.SPOTCAST_URL ?? `http://localhost:${process.env.PORT ?? 5000}`;
const TIMEOUT_MS = Number(process.env.SMOKE_TIMEOUT_MS ?? 10000);

function token() {
  if (process.env.SPOTCAST_TOKEN) return process.env.SPOTCAST_TOKEN;
  let secret = process.env.JWT_SECRET;
  if (!secret) {
    const file = path.join(root, '.data', 'dev-jwt-secret');
    try {
      secret = readFileSync(file, 'utf8').trim();
    } catch {
      fail(`no token: set SPOTCAST_TOKEN, or JWT_SECRET, or start the server once with npm start (it writes ${file})`);
    }
  }
  return jwt.sign(
    { sub: process.env.SMOKE_USER_ID ?? '11111111-1111-4111-8111-111111111111', role: 'authenticated', app_metadata: { role: 'user' } },
    secret,
    { algorithm: 'HS256', expiresIn: 300 },
  );
}

function fail(message) {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

function call(socket, event, payload) {
  return new Promise((resolve, reject) => {
    socket.timeout(TIMEOUT_MS).emit(event, payload, (err, res) => {
      if (err) return reject(new Error(`${event}: no answer within ${TIMEOUT_MS} ms`));
      if (!res?.ok) return reject(new Error(`${event}: ${res?.error?.code}: ${res?.error?.message}`));
      resolve(res.data);
    });
  });
}

async function main() {
  console.log(`connecting to ${url}`);
  const socket = io(url, { auth: { token: token() }, transports: ['websocket'], reconnection: false, timeout: TIMEOUT_MS });
  const connected = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connected event')), TIMEOUT_MS);
    socket.once('connected', (payload) => {
      clearTimeout(timer);
      resolve(payload);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(new Error(`connect_error: ${err.message} ${JSON.stringify(err.data ?? {})}`));
    });
  });
  console.log(`ok   connected as ${connected.user.id} (${connected.user.role}) on node ${connected.node_id}`);

  const all = await call(socket, 'get_parking_availability', {});
  if (!Array.isArray(all.lots) || all.lots.length === 0) throw new Error('no parking lots on the server');
  for (const lot of all.lots) console.log(`ok   lot ${lot.name}: ${lot.available_spaces}/${lot.total_spaces} free`);

  const lot = all.lots[0];
  const sub = await call(socket, 'subscribe', { room: `parking_lot:${lot.parking_lot_id}` });
  if (sub.room !== `parking_lot:${lot.parking_lot_id}`) throw new Error(`subscribed to the wrong room: ${sub.room}`);
  console.log(`ok   subscribed to ${sub.room}`);

  const one = await call(socket, 'get_parking_availability', { parking_lot_id: lot.parking_lot_id });
  if (one.lots.length !== 1 || one.lots[0].parking_lot_id !== lot.parking_lot_id) throw new Error('availability of the lot is missing');
  console.log(`ok   ${one.lots[0].name} has ${one.lots[0].available_spaces} free spaces`);

  socket.close();
  console.log('PASS smoke check');
}

main().catch((err) => fail(err.message));
