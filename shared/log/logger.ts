/**
 * Structured logs: one JSON line per event on stdout, with the fields of the context it was made in
 * (component, connection id, session id, ...). Lambdas use Powertools' logger, which writes the same shape.
 */
import type { LogLevel } from '../config/config.ts';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface LogSink {
  write(line: string): void;
}

export class Logger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly fields: LogFields = {},
    private readonly sink: LogSink = process.stdout,
  ) {}

  /** A logger whose lines also carry these fields. */
  child(fields: LogFields): Logger {
    return new Logger(this.level, { ...this.fields, ...fields }, this.sink);
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  private log(level: LogLevel, message: string, fields?: LogFields): void {
    if (RANK[level] < RANK[this.level]) return;
    const line = { time: new Date().toISOString(), level, message, ...this.fields, ...fields };
    this.sink.write(`${JSON.stringify(line, errorReplacer)}\n`);
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}
