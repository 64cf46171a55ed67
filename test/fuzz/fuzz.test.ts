/**
 * Guarantee 6 under fire: thousands of malformed, oversized, wrongly typed and hostile payloads on
 * every client event and every HTTP route, as a user, as an admin and as nobody. The generator is
 * seeded (FUZZ_SEED=<n> replays a run exactly; the seed is printed); case counts can be raised with
 * FUZZ_SOCKET_CASES / FUZZ_HTTP_CASES / FUZZ_HANDSHAKE_CASES.
 *
 * What a user checks: the server answers every request (never crashes or hangs), every answer is
 * the documented envelope (`{ ok:false, error:{ code, message } }`, 4xx over HTTP, never 5xx or
 * INTERNAL_ERROR), no message carries a stack, SQL or an internal path, nothing is accepted that
 * the contract refuses, and no row in any table of schema public was added or removed.
 *
 * Write paths are only ever given inputs that are invalid, or valid inputs aimed at ids that do
 * not exist (a random uuid), so "no row changed" is exact. The activity log (which by design
 * records every event) is disabled on this server so that every table, audit trail included, can
 * be compared.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { io } from 'socket.io-client';
import { signPayload, SIGNATURE_HEADER } from '../../server/features/payments/signature.js';
import { call, closeAll, connect, newUserId } from '../helpers/clients.js';
import { createLot } from '../helpers/fixtures.js';
import { startTestServer, TEST_WEBHOOK_SECRET, type TestServer } from '../helpers/server.js';
import { ACK_TIMEOUT_MS, fuzzSeeds, HANDSHAKE_CASES, HTTP_CASES, HTTP_TIMEOUT_MS, SOCKET_CASES, rngFor } from './rng.js';
import type { World } from './world.js';
import { WEIRD, approxBytes, hostileString, hostileValue, isPlainObject, nest, polluted, wire } from './values.js';
import { clip, errorProblems, report, safeJson, type Problem } from './oracles.js';
import { EVENTS, future, socketCase } from './socket-cases.js';
import { headerSafe, httpCase, httpHint, httpProblems, send } from './http-cases.js';
import { craftJwt, tableCounts } from './db.js';
import { request } from '../helpers/http.js';

// ---- the suite ---------------------------------------------------------------------------------

for (const seed of fuzzSeeds()) describe(`fuzz (seed ${seed}): hostile input is refused, not obeyed`, function () {
  this.timeout(120_000);
  let server: TestServer;
  let world: World;
  let before_: Record<string, number>;
  let totalCases = 0;

  before(async () => {
    console.log(`    fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    server = await startTestServer({
      // The activity log records every event by design; off here so that every table, the audit
      // trail included, must be unchanged by refused input.
      ACTIVITY_LOG_ENABLED: 'false',
      // No background booking sweeps during the run (rows of other suites must not move the counts).
      JOBS_SWEEP_INTERVAL_MS: '3600000',
    });
    const lotId = await createLot(server.db, { total: 50 });
    const userId = newUserId();
    const otherUserId = newUserId();
    const adminId = newUserId();
    const book = async (uid: string) => {
      const res = await request(server, 'POST', '/bookings', {
        token: server.token(uid),
        body: { parking_lot_id: lotId, starts_at: future(24 * 60), duration_minutes: 60 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.data.booking.id as string;
    };
    world = {
      lotId,
      userId,
      otherUserId,
      adminId,
      bookingId: await book(userId),
      otherBookingId: await book(otherUserId),
      userToken: server.token(userId),
      adminToken: server.token(adminId, 'admin'),
    };
    // Let the start-up sweep of due bookings (other suites' rows) settle before counting.
    for (let i = 0; i < 10 && (await server.app.bookingJobs.sweepDue()) > 0; i++);
    before_ = await tableCounts();
  });

  after(async () => {
    closeAll();
    await server?.stop();
    console.log(`    fuzz cases in this run: ${totalCases} (seed ${seed})`);
  });

  /** A health check, a normal HTTP request and a normal socket request all work. */
  async function assertAlive(): Promise<void> {
    const health = await request(server, 'GET', '/health/ready');
    assert.equal(health.status, 200, JSON.stringify(health.body));
    const res = await request(server, 'GET', `/realtime/parking-availability?parking_lot_id=${world.lotId}`, { token: world.userToken });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.lots[0].parking_lot_id, world.lotId);
    const { socket } = await connect(server.url, world.userToken);
    const ack = await call(socket, 'get_parking_availability', { parking_lot_id: world.lotId });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    socket.close();
  }

  it(`answers ${SOCKET_CASES} hostile socket events on every client event, as a user and as an admin`, async () => {
    const r = rngFor(seed, 'socket');
    const workers = [
      ...[0, 1, 2].map(() => ({ role: 'user' as const, token: world.userToken })),
      ...[0, 1, 2].map(() => ({ role: 'admin' as const, token: world.adminToken })),
    ];
    const plan = Array.from({ length: SOCKET_CASES }, (_, i) => {
      const worker = i % workers.length;
      return { worker, c: socketCase(r, world, workers[worker]!.role, i) };
    });
    const problems: Problem[] = [];
    const seenEvents = new Set<string>();
    const stats = new Map<string, number>();

    await Promise.all(
      workers.map(async (wk, n) => {
        let { socket } = await connect(server.url, wk.token);
        for (const { c } of plan.filter((p) => p.worker === n)) {
          seenEvents.add(c.known ?? 'unknown');
          const where = `${wk.role} ${c.event.slice(0, 40)}${c.withAck ? '' : ' (no ack)'}`;
          const note = (what: string, answer: unknown) => problems.push({ where, what, input: `#${c.idx} ${clip(c.args)}`, answer: clip(answer) });
          if (!socket.connected) {
            note('socket was disconnected by an earlier case', socket.id);
            ({ socket } = await connect(server.url, wk.token));
          }
          if (!c.known) {
            // An event the contract lacks is refused like any bad input: an ack, or an error event.
            if (c.withAck) {
              const res = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(c.event, ...c.args).catch((err: unknown) => ({ noAnswer: String(err) }));
              stats.set(`${String(res?.error?.code ?? 'no answer')} (unknown event)`, (stats.get(`${String(res?.error?.code ?? 'no answer')} (unknown event)`) ?? 0) + 1);
              if (!isPlainObject(res) || res.ok !== false) note('an unknown event was not refused on its ack', res);
              else for (const p of errorProblems(res.error, c.sent)) note(p, res);
            } else {
              const name = c.event.slice(0, 100);
              const p = await new Promise<any>((resolve) => {
                const timer = setTimeout(() => done(undefined), ACK_TIMEOUT_MS);
                const onError = (e: any) => e?.event === name && done(e);
                function done(v: unknown) {
                  clearTimeout(timer);
                  socket.off('error', onError);
                  resolve(v);
                }
                socket.on('error', onError);
                socket.emit(c.event, ...c.args);
              });
              stats.set(`${String(p?.code ?? 'no answer')} (unknown event, error event)`, (stats.get(`${String(p?.code ?? 'no answer')} (unknown event, error event)`) ?? 0) + 1);
              if (!p) note(`no error event for an unknown event within ${ACK_TIMEOUT_MS} ms`, undefined);
              else for (const x of errorProblems({ code: p.code, message: p.message }, c.sent)) note(x, p);
            }
            continue;
          }
          const spec = EVENTS[c.known];
          const judge = (res: any, viaReply: boolean) => {
            const tag = viaReply ? 'ok (reply event)' : res?.ok === true ? 'ok' : String(res?.error?.code);
            stats.set(tag, (stats.get(tag) ?? 0) + 1);
            if (viaReply) {
              if (!c.valid) note('an invalid payload was answered with the success reply', res);
              else if (spec.write) note('a write was accepted', res);
              else {
                const bad = spec.shape(res, world, wk.role, c.payload);
                if (bad) note(bad, res);
              }
              return;
            }
            if (!isPlainObject(res)) return note('answer is not an object', res);
            if (res.ok === true) {
              if (!c.valid) return note('ok:true for a payload the contract refuses', res);
              if (!isPlainObject(res.data)) return note('ok:true without data', res);
              const bad = spec.shape(res.data, world, wk.role, c.payload);
              if (bad) note(bad, res);
            } else if (res.ok === false) {
              for (const p of errorProblems(res.error, c.sent)) note(p, res);
              // Validation comes first at the edge: a payload the contract refuses is a VALIDATION_ERROR.
              const code = (res.error as { code?: unknown } | undefined)?.code;
              if (!c.valid && code !== 'VALIDATION_ERROR') note(`an invalid payload got ${String(code)}, not VALIDATION_ERROR`, res);
            } else note('answer has no boolean ok', res);
          };
          if (c.withAck) {
            try {
              judge(await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(c.event, ...c.args), false);
            } catch (err) {
              note(`no ack within ${ACK_TIMEOUT_MS} ms`, String(err));
            }
          } else {
            const outcome = await new Promise<{ via: 'error' | 'reply'; payload: any } | undefined>((resolve) => {
              const timer = setTimeout(() => done(undefined), ACK_TIMEOUT_MS);
              const onError = (p: any) => p?.event === c.event && done({ via: 'error', payload: p });
              const onReply = (p: any) => done({ via: 'reply', payload: p });
              function done(v: { via: 'error' | 'reply'; payload: any } | undefined) {
                clearTimeout(timer);
                socket.off('error', onError);
                if (spec.reply) socket.off(spec.reply, onReply);
                resolve(v);
              }
              socket.on('error', onError);
              if (spec.reply) socket.on(spec.reply, onReply);
              socket.emit(c.event, ...c.args);
            });
            if (!outcome) note(`neither an error event nor ${spec.reply} within ${ACK_TIMEOUT_MS} ms`, undefined);
            else if (outcome.via === 'reply') judge(outcome.payload, true);
            else {
              const p = outcome.payload;
              stats.set(`${String(p?.code)} (error event)`, (stats.get(`${String(p?.code)} (error event)`) ?? 0) + 1);
              if (typeof p?.message !== 'string' || typeof p?.code !== 'string') note('error event is not { message, code, event }', p);
              for (const x of errorProblems({ code: p?.code, message: p?.message }, c.sent)) note(x, p);
              if (!c.valid && p?.code !== 'VALIDATION_ERROR') note(`an invalid payload got ${String(p?.code)}, not VALIDATION_ERROR`, p);
            }
          }
        }
        // The socket still answers after its share of hostile cases.
        const last = await call(socket, 'get_parking_availability', { parking_lot_id: world.lotId });
        if (last?.ok !== true) problems.push({ where: wk.role, what: 'socket no longer answers a valid request', input: '', answer: clip(last) });
      }),
    );
    totalCases += plan.length;
    console.log(`      socket outcomes: ${JSON.stringify(Object.fromEntries([...stats].sort((a, b) => b[1] - a[1])))}`);
    closeAll();
    await assertAlive();
    for (const e of [...Object.keys(EVENTS), 'unknown']) assert.ok(seenEvents.has(e), `the generator never produced ${e}`);
    report('socket fuzz', problems, plan.length, seed);
  });

  it(`answers ${HTTP_CASES} hostile HTTP requests on every route with a JSON 4xx (or a valid read's 2xx), never 5xx`, async () => {
    const r = rngFor(seed, 'http');
    const cases = Array.from({ length: HTTP_CASES }, (_, i) => httpCase(r, world, i));
    const labels = new Set(cases.map((c) => c.label));
    assert.ok(labels.size >= 16, `only ${labels.size} routes generated`);
    const problems: Problem[] = [];
    const stats = new Map<string, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < cases.length) {
          const c = cases[next++]!;
          const res = await send(server.url, c);
          const where = c.label;
          const shown = { ...c.headers };
          if (shown.authorization) shown.authorization = shown.authorization.replace(world.userToken, '<user token>').replace(world.adminToken, '<admin token>').slice(0, 60);
          const input = `#${c.idx} ${c.method} ${clip(c.path, 150)} headers=${clip(shown, 250)} body=${clip(c.body, 150)}`;
          if ('failed' in res) {
            problems.push({ where, what: `no answer within ${HTTP_TIMEOUT_MS} ms (${res.failed})`, input, answer: '' });
            continue;
          }
          stats.set(String(res.status), (stats.get(String(res.status)) ?? 0) + 1);
          for (const what of httpProblems(c, res)) problems.push({ where, what: `${what}${res.status >= 500 ? httpHint(c) : ''}`, input, answer: `${res.status} ${clip(res.text)}` });
        }
      }),
    );
    totalCases += cases.length;
    console.log(`      HTTP statuses: ${JSON.stringify(Object.fromEntries([...stats].sort((a, b) => b[1] - a[1])))} over ${labels.size} routes`);
    await assertAlive();
    report('HTTP fuzz', problems, cases.length, seed);
  });

  it('survives malformed Socket.IO and Engine.IO packets: the server drops the offender or ignores the packet, and keeps serving', async () => {
    // Socket.IO packets as the wire carries them inside an Engine.IO message (the leading "4" is added by the client).
    const packets = [
      '2["connect"]', '2["disconnect","x"]', '2["connect_error",{}]', '2[', '2"abc"', '2[1,2]', '2[null]', '2[{}]', '2["__proto__"]',
      '21["constructor"]', '21["hasOwnProperty",{}]', '2["error",{}]', '21["subscribe"]', '299999999999999999999["subscribe",{}]',
      '5-["subscribe",{"_placeholder":true,"num":0}]', '51-["subscribe",{"_placeholder":true,"num":99}]', '3["x"]', '31[{"ok":true}]',
      '1', '0/nope,', '0/admin,{"token":1}', '4', '6', '9["x"]', '', '2' + JSON.stringify(['subscribe', nest(3000, true)]),
      `2["subscribe",{"room":"${'\\u0000'.repeat(100)}"}]`, '2["subscribe",{"room":"\\ud800"}]', `21["create_booking",{"__proto__":{"parking_lot_id":"${world.lotId}","duration_minutes":5}}]`,
    ];
    const engineFrames = ['x', '9', '', '4', '2probe', '3', '5', '6', '1', 'b4AAAA', '\u0000'];
    const problems: Problem[] = [];
    const outcomes = new Map<string, number>();
    let n = 0;
    for (const [kind, frame] of [...packets.map((p) => ['socket.io', p] as const), ...engineFrames.map((f) => ['engine.io', f] as const)]) {
      n++;
      const { socket } = await connect(server.url, world.userToken);
      const gone = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(`disconnected: ${reason}`)));
      const engine = socket.io.engine as unknown as { write(msg: string): void; transport: { ws?: { send(d: string): void } } };
      if (kind === 'socket.io') engine.write(frame);
      else engine.transport.ws?.send(frame);
      // Either the server dropped this client, or the client still gets answers. (A namespace
      // DISCONNECT packet, "1", is the client leaving: the server forgets the socket without a word.)
      const id = socket.id!;
      const outcome = await Promise.race([
        gone,
        socket.timeout(2000).emitWithAck('get_parking_availability', { parking_lot_id: world.lotId }).then(
          (res: any) => (res?.ok === true ? 'answered' : `bad answer ${clip(res)}`),
          (err: unknown) => (server.app.io.of('/').sockets.has(id) ? `no answer: ${String(err)}` : 'dropped by the server'),
        ),
      ]);
      outcomes.set(outcome.split(':')[0]!, (outcomes.get(outcome.split(':')[0]!) ?? 0) + 1);
      if (!outcome.startsWith('disconnected') && outcome !== 'answered' && outcome !== 'dropped by the server') problems.push({ where: kind, what: outcome, input: clip(frame), answer: '' });
      socket.close();
    }
    totalCases += n;
    console.log(`      packet outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    await assertAlive();
    report('packet fuzz', problems, n, seed);
  });

  it('disconnects a client whose message exceeds maxHttpBufferSize (64 kB), keeps serving, and lets it reconnect', async () => {
    const oversized: [string, unknown[]][] = [
      ['subscribe', [{ room: 'A'.repeat(70_000) }]],
      ['create_booking', [{ parking_lot_id: world.lotId, vehicle_plate: 'B'.repeat(1_000_000), duration_minutes: 5 }]],
      ['get_parking_availability', [Buffer.alloc(100_000, 7)]],
      ['no_such_event', ['C'.repeat(80_000)]],
      ['send_announcement', [Array.from({ length: 7000 }, () => 'ten chars!')]],
      ['set_parking_availability', [{ parking_lot_id: world.lotId, reason: '😀'.repeat(20_000), available_spaces: 0 }]],
    ];
    for (const [event, args] of oversized) {
      const { socket } = await connect(server.url, world.adminToken);
      const gone = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
      const answered = socket.timeout(10_000).emitWithAck(event, ...args).then(
        (res: unknown) => `answered ${clip(res)}`,
        () => 'no answer',
      );
      const reason = await Promise.race([gone, answered.then((a) => (a === 'no answer' ? gone : a))]);
      assert.ok(['transport close', 'transport error'].includes(reason), `${event} with ${approxBytes(args)} bytes: ${reason}`);
      const again = await connect(server.url, world.adminToken);
      const res = await call(again.socket, 'get_parking_availability', { parking_lot_id: world.lotId });
      assert.equal(res.ok, true, JSON.stringify(res));
      again.socket.close();
    }
    totalCases += oversized.length;
    await assertAlive();
  });

  it(`refuses ${HANDSHAKE_CASES} hostile handshakes (tokens, claims, headers, resume maps) with a clean connect_error or a sane connection`, async () => {
    const r = rngFor(seed, 'handshake');
    const problems: Problem[] = [];
    const now = Math.floor(Date.now() / 1000);
    const TOKEN_CODES = ['TOKEN_MISSING', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_NOT_YET_VALID', 'TOKEN_CLAIMS_INVALID'];
    for (let i = 0; i < HANDSHAKE_CASES; i++) {
      const sub = r.chance(0.7) ? r.uuid() : hostileString(r, world).slice(0, 500);
      const claims: Record<string, unknown> = { sub, role: 'authenticated', exp: now + 3600, app_metadata: { role: 'user' } };
      const k = r.int(0, 11);
      if (k === 0) claims.app_metadata = r.pick([{ role: 'ADMIN' }, { role: ['admin'] }, { role: 'admin ' }, { role: { $eq: 'admin' } }, 'admin', null, polluted()]);
      if (k === 1) claims.user_metadata = { role: 'admin' };
      if (k === 2) claims.role = r.pick(['service_role', 'postgres', 'supabase_admin', "authenticated'; reset role; --"]);
      if (k === 3) claims.exp = r.pick([now - 3600, `${now + 3600}`, null, -1, now + 0.5, [now + 3600], { n: 1 }]);
      if (k === 4) claims.nbf = r.pick([now + 3600, 'soon', -1]);
      if (k === 5) claims.iat = hostileValue(r, world);
      if (k === 6) claims.email = hostileValue(r, world);
      if (k === 7) claims.pad = 'P'.repeat(r.int(100, 5000));
      if (k === 8) delete claims.sub;
      if (k === 9) delete claims.exp;
      const header = r.pick([{ alg: 'HS256', typ: 'JWT' }, { alg: 'HS256', typ: 'JWT' }, { alg: 'none' }, { alg: 'HS512' }, { alg: 'RS256' }, { alg: 'HS256', kid: "../../etc/passwd'" }]);
      const [token, validToken] = r.pick<() => [unknown, boolean]>([
        () => [craftJwt(header, claims), header.alg === 'HS256'],
        () => [craftJwt(header, claims), header.alg === 'HS256'],
        () => [craftJwt({ alg: 'HS256', typ: 'JWT' }, claims, 'some-other-secret-that-is-long-enough-xx'), false],
        () => [`${craftJwt({ alg: 'none' }, claims).split('.').slice(0, 2).join('.')}.`, false],
        () => [hostileValue(r, world), false],
      ])();
      const auth: Record<string, unknown> = r.chance(0.9) ? { token } : {};
      const useHeader = r.chance(0.1);
      // A valid token and a hostile resume map: the connection stands, the map is refused or resumed cleanly.
      const resume = r.chance(0.3);
      if (resume) {
        auth.token = world.userToken;
        auth.last_seq = r.pick([
          () => hostileValue(r, world),
          () => ({ [`parking_lot:${world.lotId}`]: r.pick([0, -1, 1.5, 2 ** 60, '3']) }),
          () => ({ admin: 0, [`user:${world.otherUserId}`]: 0, [`user:${world.userId}`]: 0, [r.pick(WEIRD)]: 0 }),
          () => Object.fromEntries(Array.from({ length: r.int(1, 150) }, (_, j) => [`parking_lot:${j % 3 === 0 ? world.lotId : r.uuid()}`, j])),
        ])();
      }
      const sent = `${safeJson(wire(auth))} ${safeJson(claims)}`.toLowerCase();
      const where = resume ? 'handshake with resume map' : useHeader ? 'handshake via Authorization header' : 'handshake';
      const note = (what: string, answer: unknown) => problems.push({ where, what, input: `#${i} ${clip(auth)}`, answer: clip(answer) });
      const socket = io(server.url, {
        auth: useHeader && !resume ? {} : (wire(auth) as Record<string, unknown>),
        // A header is text: a hostile object (whose own toString may be hostile too) travels as its JSON.
        ...(useHeader && !resume ? { extraHeaders: { authorization: headerSafe(`Bearer ${typeof token === 'string' ? token : safeJson(token)}`) } } : {}),
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      const resumeOutcome = new Promise<any>((resolve) => {
        socket.once('resumed', (p) => resolve({ resumed: p }));
        socket.on('error', (p) => p?.event === 'resume' && resolve({ error: p }));
      });
      const outcome = await new Promise<any>((resolve) => {
        const timer = setTimeout(() => resolve({ timeout: true }), 8000);
        socket.once('connected', (p) => (clearTimeout(timer), resolve({ connected: p })));
        socket.once('connect_error', (e: Error & { data?: any }) => (clearTimeout(timer), resolve({ refused: { message: e.message, data: e.data } })));
      });
      if (outcome.timeout) note('neither connected nor connect_error within 8 s', outcome);
      else if (outcome.refused) {
        const { message, data } = outcome.refused;
        if (resume) note('a valid token with a resume map was refused', outcome.refused);
        if (message !== 'Authentication error') note(`connect_error message "${message}"`, outcome.refused);
        if (!TOKEN_CODES.includes(data?.code)) note(`connect_error data.code ${data?.code}`, outcome.refused);
        for (const p of errorProblems({ code: data?.code, message: data?.message }, sent)) note(p, outcome.refused);
      } else {
        const user = outcome.connected.user;
        // The hostile-value generator may hand over one of the world's own valid tokens.
        const sentToken = useHeader && !resume ? token : auth.token;
        const own = sentToken === world.adminToken ? { id: world.adminId, role: 'admin' } : sentToken === world.userToken ? { id: world.userId, role: 'user' } : undefined;
        const expected = own ?? { id: String(claims.sub).toLowerCase(), role: 'user' };
        if (!own && !validToken) note('connected with a token that is not validly signed', outcome.connected);
        if (user?.id !== expected.id) note(`connected as ${user?.id}, not the token's sub`, outcome.connected);
        if (user?.role !== expected.role) note(`connected with role ${user?.role} (only app_metadata.role === "admin" makes an admin)`, outcome.connected);
        if (resume && wire(auth.last_seq) !== undefined) {
          const got = await Promise.race([resumeOutcome, new Promise((res) => setTimeout(() => res({ timeout: true }), 8000))]);
          const g = got as any;
          if (g.timeout) note('no resumed or error event for the resume map', auth.last_seq);
          else if (g.error) for (const p of errorProblems(g.error, sent)) note(p, g.error);
          else {
            for (const f of g.resumed.failed ?? []) for (const p of errorProblems(f, sent)) note(p, f);
            for (const room of (g.resumed.rooms ?? []).map((x: any) => x.room)) {
              if (room === 'admin' || (String(room).startsWith('user:') && room !== `user:${world.userId}`)) note(`resume joined ${room}`, g.resumed);
            }
          }
        }
        const res = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('get_booking_status', { booking_id: world.otherBookingId }).catch((e: unknown) => ({ noAnswer: String(e) }));
        // Isolation: never another user's booking. (A token whose claims Postgres cannot store, e.g. a
        // lone surrogate or NUL in a claim, gets VALIDATION_ERROR on every query: refused, not leaked.)
        // A token that ran out meanwhile (exp = now + 0.5 s) may take the socket, and the answer, with it.
        const expiredSince = typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now();
        // Who owns the booking is known: the token's sub may be its owner (the hostile generator can
        // hand over the world's own ids), and then reading it is right, not a leak.
        const readOwn = res?.ok === true && res.data?.booking?.user_id === expected.id && expected.id === world.otherUserId;
        if (expected.role === 'user' && res?.ok === true && !readOwn) note("a user read another user's booking", res);
        else if (expected.role === 'user' && res?.ok === undefined && !expiredSince) note('no answer to get_booking_status from a live token', res);
        else if (expected.role === 'user' && res?.ok === false) for (const p of errorProblems(res.error, sent)) note(p, res);
      }
      socket.close();
    }
    totalCases += HANDSHAKE_CASES;
    await assertAlive();
    report('handshake fuzz', problems, HANDSHAKE_CASES, seed);
  });

  it('changed no row in any table of schema public, and polluted no prototype', async () => {
    await assertAlive();
    const after_ = await tableCounts();
    const diff = Object.keys({ ...before_, ...after_ })
      .filter((t) => before_[t] !== after_[t])
      .map((t) => `${t}: ${before_[t]} → ${after_[t]}`);
    assert.deepEqual(diff, [], `row counts changed (FUZZ_SEED=${seed}): ${diff.join(', ')}`);
    assert.ok(Object.keys(before_).length >= 10, `only ${Object.keys(before_).length} tables counted`);
    // The server runs in this process: a polluted Object.prototype would show here.
    const probe = {} as Record<string, unknown>;
    assert.equal(probe.polluted, undefined);
    assert.equal(probe.isAdmin, undefined);
    assert.equal(probe.role, undefined);
    // The fixtures are as they were: the real booking is still pending, the lot unchanged.
    const res = await request(server, 'GET', `/bookings/${world.bookingId}`, { token: world.userToken });
    assert.equal(res.body.data.booking.status, 'pending');
    const lot = await request(server, 'GET', `/realtime/parking-availability?parking_lot_id=${world.lotId}`, { token: world.userToken });
    assert.deepEqual(
      { total: lot.body.data.lots[0].total_spaces, oos: lot.body.data.lots[0].out_of_service, occupied: lot.body.data.lots[0].occupied_unbooked, open: lot.body.data.lots[0].is_open },
      { total: 50, oos: 0, occupied: 0, open: true },
    );
  });

  // ---- findings of this suite, each pinned down on its own ----

  it('answers an unknown event name with an error (ack or error event) instead of ignoring it', async () => {
    const { socket } = await connect(server.url, world.userToken);
    const ack = await socket
      .timeout(3000)
      .emitWithAck('create_bookings', { parking_lot_id: world.lotId })
      .catch(() => 'no answer within 3 s');
    assert.ok(isPlainObject(ack) && ack.ok === false && typeof (ack.error as any)?.code === 'string', `ack: ${clip(ack)}`);
    const event = new Promise((resolve) => {
      socket.on('error', (p) => p?.event === 'subscribe_all' && resolve(p));
      setTimeout(() => resolve('no error event within 3 s'), 3000);
    });
    socket.emit('subscribe_all', {});
    const p = await event;
    assert.ok(isPlainObject(p) && typeof p.code === 'string', `error event: ${clip(p)}`);
  });

  it('answers malformed percent-encoding in a route parameter with 400, not 500', async () => {
    const wrong: string[] = [];
    for (const path of ['/bookings/%E0%A4%A', '/bookings/%/cancel', '/notifications/%ZZ/read', '/realtime/parking-lots/%C0%AF/availability']) {
      const method = path.endsWith('/cancel') || path.endsWith('/read') ? 'POST' : path.endsWith('/availability') ? 'PUT' : 'GET';
      const res = await request(server, method, path, { token: world.adminToken, ...(method === 'GET' ? {} : { body: {} }) });
      if (res.status !== 400 || res.body?.error?.code !== 'VALIDATION_ERROR') wrong.push(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    }
    assert.deepEqual(wrong, [], 'expected 400 VALIDATION_ERROR');
  });

  it('answers a corrupt compressed body with 400, not 500', async () => {
    const wrong: string[] = [];
    for (const [path, headers, encoding] of [
      ['/bookings', { authorization: `Bearer ${world.userToken}` }, 'gzip'],
      ['/bookings', { authorization: `Bearer ${world.userToken}` }, 'deflate'],
      ['/bookings', { authorization: `Bearer ${world.userToken}` }, 'br'],
      ['/payments/webhook', {}, 'gzip'],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-encoding': encoding },
        body: 'this is not compressed',
      });
      const body = (await res.json()) as { ok?: unknown };
      if (res.status !== 400 || body.ok !== false) wrong.push(`${path} (${encoding}) → ${res.status} ${JSON.stringify(body)}`);
    }
    assert.deepEqual(wrong, [], 'expected 400');
  });

  it('refuses NUL characters in text fields (Postgres cannot store them) with VALIDATION_ERROR, not INTERNAL_ERROR, and stores nothing', async () => {
    const lot = await createLot(server.db, { total: 5 });
    const { socket: user } = await connect(server.url, world.userToken);
    const { socket: admin } = await connect(server.url, world.adminToken);
    const answers: [string, unknown][] = [
      ['socket create_booking vehicle_plate', await call(user, 'create_booking', { parking_lot_id: lot, duration_minutes: 30, vehicle_plate: 'AB\u00001' })],
      ['socket send_announcement message', await call(admin, 'send_announcement', { message: 'Gate B\u0000 closed' })],
      ['socket set_parking_availability reason', await call(admin, 'set_parking_availability', { parking_lot_id: lot, available_spaces: 3, reason: 'count\u0000' })],
    ];
    const wrong: string[] = [];
    for (const [what, res] of answers) if ((res as any)?.error?.code !== 'VALIDATION_ERROR') wrong.push(`${what}: ${JSON.stringify(res)}`);
    const body = JSON.stringify({ id: 'evt\u0000x', type: 'payment.succeeded', data: { booking_id: randomUUID(), payment_id: 'p1', amount_cents: 5 } });
    const rest = [
      ['POST /bookings idempotency_key', await request(server, 'POST', '/bookings', { token: world.userToken, body: { parking_lot_id: lot, duration_minutes: 30, idempotency_key: 'k\u0000' } })],
      ['PUT availability reason', await request(server, 'PUT', `/realtime/parking-lots/${lot}/availability`, { token: world.adminToken, body: { available_spaces: 3, reason: 'count\u0000' } })],
      ['signed webhook event id', await request(server, 'POST', '/payments/webhook', { rawBody: body, headers: { [SIGNATURE_HEADER]: signPayload(TEST_WEBHOOK_SECRET, body) } })],
    ] as const;
    for (const [what, res] of rest) if (res.status !== 400) wrong.push(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.deepEqual(wrong, [], 'expected VALIDATION_ERROR / 400');
    const { rows } = await server.db.asSystem((tx) =>
      tx.query<{ b: number; a: number }>(
        'select (select count(*)::int from public.bookings where parking_lot_id = $1) as b, (select count(*)::int from public.admin_audit_log where target_id = $1::text) as a',
        [lot],
      ),
    );
    assert.deepEqual(rows[0], { b: 0, a: 0 });
  });

  it('answers a user whose token carries a NUL in user_metadata (which Supabase users edit themselves) with a 4xx, not 500', async () => {
    const wrong: string[] = [];
    for (const nickname of ['a\u0000b', 'x\ud800y']) {
      const token = craftJwt(
        { alg: 'HS256', typ: 'JWT' },
        { sub: newUserId(), role: 'authenticated', exp: Math.floor(Date.now() / 1000) + 3600, app_metadata: { role: 'user' }, user_metadata: { nickname } },
      );
      const res = await request(server, 'GET', '/bookings', { token });
      if (res.status >= 500 || res.body?.ok === undefined) wrong.push(`GET /bookings with nickname ${JSON.stringify(nickname)} → ${res.status} ${JSON.stringify(res.body)}`);
      const { socket } = await connect(server.url, token);
      const ack = await call(socket, 'get_booking_status', { booking_id: world.bookingId });
      if (ack?.ok !== false || ack.error?.code === 'INTERNAL_ERROR') wrong.push(`get_booking_status with nickname ${JSON.stringify(nickname)} → ${JSON.stringify(ack)}`);
      socket.close();
    }
    assert.deepEqual(wrong, []);
  });

  it('handles a validly signed token whose exp is beyond the Date range without an uncaught exception', async () => {
    // An uncaught exception would end a real server process; here it is caught and reported (and
    // mocha's own handler is put back), so it cannot surface in a later test.
    const uncaught: unknown[] = [];
    const saved = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const catcher = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', catcher);
    const outcomes: string[] = [];
    try {
      for (const exp of [1e13, 1e300]) {
        const token = craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub: newUserId(), role: 'authenticated', exp, app_metadata: { role: 'user' } });
        const outcome = await connect(server.url, token, { timeoutMs: 3000 }).then(
          ({ connected }) => `exp ${exp}: connected, token_expires_at ${connected.token_expires_at}`,
          (err: Error & { data?: any }) => `exp ${exp}: ${err.data?.code ?? err.message}`,
        );
        outcomes.push(outcome);
      }
    } finally {
      process.removeListener('uncaughtException', catcher);
      for (const l of saved) process.on('uncaughtException', l as (err: Error) => void);
    }
    const crashes = uncaught.map((e) => (e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 3).join(' / ') : String(e)));
    assert.deepEqual(crashes, [], `uncaught exceptions in the server (outcomes: ${outcomes.join('; ')})`);
    for (const o of outcomes) assert.match(o, /TOKEN_CLAIMS_INVALID|token_expires_at \d{4}-/, o);
    await assertAlive();
  });
});
