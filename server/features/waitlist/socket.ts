import {
  adminWaitlistQuerySchema,
  joinWaitlistSchema,
  listWaitlistEventSchema,
  setWaitlistPrioritySchema,
  waitlistEntryRefSchema,
} from '../../contract/index.js';
import { on, type SocketFeature } from '../../platform/socket/handle.js';
import type { WaitlistService } from './service.js';

/** Waitlist events: the same service as the REST routes. Admin checks are the SQL functions'. */
export function waitlistSocket(waitlist: WaitlistService): SocketFeature {
  return (socket, ctx) => {
    const caller = () => socket.data.principal;
    on(socket, ctx, 'join_waitlist', joinWaitlistSchema, (input) => waitlist.join(caller(), input));
    on(socket, ctx, 'leave_waitlist', waitlistEntryRefSchema, async ({ entry_id }) => ({ entry: await waitlist.leave(caller(), entry_id) }));
    on(socket, ctx, 'list_waitlist', listWaitlistEventSchema, async (opts) => ({ entries: await waitlist.list(caller(), opts) }));
    on(socket, ctx, 'get_admin_waitlist', adminWaitlistQuerySchema, async ({ parking_lot_id }) => ({
      entries: await waitlist.queue(caller(), parking_lot_id),
    }));
    on(socket, ctx, 'set_waitlist_priority', setWaitlistPrioritySchema, async ({ entry_id, priority }) => ({
      entry: await waitlist.setPriority(caller(), entry_id, priority),
    }));
  };
}
