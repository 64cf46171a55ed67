import { Router } from 'express';
import {
  adminWaitlistQuerySchema,
  joinWaitlistSchema,
  listWaitlistQuerySchema,
  waitlistParamsSchema,
  waitlistPriorityBodySchema,
} from '../../contract/index.js';
import { principalOf, requireAdmin } from '../../platform/http/auth.js';
import { ok, parse } from '../../platform/http/respond.js';
import type { WaitlistService } from './service.js';

/** `/waitlist`: a user's own entries. The same service and rules as the socket events. */
export function waitlistRoutes(waitlist: WaitlistService): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const result = await waitlist.join(principalOf(res), parse(joinWaitlistSchema, req.body));
    ok(res, result, result.replayed ? 200 : 201);
  });

  router.get('/', async (req, res) => {
    const { limit, status } = parse(listWaitlistQuerySchema, req.query);
    ok(res, { entries: await waitlist.list(principalOf(res), { limit, status }) });
  });

  router.delete('/:id', async (req, res) => {
    const { id } = parse(waitlistParamsSchema, req.params);
    ok(res, { entry: await waitlist.leave(principalOf(res), id) });
  });

  return router;
}

/** `/admin/waitlist`: a lot's queue, and priorities (admins only; the SQL checks again). */
export function adminWaitlistRoutes(waitlist: WaitlistService): Router {
  const router = Router();
  router.use(requireAdmin);

  router.get('/', async (req, res) => {
    const { parking_lot_id } = parse(adminWaitlistQuerySchema, req.query);
    ok(res, { entries: await waitlist.queue(principalOf(res), parking_lot_id) });
  });

  router.put('/:id/priority', async (req, res) => {
    const { id } = parse(waitlistParamsSchema, req.params);
    const { priority } = parse(waitlistPriorityBodySchema, req.body);
    ok(res, { entry: await waitlist.setPriority(principalOf(res), id, priority) });
  });

  return router;
}
