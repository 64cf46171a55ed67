import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';

export type { Logger };

/** Paths that may carry credentials; pino replaces them before a line is written. */
const redact = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'auth.token',
  '*.auth.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
];

export function createLogger(config: Pick<Config, 'log' | 'nodeId'>): Logger {
  return pino({
    level: config.log.level,
    base: { node: config.nodeId },
    redact: { paths: redact, censor: '[redacted]' },
    ...(config.log.pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  });
}
