/**
 * The wire contract: event names with their payload and reply types, input schemas, room names,
 * error codes and lifecycle statuses. It imports nothing from the server (zod only), so a
 * frontend and the client package can use it as it is.
 */
export * from './errors.js';
export * from './events.js';
export * from './payloads.js';
export * from './rooms.js';
export * from './schemas.js';
export * from './statuses.js';
export * from './history.js';
export * from './waitlist.js';
export * from './waitlist-schemas.js';
