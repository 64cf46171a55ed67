/**
 * The document's "Troubleshooting" snippets, run as written against a real server: a refused
 * token is a `connect_error` whose message is exactly "Authentication error" (and the snippet's
 * refresh-and-reconnect branch then works), and `{ room: 'parking_updates', type: 'general' }`
 * brings every lot's updates. Also: `type` is only a hint, so it never grants a room.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { mintToken } from '../../server/platform/auth/tokens.js';
import { block, fill } from './document.js';
import { authenticate, closeSnippetSockets, hear, run, type Heard } from './snippets.js';
import { lot, next, setAvailability, startWorld, user, type World } from './world.js';
import { waitUntil } from '../helpers/measure.js';

describe('reference document: the Troubleshooting snippets, against a real server', () => {
  let world: World;
  before(async () => {
    world = await startWorld();
  });
  after(() => world.close());
  afterEach(() => closeSnippetSockets());

  const heardEvent = async (heard: Heard[], event: string, match: (d: any) => boolean = () => true) =>
    (await next(heard, (h) => h.event === event && match(h.data), `${event} on the snippet's socket`)).data;

  describe('Connection Failed', () => {
    const refused: { what: string; token: () => string | undefined; code: string }[] = [
      { what: 'a missing', token: () => undefined, code: 'TOKEN_MISSING' },
      { what: 'a forged', token: () => mintToken({ secret: 'not-the-servers-secret-but-long-enough-0123456789', userId: randomUUID(), appRole: 'user' }), code: 'TOKEN_INVALID' },
      { what: 'an expired', token: () => world.server.token(randomUUID(), 'user', { expiresInSeconds: -60 }), code: 'TOKEN_EXPIRED' },
    ];
    for (const { what, token, code } of refused) {
      it(`${what} token: connect_error "Authentication error"; the snippet's branch refreshes the token and reconnects`, async () => {
        const socket = authenticate(world.server.url, token());
        const heard = hear(socket);
        const errors: (Error & { data?: { code: string } })[] = [];
        const fresh = user(world);
        // The comment in the snippet's branch stands for the app's code: here, that code.
        const snippet = fill(block('Connection Failed').code, { '// Refresh token and reconnect': 'refreshTokenAndReconnect(error);' });
        run(snippet, {
          socket,
          refreshTokenAndReconnect(error: Error & { data?: { code: string } }) {
            errors.push(error);
            (socket.auth as { token?: string }).token = fresh.token;
            socket.connect();
          },
        });
        const hello = await heardEvent(heard, 'connected');
        assert.equal(hello.user.id, fresh.id);
        assert.equal(errors.length, 1);
        assert.equal(errors[0]!.message, 'Authentication error');
        assert.equal(errors[0]!.data?.code, code);
      });
    }
  });

  describe('Missing Updates', () => {
    it("{ room: 'parking_updates', type: 'general' } is subscribed, then every lot's changes arrive", async () => {
      const [lotA, lotB] = [await lot(world), await lot(world)];
      const socket = authenticate(world.server.url, user(world).token);
      const heard = hear(socket);
      run(block('Missing Updates').code, { socket });
      assert.deepEqual(await heardEvent(heard, 'subscribed'), { room: 'parking_updates' });
      await setAvailability(world, lotA, 3);
      await setAvailability(world, lotB, 6);
      assert.equal((await heardEvent(heard, 'parking_updated', (d) => d.parking_lot_id === lotA)).available_spaces, 3);
      assert.equal((await heardEvent(heard, 'parking_updated', (d) => d.parking_lot_id === lotB)).available_spaces, 6);
    });
  });

  describe('type is a hint: the room name decides', () => {
    /** Sends each subscribe as the document's client does (no ack) and collects the answers. */
    async function answers(socket: Socket, heard: Heard[], payloads: unknown[]): Promise<Heard[]> {
      const from = heard.length;
      for (const p of payloads) socket.emit('subscribe', p);
      const replies = () => heard.slice(from).filter((h) => h.event === 'subscribed' || h.event === 'error');
      await waitUntil(() => replies().length >= payloads.length, 5000, `${payloads.length} answers`);
      return replies();
    }

    it('a hint never grants a room: admin and another user\'s room stay refused, whatever type says', async () => {
      const lotId = await lot(world);
      const other = randomUUID();
      const socket = authenticate(world.server.url, user(world).token);
      const heard = hear(socket);
      await heardEvent(heard, 'connected');
      const got = await answers(socket, heard, [
        { room: 'admin', type: 'parking' },
        { room: `user:${other}`, type: 'general' },
        { room: `parking_lot:${lotId}`, type: 'admin' },
        { room: 'parking_updates', type: 'user' },
      ]);
      // Answers come as each is done (a lot room asks the database first): compare them unordered.
      assert.deepEqual(
        got.map((h) => (h.event === 'error' ? `error ${h.data.code}` : `subscribed ${h.data.room}`)).sort(),
        ['error FORBIDDEN', 'error FORBIDDEN', `subscribed parking_lot:${lotId}`, 'subscribed parking_updates'].sort(),
      );
      const rooms = (await world.server.app.io.fetchSockets()).find((s) => s.id === socket.id)!.rooms;
      assert.ok(!rooms.has('admin') && !rooms.has(`user:${other}`));
    });

    it('a room the type cannot make sense of is still refused as VALIDATION_ERROR', async () => {
      const socket = authenticate(world.server.url, user(world).token);
      const heard = hear(socket);
      await heardEvent(heard, 'connected');
      const got = await answers(socket, heard, [{ room: 'parking', type: 'parking' }, { type: 'general' }, { room: 'general:1', type: 'general' }, { type: 7 }]);
      assert.deepEqual(got.map((h) => `${h.event} ${h.data.code}`), Array(4).fill('error VALIDATION_ERROR'));
    });
  });
});
