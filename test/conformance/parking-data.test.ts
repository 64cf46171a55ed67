/**
 * The reference document's hook keeps `parkingData` and, on `parking_updated`, changes the lot
 * whose `lot.id === data.parking_lot_id`. The document never fills `parkingData`; a frontend that
 * fills it from `GET /realtime/parking-availability` (or `parking_availability`) must find an `id`
 * on each lot for that updater to find it. Here the updater is taken out of the document as
 * written and applied to what a real server sends.
 */
import assert from 'node:assert/strict';
import { call, closeAll, connect, newUserId, nextEvent } from '../helpers/clients.js';
import { createLot } from '../helpers/fixtures.js';
import { useTestServer, type TestServer } from '../helpers/server.js';
import { block } from './document.js';
import { request } from '../helpers/http.js';

interface Lot {
  id: string;
  parking_lot_id: string;
  available_spaces: number;
  [field: string]: unknown;
}
type Updater = (data: unknown) => (prev: Lot[]) => Lot[];

/** The argument of the hook's `setParkingData(…)` in its `parking_updated` listener, as a function of `data`. */
function hookUpdater(): Updater {
  const code = block('React Hook Example').code;
  const start = code.indexOf('setParkingData(', code.indexOf("'parking_updated'")) + 'setParkingData('.length;
  assert.ok(start > 'setParkingData('.length, "the hook's parking_updated listener calls setParkingData");
  let depth = 1;
  let end = start;
  while (depth > 0 && end < code.length) {
    const ch = code[end++];
    if (ch === '(') depth++;
    if (ch === ')') depth--;
  }
  const argument = code.slice(start, end - 1);
  assert.match(argument, /lot\.id === data\.parking_lot_id/, 'the updater matches lots by lot.id');
  return new Function('data', `return (${argument});`) as Updater;
}

describe("reference document: the hook's parkingData, filled from the availability route, follows parking_updated", () => {
  const server = useTestServer();

  it('every lot shape carries id = parking_lot_id, and the hook updates exactly the lot that changed', async () => {
    const [changed, other] = [await createLot(server().db, { total: 12 }), await createLot(server().db, { total: 7 })];
    const userToken = server().token(newUserId());
    const adminToken = server().token(newUserId(), 'admin');

    // The frontend fills parkingData from the route, as the document's app would have to.
    const res = await request(server(), 'GET', '/realtime/parking-availability', { token: userToken });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    let parkingData: Lot[] = res.body.data.lots;
    for (const lot of parkingData) assert.equal(lot.id, lot.parking_lot_id, 'GET /realtime/parking-availability');
    const before = parkingData.find((l) => l.parking_lot_id === changed);
    assert.equal(before?.available_spaces, 12);

    const { socket } = await connect(server().url, userToken);
    const reply = await call(socket, 'get_parking_availability', { parking_lot_id: null });
    assert.equal(reply.ok, true, JSON.stringify(reply));
    for (const lot of reply.data.lots as Lot[]) assert.equal(lot.id, lot.parking_lot_id, 'get_parking_availability');
    assert.equal((await call(socket, 'subscribe', { room: 'parking_updates', type: 'general' })).ok, true);

    const updated = nextEvent(socket, 'parking_updated', (p) => p.parking_lot_id === changed);
    const put = await request(server(), 'PUT', `/realtime/parking-lots/${changed}/availability`, { token: adminToken, body: { available_spaces: 5 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const data = await updated;
    assert.equal(data.id, changed, 'parking_updated carries id too');
    assert.equal(data.available_spaces, 5);

    const expected = parkingData.map((lot) => (lot.parking_lot_id === changed ? { ...lot, available_spaces: 5 } : lot));
    parkingData = hookUpdater()(data)(parkingData);
    assert.deepEqual(parkingData, expected);
    assert.equal(parkingData.find((l) => l.parking_lot_id === other)?.available_spaces, 7, 'the other lot is left as it was');
  });
});
