import { pino, type Logger } from 'pino';

export type { Logger };

export interface LogConfig {
  level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Human-readable lines (pino-pretty) instead of JSON. */
  pretty: boolean;
}

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

export function createLogger(config: { log: LogConfig; nodeId: string }): Logger {
  return pino({
    level: config.log.level,
    base: { node: config.nodeId },
    redact: { paths: redact, censor: '[redacted]' },
    ...(config.log.pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  });
}
