#!/usr/bin/env node
// Smoke check against a running spotcast server. Plain Node, no build step:
//   node test/websocket-test.js
// Which server: SPOTCAST_URL, else http://localhost:$PORT, else the one `npm start` / `npm run dev`
// recorded in its data folder (.data/dev-server.json, or next to EMBEDDED_PG_DIR), else port 5000.
// Tokens (all optional): SPOTCAST_TOKEN (a user's), SPOTCAST_ADMIN_TOKEN; else both are minted from
// JWT_SECRET or from the development secret the server keeps in its data folder.
// It connects, lists availability, subscribes to a lot, asks that lot's availability, then has an
// admin announce to its own user room and waits for that pushed event. It prints what it got and
// exits non-zero on any failure, saying clearly when nothing listens.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = process.env.EMBEDDED_PG_DIR ? path.dirname(path.resolve(process.env.EMBEDDED_PG_DIR)) : path.join(root, '.data');
const TIMEOUT_MS = Number(process.env.SMOKE_TIMEOUT_MS ?? 10000);

function fail(message) {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

function readOptional(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Where to look, and why there: what a reader needs when nothing answers. */
function target() {
  if (process.env.SPOTCAST_URL) return { url: process.env.SPOTCAST_URL, from: 'SPOTCAST_URL' };
  if (process.env.PORT) return { url: `http://localhost:${process.env.PORT}`, from: 'PORT' };
  const file = path.join(dataDir, 'dev-server.json');
  const text = readOptional(file);
  if (text) {
    const record = JSON.parse(text);
    if (alive(record.pid)) return { url: record.url, from: `${file} (pid ${record.pid})` };
    console.log(`note ${file} names pid ${record.pid}, which is no longer running; trying the default port`);
  }
  return { url: 'http://localhost:5000', from: 'the default port' };
}

function secret() {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  return readOptional(path.join(dataDir, 'dev-jwt-secret'))?.trim();
}

function mint(key, sub, role) {
  return jwt.sign({ sub, role: 'authenticated', app_metadata: { role } }, key, { algorithm: 'HS256', expiresIn: 300 });
}

function tokens() {
  const key = secret();
  const user = process.env.SPOTCAST_TOKEN || (key && mint(key, process.env.SMOKE_USER_ID ?? randomUUID(), 'user'));
  if (!user) fail(`no token: set SPOTCAST_TOKEN, or JWT_SECRET, or start the server once with npm start (it writes ${path.join(dataDir, 'dev-jwt-secret')})`);
  const admin = process.env.SPOTCAST_ADMIN_TOKEN || (key && mint(key, randomUUID(), 'admin'));
  return { user, admin };
}

/** Says clearly when nothing listens there, before Socket.IO would retry in silence. */
async function reachable({ url, from }) {
  try {
    await fetch(new URL('/health/live', url), { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const why = err.cause?.code ?? err.name ?? err.message;
    fail(`nothing listens at ${url} (from ${from}; ${why}). Start the server (npm start), or point SPOTCAST_URL or PORT at it.`);
  }
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

function next(socket, event, match) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    socket.on(event, (payload) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

/** An admin announces to this socket's own user room (nobody else is in it); the socket must hear it. */
async function pushed(url, socket, user, adminToken) {
  if (!adminToken) {
    console.log('skip pushed event: needs SPOTCAST_ADMIN_TOKEN, or JWT_SECRET / the development secret to mint an admin token');
    return;
  }
  const message = `smoke check ${randomUUID()}`;
  const heard = next(socket, 'system_announcement', (p) => p.message === message);
  const res = await fetch(new URL('/realtime/announcement', url), {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message, type: 'info', room: `user:${user.id}` }),
  });
  if (res.status !== 201) throw new Error(`POST /realtime/announcement answered ${res.status}: ${await res.text()}`);
  const got = await heard;
  console.log(`ok   pushed system_announcement arrived in ${got.room}`);
}

async function main() {
  const where = target();
  const { user: userToken, admin: adminToken } = tokens();
  console.log(`connecting to ${where.url} (from ${where.from})`);
  await reachable(where);
  const socket = io(where.url, { auth: { token: userToken }, transports: ['websocket'], reconnection: false, timeout: TIMEOUT_MS });
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

  await pushed(where.url, socket, connected.user, connected.user.role === 'admin' ? userToken : adminToken);

  socket.close();
  console.log('PASS smoke check');
}

main().catch((err) => fail(err.message));
