import type { UserCalls } from '../../platform/data/calls.js';
import { notificationRoutes } from './routes.js';
import { createNotificationService } from './service.js';

/** Notifications: stored per user, delivered live on the user's stream by the SQL that creates them, listed and marked read here. */
export function createNotificationsFeature(deps: { calls: UserCalls }) {
  const notifications = createNotificationService(deps);
  return { service: notifications, routes: notificationRoutes({ notifications }) };
}
