import {
  adminWaitlistQuerySchema,
  joinWaitlistSchema,
  listWaitlistEventSchema,
  setWaitlistPrioritySchema,
  waitlistEntryRefSchema,
} from '../../contract/index.js';
import { handler, type SocketFeature } from '../../platform/socket/handle.js';
import type { WaitlistService } from './service.js';

/** Waitlist events: the same service as the REST routes. Admin checks are the SQL functions'. */
export function waitlistSocket(waitlist: WaitlistService): SocketFeature {
  return {
    events: [
      handler('join_waitlist', joinWaitlistSchema, (socket, input) => waitlist.join(socket.data.principal, input)),
      handler('leave_waitlist', waitlistEntryRefSchema, async (socket, { entry_id }) => ({ entry: await waitlist.leave(socket.data.principal, entry_id) })),
      handler('list_waitlist', listWaitlistEventSchema, async (socket, opts) => ({ entries: await waitlist.list(socket.data.principal, opts) })),
      handler('get_admin_waitlist', adminWaitlistQuerySchema, async (socket, { parking_lot_id }) => ({
        entries: await waitlist.queue(socket.data.principal, parking_lot_id),
      })),
      handler('set_waitlist_priority', setWaitlistPrioritySchema, async (socket, { entry_id, priority }) => ({
        entry: await waitlist.setPriority(socket.data.principal, entry_id, priority),
      })),
    ],
  };
}
