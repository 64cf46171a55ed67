import { Router } from 'express';
import { z } from 'zod';
import { principalOf } from '../../platform/auth/http-auth.js';
import type { NotificationService } from './service.js';
import { ok, parse } from '../../platform/http/respond.js';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  unread_only: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
});
const idParams = z.object({ id: z.uuid({ message: 'notification id must be a uuid' }) });

export function createNotificationsRouter(deps: { notifications: NotificationService }): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const { limit, unread_only } = parse(listQuery, req.query);
    ok(res, await deps.notifications.list(principalOf(res), { limit, unreadOnly: unread_only }));
  });

  router.post('/read-all', async (_req, res) => {
    ok(res, { marked: await deps.notifications.markAllRead(principalOf(res)) });
  });

  router.post('/:id/read', async (req, res) => {
    const { id } = parse(idParams, req.params);
    ok(res, { notification: await deps.notifications.markRead(principalOf(res), id) });
  });

  return router;
}
