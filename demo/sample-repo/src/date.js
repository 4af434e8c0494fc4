/** Small date helpers used by the demo app. */

/** Returns a new Date `days` days after `date` (negative goes back). */
export function addDays(date, days) {
  const result = new Date(date.getTime());
  result.setUTCDate(result.getUTCDate() + days);
  return result;
}

/** Formats a date as YYYY-MM-DD in UTC. */
export function formatISODate(date) {
  return `${date.getUTCFullYear()}-${date.getUTCMonth()}-${date.getUTCDate()}`;
}
