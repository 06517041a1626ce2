// Drives the official Wix JavaScript SDK (unchanged) against a wix-secrets emulator.
// Usage: node sdk_against_emulator.mjs http://127.0.0.1:PORT
// Every request the SDK builds for https://www.wixapis.com is rewritten to the emulator's origin:
// REST calls through createClient({fetch}), and AppStrategy's token call (which uses the global
// fetch) by patching globalThis.fetch. Prints one JSON document with what the SDK returned.
import { createClient, ApiKeyStrategy, AppStrategy } from '@wix/sdk';
import { secrets } from '@wix/secrets';

const EMULATOR = process.argv[2];
const WIX = 'https://www.wixapis.com';
if (!EMULATOR) {
  console.error('usage: node sdk_against_emulator.mjs http://127.0.0.1:PORT');
  process.exit(2);
}

const realFetch = globalThis.fetch;
const seenUrls = [];
function rewrite(input) {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  seenUrls.push(url.replace(WIX, ''));
  return url.startsWith(WIX) ? EMULATOR + url.slice(WIX.length) : url;
}
const emulatorFetch = (input, init) => realFetch(rewrite(input), init);
globalThis.fetch = emulatorFetch;

function sdkError(err) {
  return {
    status: err?.status ?? null,
    code: err?.details?.applicationError?.code ?? null,
    violations: (err?.details?.validationError?.fieldViolations ?? []).map((v) => v.field),
    requestId: err?.requestId ?? null,
    message: String(err?.message ?? err).slice(0, 300),
  };
}

async function expectError(promise) {
  try {
    await promise;
    return { ok: true };
  } catch (err) {
    return sdkError(err);
  }
}

function info(list) {
  return (list.secrets ?? []).map((s) => ({
    _id: s._id,
    name: s.name,
    description: s.description ?? null,
    created: s._createdDate instanceof Date ? s._createdDate.toISOString() : String(s._createdDate),
    updated: s._updatedDate instanceof Date ? s._updatedDate.toISOString() : String(s._updatedDate),
  }));
}

const out = {};
const apiKeyClient = createClient({
  modules: { secrets },
  auth: ApiKeyStrategy({ apiKey: 'IST.sdk-test-key', siteId: 'site-123' }),
  fetch: emulatorFetch,
});
const s = apiKeyClient.secrets;

out.emptyList = info(await s.listSecretInfo());
const id = await s.createSecret({ name: 'sdk_secret', value: 'first-value', description: 'made by the SDK' });
out.createdId = id;
out.listAfterCreate = info(await s.listSecretInfo());
out.valueAfterCreate = await s.getSecretValue('sdk_secret');
out.updateResult = (await s.updateSecret(id, { name: 'sdk_renamed', value: 'second-value' })) ?? null;
out.listAfterUpdate = info(await s.listSecretInfo());
out.valueAfterUpdate = await s.getSecretValue('sdk_renamed');
out.oldNameAfterRename = await expectError(s.getSecretValue('sdk_secret'));

const specialId = await s.createSecret({ name: 'a+b=c@d$e', value: 'special-value' });
out.specialValue = await s.getSecretValue('a+b=c@d$e');

out.duplicate = await expectError(s.createSecret({ name: 'sdk_renamed', value: 'again' }));
out.invalidName = await expectError(s.createSecret({ name: 'wix_reserved', value: 'x' }));
out.missing = await expectError(s.getSecretValue('does_not_exist'));

out.deleteResult = (await s.deleteSecret(id)) ?? null;
out.deleteSpecial = (await s.deleteSecret(specialId)) ?? null;
out.listAfterDelete = info(await s.listSecretInfo());
out.deleteAgain = await expectError(s.deleteSecret(id));

// OAuth: AppStrategy exchanges instance credentials at /oauth2/token with the global fetch.
const appClient = createClient({
  modules: { secrets },
  auth: AppStrategy({ appId: 'app-id', appSecret: 'app-secret', instanceId: 'instance-1' }),
  fetch: emulatorFetch,
});
const appId = await appClient.secrets.createSecret({ name: 'app_secret_name', value: 'from-app' });
out.appValue = await appClient.secrets.getSecretValue('app_secret_name');
out.appList = info(await appClient.secrets.listSecretInfo()).map((x) => x.name);
await appClient.secrets.deleteSecret(appId);

const wrongKeyClient = createClient({
  modules: { secrets },
  auth: ApiKeyStrategy({ apiKey: 'IST.wrong-key', siteId: 'site-123' }),
  fetch: emulatorFetch,
});
out.wrongKey = await expectError(wrongKeyClient.secrets.listSecretInfo());
out.seenUrls = seenUrls;

process.stdout.write(JSON.stringify(out, null, 2) + '\n');
