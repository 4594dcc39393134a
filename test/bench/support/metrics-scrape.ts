// Reads gauges from a service process's Prometheus /metrics, all from one scrape (some metrics, like prom-client's
// event loop delay, are reset by every scrape).

/** The values of unlabelled metrics `names` at one scrape of http://127.0.0.1:`httpPort`/metrics; throws on a missing one. */
export async function scrapeGauges<N extends string>(httpPort: number, names: readonly N[]): Promise<Record<N, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const values = {} as Record<N, number>;
  for (const name of names) {
    const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    if (!match) throw new Error(`no ${name} in /metrics`);
    values[name] = Number(match[1]);
  }
  return values;
}
