/**
 * UTC calendar days as blob keys name them (`msg/<YYYY-MM-DD>/…`, `quarantine/<YYYY-MM-DD>/…`), for the
 * dated sweeps of the expire job.
 */

const DAY_MS = 86_400_000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  return dayOf(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS);
}

export function isDay(text: unknown): text is string {
  return typeof text === 'string' && DAY.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`));
}

export function daysToMs(days: number): number {
  return days * DAY_MS;
}
