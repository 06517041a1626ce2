// The peer of wix-secrets in the benchmarks: what a Wix developer writes with the official SDK
// (@wix/sdk + @wix/secrets, pinned in package-lock.json) to check a site against the values it
// should hold. For every site, at the same time: list the secrets, read every value with bounded
// concurrency, compare with the wanted values. Prints one JSON line of counts, never a value.
//
// Usage: node plan_with_sdk.mjs SPEC.json
//   SPEC: {"url": EMULATOR_ORIGIN, "apiKey": KEY, "concurrency": 32,
//          "sites": [{"siteId": ID, "wanted": PATH_OF_A_JSON_OBJECT_NAME_TO_VALUE}, ...]}
// Like tests/sdk, the SDK runs unchanged and only its fetch is pointed at the emulator.
import { readFileSync } from 'node:fs';
import { createClient, ApiKeyStrategy } from '@wix/sdk';
import { secrets } from '@wix/secrets';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const WIX = 'https://www.wixapis.com';
const emulatorFetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  return fetch(url.startsWith(WIX) ? spec.url + url.slice(WIX.length) : url, init);
};

async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function planSite(site) {
  const wanted = JSON.parse(readFileSync(site.wanted, 'utf8'));
  const client = createClient({
    modules: { secrets },
    auth: ApiKeyStrategy({ apiKey: spec.apiKey, siteId: site.siteId }),
    fetch: emulatorFetch,
  });
  const listed = (await client.secrets.listSecretInfo()).secrets ?? [];
  const present = listed.filter((s) => Object.hasOwn(wanted, s.name));
  const values = await mapLimit(present, spec.concurrency, async (s) => {
    const { value } = await client.secrets.getSecretValue(s.name);
    return [s.name, value];
  });
  const remote = new Map(values);
  const listedNames = new Set(listed.map((s) => s.name));
  const plan = { create: 0, update: 0, unchanged: 0, unmanaged: listed.length - present.length };
  for (const [name, value] of Object.entries(wanted)) {
    if (!listedNames.has(name)) plan.create += 1;
    else if (remote.get(name) !== value) plan.update += 1;
    else plan.unchanged += 1;
  }
  return plan;
}

const plans = await Promise.all(spec.sites.map(planSite));
const total = { sites: plans.length, create: 0, update: 0, unchanged: 0, unmanaged: 0 };
for (const p of plans) for (const k of Object.keys(p)) total[k] += p[k];
process.stdout.write(JSON.stringify(total) + '\n');
