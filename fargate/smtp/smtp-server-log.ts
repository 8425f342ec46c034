/**
 * smtp-server's bunyan-style log calls, routed into our JSON logger, and the one place every command
 * passes through: smtp-server has no per-command hook (only MAIL, RCPT, AUTH and DATA have handlers),
 * but it logs each command line it dispatches (`tnx: 'command'`, with the connection id) before running
 * it, so the command limit counts there. Its own info lines are connection chatter: they go out at debug.
 */
import type { Logger } from '../../shared/log/logger.ts';

type BunyanArguments = [fields?: unknown, ...rest: unknown[]];

export interface SmtpServerLogger {
  trace(...args: BunyanArguments): void;
  debug(...args: BunyanArguments): void;
  info(...args: BunyanArguments): void;
  warn(...args: BunyanArguments): void;
  error(...args: BunyanArguments): void;
  fatal(...args: BunyanArguments): void;
}

export function smtpServerLogger(logger: Logger, onCommand: (connectionId: string) => void): SmtpServerLogger {
  const write = (level: 'debug' | 'warn' | 'error', args: BunyanArguments) => {
    const [fields, message] = args;
    const entry = typeof fields === 'object' && fields !== null ? (fields as Record<string, unknown>) : {};
    if (entry.tnx === 'command' && typeof entry.cid === 'string') onCommand(entry.cid);
    const { tnx, cid, err, ...rest } = entry;
    // Command lines are logged by smtp-server with credentials already redacted; payloads are not logged.
    logger[level](typeof message === 'string' ? `smtp-server: ${message}` : 'smtp-server', {
      event: tnx,
      connection: cid,
      ...(err ? { error: err } : {}),
      ...rest,
    });
  };
  return {
    trace: (...args) => write('debug', args),
    debug: (...args) => write('debug', args),
    info: (...args) => write('debug', args),
    warn: (...args) => write('warn', args),
    error: (...args) => write('warn', args),
    fatal: (...args) => write('error', args),
  };
}
