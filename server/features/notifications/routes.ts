import { Router } from 'express';
import { principalOf } from '../../platform/http/auth.js';
import { listNotificationsQuerySchema, notificationParamsSchema } from '../../contract/index.js';
import type { NotificationService } from './service.js';
import { ok, parse } from '../../platform/http/respond.js';


export function notificationRoutes(deps: { notifications: NotificationService }): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const { limit, unread_only } = parse(listNotificationsQuerySchema, req.query);
    ok(res, await deps.notifications.list(principalOf(res), { limit, unreadOnly: unread_only }));
  });

  router.post('/read-all', async (_req, res) => {
    ok(res, { marked: await deps.notifications.markAllRead(principalOf(res)) });
  });

  router.post('/:id/read', async (req, res) => {
    const { id } = parse(notificationParamsSchema, req.params);
    ok(res, { notification: await deps.notifications.markRead(principalOf(res), id) });
  });

  return router;
}
