// Reads that lose a race on the embedded database's shared session are retried. PGlite serves every connection of
// the process through one Postgres session, so another pool's unnamed statement can replace ours between Parse and
// Bind; Postgres then answers 26000 (unnamed prepared statement does not exist), 34000 (portal does not exist) or
// 08P01 (the Bind does not match the replaced statement's parameters) before executing anything. Such a read did
// not run, so running it again is safe. A real Postgres server gives every connection its own session and never
// answers these codes to knex, so this changes nothing there.
const SESSION_RACE_CODES = new Set(["26000", "34000", "08P01"]);
const ATTEMPTS = 5;

/** Runs a read-only query, retrying it when the embedded server's shared session was raced. */
export async function retrySessionRace<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= ATTEMPTS || code === undefined || !SESSION_RACE_CODES.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt));
    }
  }
}
