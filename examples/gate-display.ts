// Without React: a display at a car park's gate shows the free spaces of its lot, live, and
// survives network drops, node restarts and token expiry by itself.
import { createSpotcastClient, rooms, type LotAvailability } from '@spotcast/client';

const LOT_ID = '3f0c9f5e-6a4b-4c1e-9d2a-7b8e5f1a2c3d';
let token = '<a JWT of the gate device>';

const client = createSpotcastClient({ url: 'http://localhost:5000', getToken: () => token });

function show(lot: LotAvailability): void {
  console.log(lot.is_open ? `${lot.name}: ${lot.available_spaces} free` : `${lot.name}: closed`);
}

client.state.subscribe(() => {
  const { status, error } = client.state.get();
  if (status === 'error') console.error(`cannot connect: ${error?.code} ${error?.message}`);
});
client.lots.subscribe(() => {
  const lot = client.lots.get().get(LOT_ID);
  if (lot) show(lot);
});
// Each announcement once, even when the server sends it again after a reconnect.
client.on('system_announcement', (a) => console.log(`[${a.type}] ${a.message}`));
client.subscribe(rooms.lot(LOT_ID));
client.connect();

/** A new token from the device's provisioning: sent on the open connection. */
export async function rotate(next: string): Promise<void> {
  token = next;
  const res = await client.refreshToken();
  if (!res.ok) console.error(res.error.code, res.error.message);
}

// The event names and payloads are the server's contract: each line below is a compile error.
// @ts-expect-error duration_minutes is a number
void client.request('create_booking', { parking_lot_id: LOT_ID, duration_minutes: '60' });
// @ts-expect-error parking_update is not an event (parking_updated is)
client.on('parking_update', () => undefined);
// @ts-expect-error a lot's availability has no `free` field
client.on('parking_updated', (p) => p.free);
