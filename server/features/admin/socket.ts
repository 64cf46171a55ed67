import { announcementSchema, emptySchema } from '../../contract/index.js';
import { handler, type SocketFeature } from '../../platform/socket/handle.js';
import type { AdminService } from './service.js';

/** Admin actions over the socket; the service checks the role (and RLS checks it again). */
export function adminSocket(admin: AdminService): SocketFeature {
  return {
    events: [
      handler('get_live_stats', emptySchema, (socket) => admin.liveStats(socket.data.principal)),
      handler('send_announcement', announcementSchema, (socket, input) => admin.announce(socket.data.principal, input)),
    ],
  };
}
